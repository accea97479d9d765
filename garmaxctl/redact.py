"""Redaction of secrets from anything garmaxctl prints or logs.

Secret values from the ``.env`` (and any value a service registers) are replaced by
``****`` in error messages, tracebacks and log records, whatever the output mode.

The root rule is structural: no log garmaxctl writes carries a request or response body
(``--verbose`` logs the wire as operation, status and sizes: ``garmaxctl.aws.wire_log``;
botocore's body-logging loggers stay off). The patterns below are defence in depth for
text that reaches a message anyway: Authorization/security-token headers, the ``Value``
of Parameter Store documents, and the credentials of STS/SSO answers.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "****"
_MIN_SECRET_LEN = 4

_lock = threading.Lock()
_secrets: set[str] = set()

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*b?['\"]?)[^'\",}]+"), r"\1" + MASK),
    (re.compile(r"(?i)(x-amz-security-token['\"]?\s*[:=]\s*b?['\"]?)[^'\",}]+"), r"\1" + MASK),
    (re.compile(r"(\"Value\"\s*:\s*\")((?:[^\"\\]|\\.)*)(\")"), r"\1" + MASK + r"\3"),
    (re.compile(r"((?:aws_)?secret_access_key['\"]?\s*[:=]\s*['\"]?)[^'\",}\s]+", re.I),
     r"\1" + MASK),
    (re.compile(r"((?:aws_)?session_token['\"]?\s*[:=]\s*['\"]?)[^'\",}\s]+", re.I),
     r"\1" + MASK),
    # STS (XML) and SSO/JSON credential answers.
    (re.compile(r"(<(SecretAccessKey|SessionToken)>)[^<]*(</\2>)"), r"\1" + MASK + r"\3"),
    (re.compile(r"((?:\\)?[\"'](?:secretAccessKey|sessionToken|accessToken|SecretAccessKey|"
                r"SessionToken)(?:\\)?[\"']\s*:\s*(?:\\)?[\"'])(?:[^\"'\\]|\\.)*"),
     r"\1" + MASK),
)


def register(*values: str | None) -> None:
    """Remember secret values so that nothing printed afterwards contains them."""
    import json

    with _lock:
        for value in values:
            if not value or len(value) < _MIN_SECRET_LEN:
                continue
            # As written, and on one line: error messages are collapsed to one line
            # (``" ".join(text.split())``) before they are redacted, so a multi-line
            # secret echoed in an AWS error would otherwise slip through.
            for plain in {value, " ".join(value.split())}:
                if len(plain) < _MIN_SECRET_LEN:
                    continue
                _secrets.add(plain)
                # Also its JSON-escaped form, as it appears in request bodies and documents,
                escaped = json.dumps(plain)[1:-1]
                # ... and as a repr shows either (a bytes body: backslashes doubled).
                _secrets.update((escaped, repr(plain)[1:-1], repr(escaped)[1:-1]))


def forget_all() -> None:
    with _lock:
        _secrets.clear()


def redact(text: str) -> str:
    if not text:
        return text
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the fully formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is logged as it is by logging itself
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (CliRunner swaps it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> object:
        import sys

        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


# botocore.endpoint and botocore.parsers log whole request and response bodies (parameter
# values, STS/SSO credentials): never turned on. The wire is logged by garmaxctl.wire.
VERBOSE_LOGGERS = ("garmaxctl", "botocore.retryhandler", "botocore.credentials")


def disable_verbose_logging() -> None:
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, _StderrHandler):
            root.removeHandler(existing)
    for name in VERBOSE_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


def enable_verbose_logging() -> None:
    """``--verbose``: garmaxctl's debug log and botocore's wire log on stderr, redacted."""
    disable_verbose_logging()
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    logging.getLogger().addHandler(handler)
    for name in VERBOSE_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
