"""No secret in any log line or response; no secret expected from an environment variable.

Canary values sit in Parameter Store (``rt_helpers.CANARIES``); every handler runs its
success and error paths while all log output is captured: the Powertools logger's own
records (formatted as Powertools formats them), the EMF metrics printed on stdout, and
every other logger at INFO. Not one canary may appear.
"""

from __future__ import annotations

import ast
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rt_helpers import CANARIES, Scripted, call_api, drain, load_event, ready_session, sign

from garmaxctl.shared import contract
from runtime.config import ENV_VARS_READ

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "runtime"
SECRET_NAME = re.compile(r"SECRET|PASSWORD|API_KEY|TOKEN|PRIVATE|CREDENTIAL", re.IGNORECASE)


class Collect(logging.Handler):
    def __init__(self, formatter: logging.Formatter | None) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        if formatter:
            self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class Captured:
    def __init__(self, collect: Collect, caplog: pytest.LogCaptureFixture,
                 capsys: pytest.CaptureFixture[str]) -> None:
        self.collect, self.caplog, self.capsys = collect, caplog, capsys
        self.streams: list[str] = []

    def text(self) -> str:
        out = self.capsys.readouterr()
        self.streams += [out.out, out.err]
        return "\n".join([*self.collect.lines, *(r.getMessage() for r in self.caplog.records),
                          *self.streams])


@pytest.fixture
def all_logs(monkeypatch, caplog, capsys) -> Iterator[Captured]:
    from runtime.observability import logger

    logger.setLevel("DEBUG")
    std = logging.getLogger(logger.name)
    collect = Collect(logger.registered_formatter)
    std.addHandler(collect)
    caplog.set_level(logging.INFO)
    yield Captured(collect, caplog, capsys)
    std.removeHandler(collect)
    logger.setLevel("INFO")


def assert_no_canary(text: str) -> None:
    for path, value in CANARIES.items():
        assert value not in text, f"secret {path} leaked"


def test_no_secret_in_any_log_line_across_every_handler(stack, all_logs, monkeypatch):
    from runtime.handlers import (
        billing_processor,
        render_processor,
        stripe_webhook,
    )
    from runtime.testing import LambdaContext, api_gateway_event

    responses: list[str] = []
    secret = CANARIES["stripe/webhook-secret"]

    # StripeWebhook: good, bad signature, missing header, unknown type.
    payload = json.dumps(load_event("stripe_checkout_payment.json"))
    unknown = json.dumps(load_event("stripe_unknown_type.json"))
    for body, signature in ((payload, sign(payload, secret)), (payload, "t=1,v1=00"),
                            (payload, None), (unknown, sign(unknown, secret))):
        headers = {"Stripe-Signature": signature} if signature else {}
        event = api_gateway_event("POST", contract.STRIPE_WEBHOOK_PATH, body=body,
                                  headers=headers)
        responses.append(json.dumps(stripe_webhook.lambda_handler(event, LambdaContext())))

    # BillingProcessor: the queued event, and a poison message.
    drain(stack, "Billing", billing_processor.lambda_handler)
    from runtime.testing import sqs_event

    billing_processor.lambda_handler(sqs_event("{poison"), LambdaContext())

    # API + TryonProcessor + render submission, including refusals.
    session_id = ready_session(stack)
    for method, path, body in (("POST", "/api/render", {"sessionId": session_id,
                                                         "quality": "hd"}),
                               ("POST", "/api/render", "{bad"),
                               ("GET", "/api/health/storage", None),
                               ("GET", "/api/health", None)):
        responses.append(json.dumps(call_api(method, path, body)))

    # AiRenderProcessor with the real registry (keys from Parameter Store): Replicate
    # answers 503 (transient, logged), Gemini 401 (permanent, logged).
    server = Scripted()
    server.thread.start()
    try:
        server.add(503, {"detail": "busy"})
        server.add(401, {"error": "bad key"})
        from runtime.providers import registry

        real_replicate, real_gemini = registry.ReplicateProvider, registry.GeminiProvider
        monkeypatch.setattr(registry, "ReplicateProvider",
                            lambda key: real_replicate(key, base_url=server.url))
        monkeypatch.setattr(registry, "GeminiProvider",
                            lambda key, endpoint: real_gemini(key, endpoint=server.url))
        monkeypatch.setenv("RENDER_PROVIDER", "replicate")
        assert drain(stack, "Render", render_processor.lambda_handler) == []
        sent_keys = [r["headers"].get("Authorization") or r["headers"].get("X-Goog-Api-Key")
                     for r in server.requests]
        assert sent_keys == [f"Bearer {CANARIES['replicate/api-key']}",
                             CANARIES["gemini/api-key"]]  # the keys were really used
    finally:
        server.server.shutdown()
        server.server.server_close()

    text = all_logs.text() + "\n".join(responses)
    assert "provider failed transiently" in text and "webhook refused" in text  # captured
    assert_no_canary(text)


def test_log_capture_would_catch_a_leak(all_logs):
    """The capture is not blind: a secret logged through the runtime logger is seen."""
    from runtime.observability import logger

    logger.debug("oops", extra={"value": CANARIES["replicate/api-key"]})
    with pytest.raises(AssertionError, match="replicate/api-key"):
        assert_no_canary(all_logs.text())


def test_runtime_reads_no_secret_from_the_environment():
    assert not set(ENV_VARS_READ) & contract.SECRET_ENV_KEYS
    assert [n for n in ENV_VARS_READ if SECRET_NAME.search(n)] == []


def _literal_env_reads(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = ast.unparse(node.func)
            if func in ("os.getenv", "os.environ.get", "environ.get"):
                names.add(str(node.args[0].value))
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ" \
                and isinstance(node.slice, ast.Constant):
            names.add(str(node.slice.value))
    return names


def test_every_environment_variable_the_runtime_code_reads_is_declared_and_not_secret():
    reads: set[str] = set()
    for path in RUNTIME_DIR.rglob("*.py"):
        reads |= _literal_env_reads(ast.parse(path.read_text()))
    powertools = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
    assert reads <= set(ENV_VARS_READ) | powertools
    assert not {n for n in reads if SECRET_NAME.search(n)}


def test_stack_environment_is_names_only_and_handlers_need_nothing_else(stack):
    assert set(stack.env) <= set(ENV_VARS_READ)
    for value in stack.env.values():
        assert_no_canary(value)


def test_secrets_in_environment_variables_are_ignored(stack, monkeypatch):
    """A secret placed in the environment (by mistake) is not what the webhook uses."""
    from runtime.handlers import stripe_webhook
    from runtime.testing import LambdaContext, api_gateway_event

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_from_environment")
    payload = json.dumps(load_event("stripe_checkout_payment.json"))

    def post(secret: str) -> int:
        event = api_gateway_event("POST", contract.STRIPE_WEBHOOK_PATH, body=payload,
                                  headers={"Stripe-Signature": sign(payload, secret)})
        return stripe_webhook.lambda_handler(event, LambdaContext())["statusCode"]

    assert post("whsec_from_environment") == 400
    assert post(CANARIES["stripe/webhook-secret"]) == 200
