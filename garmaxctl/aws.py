"""One boto3 session per run, and the clients made from it.

LOCAL resolves to the embedded emulator with test credentials (never a developer's real
profile). Real stages use the normal credential chain (``--profile``, ``AWS_PROFILE``,
environment keys, SSO, instance roles) and ignore an ``AWS_ENDPOINT_URL`` from the
environment, with a warning, unless ``--endpoint-url`` retargets them on purpose.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from garmaxctl import permissions, redact, run
from garmaxctl.shared.errors import AccountMismatchError, AwsError, CredentialsError, GarmaxError
from garmaxctl.shared.stages import StageConfig

LOCAL_ACCESS_KEY = "testing"
LOCAL_SECRET_KEY = "testing"
DEFAULT_LOCAL_PORT = 4566
MAX_ATTEMPTS = 10

# ``--verbose``'s wire log: one line per request and per response — the operation, the
# method and URL without its query, the status, sizes and the request id. Never a body
# nor a header: bodies carry parameter values and STS/SSO credentials, so botocore's own
# body-logging loggers (botocore.endpoint, botocore.parsers) stay off (docs/security.md).
wire_log = logging.getLogger("garmaxctl.wire")


def _log_request(request: Any, event_name: str = "", **_: Any) -> None:
    if not wire_log.isEnabledFor(logging.DEBUG):
        return
    from urllib.parse import urlsplit

    url = urlsplit(str(request.url))
    body = request.body
    size = len(body) if isinstance(body, (bytes, bytearray, str)) else (
        0 if body is None else "streamed")
    wire_log.debug("request %s %s %s://%s%s (%s bytes)", event_name.split(".", 1)[-1],
                   request.method, url.scheme, url.netloc, url.path, size)


def _log_response(http_response: Any = None, parsed: Any = None, event_name: str = "",
                  **_: Any) -> None:
    if not wire_log.isEnabledFor(logging.DEBUG) or http_response is None:
        return
    metadata = (parsed or {}).get("ResponseMetadata", {}) if isinstance(parsed, dict) else {}
    error = (parsed or {}).get("Error", {}).get("Code") if isinstance(parsed, dict) else None
    wire_log.debug("response %s HTTP %s (%s bytes, request id %s)%s",
                   event_name.split(".", 1)[-1], http_response.status_code,
                   http_response.headers.get("content-length", "?"),
                   metadata.get("RequestId", "-"), f" {error}" if error else "")


def log_the_wire(session: Any) -> Any:
    """Register the wire log's hooks on a boto3 session (clients made afterwards)."""
    session.events.register("before-send", _log_request)
    session.events.register("after-call", _log_response)
    return session


# The test suite's call recorder (docs/iam/README.md, "Proven"): with this variable set to
# a file, every AWS call a command makes is appended to it as one JSON line
# ``{"command", "service", "operation"}`` (names only: never a parameter). Off unless set;
# only the tests set it, so the recorded calls can be checked against the registry's
# permissions (tests/iam/). It writes to that file and nowhere else.
RECORD_CALLS_ENV = "GARMAX_RECORD_CALLS"


def record_calls(session: Any, command: str) -> Any:
    """Register the call recorder on a session when ``GARMAX_RECORD_CALLS`` names a file."""
    path = os.environ.get(RECORD_CALLS_ENV)
    if path:
        import functools

        # before-parameter-build: every handler of it runs (a before-call handler that
        # answers instead of AWS, as tests' fakes do, would stop the ones after it).
        session.events.register_first("before-parameter-build",
                                      functools.partial(_record_call, path, command))
    return session


def _record_call(path: str, command: str, model: Any = None, **_: Any) -> None:
    if model is None:
        return
    import json

    line = json.dumps({"command": command, "service": model.service_model.signing_name,
                       "prefix": model.service_model.endpoint_prefix,
                       "operation": model.name})
    with open(path, "a", encoding="utf-8") as file:  # one short append: atomic enough
        file.write(line + "\n")


def local_port() -> int:
    return int(os.environ.get("GARMAX_LOCAL_PORT", DEFAULT_LOCAL_PORT))


def local_endpoint(port: int | None = None) -> str:
    # moto resolves a change set's S3 template URL only for ``localhost`` URLs.
    return f"http://localhost:{port or local_port()}"


def client_config(**overrides: Any) -> Any:
    from botocore.config import Config

    settings: dict[str, Any] = {
        "retries": {"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
        # garmaxctl/<version> cmd/<name> run/<id>: CloudTrail joins the call to the run's
        # audit record (docs/security.md, "Audit trail").
        "user_agent_extra": run.user_agent(),
        "connect_timeout": 5,
        "read_timeout": 60,
    }
    settings.update(overrides)
    return Config(**settings)


@dataclass
class AwsTarget:
    """Where a run's AWS calls go. Built once per run from the global options."""

    stage: StageConfig
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    command: str = ""  # the command path this run serves ("params push"); "" outside one
    warnings: list[str] = field(default_factory=list)
    # The caller's identity once a call of this run asked for it (the audit record's ARN).
    identity: dict[str, str] | None = field(default=None, repr=False)
    _session: Any = field(default=None, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.region = self.region or self.stage.region
        if self.stage.is_local:
            self.endpoint_url = self.endpoint_url or local_endpoint()
            self.profile = None
        else:
            self.profile = self.profile or self.stage.profile
            env_endpoint = os.environ.get("AWS_ENDPOINT_URL")
            if env_endpoint and not self.endpoint_url:
                self.warnings.append(
                    f"AWS_ENDPOINT_URL={env_endpoint} is ignored for stage {self.stage.stage}; "
                    "pass --endpoint-url to retarget a real stage on purpose"
                )

    @property
    def is_local(self) -> bool:
        return self.stage.is_local

    @property
    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                self._session = self._make_session()
            return self._session

    def _make_session(self) -> Any:
        import boto3
        import botocore.exceptions

        if self.is_local:
            import botocore.session

            # A developer's AWS_PROFILE must neither leak into LOCAL nor break it.
            core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
            return self._hooked(boto3.Session(aws_access_key_id=LOCAL_ACCESS_KEY,
                                              aws_secret_access_key=LOCAL_SECRET_KEY,
                                              region_name=self.region, botocore_session=core))
        try:
            return self._hooked(boto3.Session(profile_name=self.profile,
                                              region_name=self.region))
        except botocore.exceptions.ProfileNotFound as exc:
            raise CredentialsError(
                f"AWS profile {self.profile!r} is not configured",
                hint="run `aws configure --profile NAME` or `aws sso login`, or pass --profile",
            ) from exc

    def _hooked(self, session: Any) -> Any:
        session.events.register("after-call", _note_denied_action)
        return log_the_wire(record_calls(session, self.command))

    def client(self, service: str, **config: Any) -> Any:
        """A cached client with adaptive retries and garmaxctl's user agent."""
        key = service if not config else f"{service}:{sorted(config.items())}"
        session = self.session
        with self._lock:
            if key not in self._clients:
                kwargs: dict[str, Any] = {"region_name": self.region}
                if self.endpoint_url:
                    kwargs["endpoint_url"] = self.endpoint_url
                cfg = client_config(**config)
                if not self.endpoint_url:
                    # Real stages: an endpoint from the environment or config file never
                    # silently redirects PROD calls.
                    cfg = cfg.merge(client_config(ignore_configured_endpoint_urls=True))
                self._clients[key] = session.client(service, config=cfg, **kwargs)
            return self._clients[key]

    def caller_identity(self) -> dict[str, str]:
        identity = self.client("sts").get_caller_identity()
        self.identity = {"account": identity["Account"], "arn": identity["Arn"],
                         "user_id": identity["UserId"]}
        return dict(self.identity)

    def check_account(self) -> dict[str, str]:
        """Refuse credentials for another account than the stage's (exit 1)."""
        identity = self.caller_identity()
        expected = self.stage.account
        if expected and identity["account"] != expected:
            raise AccountMismatchError(
                f"stage {self.stage.stage} is account {expected}, but the credentials are for "
                f"account {identity['account']} ({identity['arn']})",
                hint=f"use --profile for account {expected}, or set "
                     f"GARMAX_{self.stage.stage}_ACCOUNT if the stage moved",
            )
        return identity

    def subprocess_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for a subprocess (the CDK CLI, the aws CLI) aimed at the same target."""
        env = dict(os.environ if base is None else base)
        if not self.is_local:
            # As for our own clients: an inherited endpoint never redirects a real stage.
            for name in [k for k in env if k.startswith("AWS_ENDPOINT_URL")]:
                del env[name]
        env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = str(self.region)
        # The AWS SDK for JavaScript (the CDK CLI) adds ``app/<this>`` to its user agent.
        env["AWS_SDK_UA_APP_ID"] = run.app_id()
        if self.is_local:
            env.pop("AWS_PROFILE", None)
            env.pop("AWS_SESSION_TOKEN", None)
            env.update(AWS_ACCESS_KEY_ID=LOCAL_ACCESS_KEY, AWS_SECRET_ACCESS_KEY=LOCAL_SECRET_KEY,
                       AWS_ENDPOINT_URL=str(self.endpoint_url))
        else:
            if self.profile:
                env["AWS_PROFILE"] = self.profile
            if self.endpoint_url:
                env["AWS_ENDPOINT_URL"] = self.endpoint_url
        return env


_ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                  "AuthorizationError", "UnauthorizedException"}
_THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException",
              "RequestLimitExceeded", "ThrottledException", "SlowDown",
              "ProvisionedThroughputExceededException", "RequestThrottled"}
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
_INVALID_CREDS = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
                  "InvalidAccessKeyId", "AuthFailure"}


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (``ParameterNotFound``...), or None."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str((response.get("Error") or {}).get("Code") or "") or None
    return None


@dataclass(frozen=True)
class AwsProblem:
    """A failed AWS call in one line: the error code, the message and the operation."""

    code: str  # AWS's error code (``ParameterNotFound``), else the exception's class name
    message: str  # one line, secrets redacted, at most 300 characters
    operation: str | None = None

    def line(self) -> str:
        """``Operation: Code: message`` (what a report row shows)."""
        parts = [p for p in (self.operation, self.code, self.message) if p]
        return ": ".join(parts)


def describe_error(exc: BaseException) -> AwsProblem:
    """The one formatter of AWS errors: every service reports a failed call through it."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        error = response.get("Error") or {}
        code = str(error.get("Code") or type(exc).__name__)
        message = str(error.get("Message") or "")
        operation = getattr(exc, "operation_name", None)
    else:
        code, message, operation = type(exc).__name__, str(exc), None
    return AwsProblem(code=code, message=redact.redact(" ".join(message.split()))[:300],
                      operation=operation)


def translate_error(exc: BaseException, stage: str) -> GarmaxError:
    """A botocore exception as a one-line GarmaxError that says what to do."""
    name = type(exc).__name__
    login_hint = ("run `aws sso login` (or `aws configure`), or pass --profile"
                  if stage != "LOCAL" else "LOCAL needs no credentials: check --endpoint-url")
    if name in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"):
        return CredentialsError(f"no AWS credentials found for stage {stage}", hint=login_hint)
    if name in ("TokenRetrievalError", "SSOTokenLoadError", "UnauthorizedSSOTokenError"):
        return CredentialsError(f"the AWS SSO session for stage {stage} has expired",
                                code="expired_credentials", hint="run `aws sso login`")
    if name == "ProfileNotFound":
        return CredentialsError(str(exc), hint="check --profile / AWS_PROFILE")
    if name == "NoRegionError":
        return CredentialsError("no AWS region configured", code="no_region",
                                hint="pass --region or set AWS_REGION")
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        endpoint = getattr(exc, "kwargs", {}).get("endpoint_url", "the AWS endpoint")
        if stage == "LOCAL":
            from garmaxctl.shared.errors import EmulatorNotRunningError

            return EmulatorNotRunningError(
                f"the local AWS emulator is not answering at {endpoint}",
                hint="start it with `garmaxctl local up --detach`")
        return AwsError(f"cannot reach {endpoint}", code="endpoint_unreachable",
                        hint="check the network, --region and --endpoint-url")
    if name in ("ReadTimeoutError",):
        return AwsError("AWS did not answer in time", code="timeout", hint="retry the command")
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {}) or {}
        code = str(error.get("Code", "Unknown"))
        message = redact.redact(" ".join(str(error.get("Message", "")).split()))[:200]
        operation = getattr(exc, "operation_name", "the call")
        if code in _ACCESS_DENIED:
            denial = access_denied(exc)
            assert denial is not None
            return AwsError(denial.what(), code="access_denied", hint=denial.fix())
        if code in _THROTTLED:
            return AwsError(f"AWS throttled {operation} after {MAX_ATTEMPTS} attempts",
                            code="throttled", hint="wait a minute and run the command again")
        if code in _EXPIRED:
            return CredentialsError(f"the AWS credentials for stage {stage} have expired",
                                    code="expired_credentials", hint=login_hint)
        if code in _INVALID_CREDS:
            return CredentialsError(f"AWS rejected the credentials for stage {stage} ({code})",
                                    code="invalid_credentials", hint=login_hint)
        return AwsError(f"AWS error {code} in {operation}: {message}", code="aws_error")
    return AwsError(f"AWS client error: {name}: "
                    f"{redact.redact(' '.join(str(exc).split()))[:200]}")


# --------------------------------------------------------------------------- access denied
# AWS names the denied action in its message: "User: arn:aws:iam::123:user/x is not
# authorized to perform: ssm:PutParameter on resource: arn:aws:ssm:…:parameter/… because
# no identity-based policy allows the ssm:PutParameter action" (IAM User Guide,
# "Troubleshoot access denied error messages"). Where it does not (S3's "Access Denied"),
# the action is the failed call's, mapped as IAM names it (``permissions.iam_action``),
# noted on the error response by an after-call hook on every session.
DENIED_ACTION_KEY = "GarmaxIamAction"
_DENIED_ACTION = re.compile(r"not authorized to perform:?\s+([A-Za-z0-9-]+:[A-Za-z0-9*]+)")
_DENIED_RESOURCE = re.compile(r"\bon resource:?\s+(\S+?)(?:\s+because\b|\s+with\b|\s*$)")
_DENIED_PRINCIPAL = re.compile(r"\bUser:?\s+(arn:\S+)")


def _note_denied_action(http_response: Any = None, parsed: Any = None, model: Any = None,
                        **_: Any) -> None:
    if http_response is None or model is None or not isinstance(parsed, dict) or \
            http_response.status_code < 300:
        return
    if str((parsed.get("Error") or {}).get("Code")) in _ACCESS_DENIED:
        parsed[DENIED_ACTION_KEY] = permissions.iam_action(model.service_model.signing_name,
                                                           model.name)


@dataclass(frozen=True)
class Denial:
    """An AccessDenied answer: which action on what was refused to whom, for which command."""

    action: str | None
    resource: str | None
    principal: str | None
    command: str
    operation: str | None = None  # the refused call, for an answer naming no action
    message: str = ""  # AWS's own words, for an answer naming no action

    def what(self) -> str:
        if self.action is None:  # neither AWS's message nor the call names the action
            said = f" ({self.message})" if self.message else ""
            return f"AccessDenied: {self.operation or 'the call'} is not allowed{said}"
        text = f"AccessDenied: {self.action}"
        if self.resource:
            text += f" on {self.resource}"
        text += " is not allowed"
        return text + (f" for {self.principal}" if self.principal else "")

    def fix(self) -> str:
        """The policy to attach (docs/iam/), from the registry's roles."""
        return permissions.policy_hint(self.command)

    def line(self) -> str:
        return f"{self.what()}; {self.fix()}"


def access_denied(exc: BaseException, command: str | None = None) -> Denial | None:
    """The denial an AWS error carries (None: not an access denied error). ``command``:
    the command whose policy to name (default: this run's)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    error = response.get("Error") or {}
    if str(error.get("Code")) not in _ACCESS_DENIED:
        return None
    message = " ".join(str(error.get("Message") or "").split())
    action = _DENIED_ACTION.search(message)
    resource = _DENIED_RESOURCE.search(message) if action else None
    principal = _DENIED_PRINCIPAL.search(message)
    return Denial(action=action.group(1) if action else response.get(DENIED_ACTION_KEY),
                  resource=redact.redact(resource.group(1)) if resource else None,
                  principal=principal.group(1) if principal else None,
                  command=run.current().command if command is None else command,
                  operation=getattr(exc, "operation_name", None),
                  message=redact.redact(message)[:200])
