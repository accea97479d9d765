"""Helpers for the runtime tests: call handlers the way API Gateway and SQS would."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from garmaxctl.shared import contract
from runtime.testing import LambdaContext, api_gateway_event

EVENTS_DIR = Path(__file__).parent / "events"
STAGE = "LOCAL"
PREFIX = contract.params_prefix(STAGE)

# Canary secrets: any of these in a log line, an environment variable or a response is a leak.
CANARIES: dict[str, str] = {
    "stripe/webhook-secret": "whsec_CANARY_webhook_7f3a9c",
    "stripe/secret-key": "sk_test_CANARY_stripe_51c0de",
    "replicate/api-key": "r8_CANARY_replicate_92bd11",
    "gemini/api-key": "AIza_CANARY_gemini_40e7aa",
    "gemini/service-account-json": '{"private_key": "CANARY_gemini_sa_5b2f"}',
    "security/internal-api-key": "CANARY_internal_e19d",
    "security/jwt-secret": "CANARY_jwt_0a7c",
}
PRICES = {
    "stripe/price-basic-monthly": "price_basic_test",
    "stripe/price-pro-monthly": "price_pro_test",
    "stripe/price-unlimited-monthly": "price_unlimited_test",
    "stripe/price-starter-monthly": "price_starter_test",
}


def load_event(name: str) -> Any:
    return json.loads((EVENTS_DIR / name).read_text())

USER = "user-0001"
OTHER_USER = "user-0002"


def call_api(method: str, path: str, body: Any = None, user: str | None = USER,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
    from runtime.handlers import api

    response = api.lambda_handler(api_gateway_event(method, path, body=body, user=user,
                                                    headers=headers),
                                  LambdaContext(function_name="GarmaxAi-Api-LOCAL"))
    text = response.get("body")
    return response["statusCode"], json.loads(text) if text else None


def drain(stack: Any, queue: str, handler: Any) -> list[dict[str, Any]]:
    """What the local worker does: deliver the queue's messages, delete the successes.

    Returns the batchItemFailures of each batch.
    """
    failures: list[dict[str, Any]] = []
    records = stack.as_records(queue)
    if not records:
        return failures
    result = handler({"Records": records}, LambdaContext(function_name=f"GarmaxAi-{queue}"))
    failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
    failures.extend(result.get("batchItemFailures", []))
    for record in records:
        if record["messageId"] not in failed:
            stack.sqs.delete_message(QueueUrl=stack.queues[queue],
                                     ReceiptHandle=record["receiptHandle"])
    return failures


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header value, computed as Stripe does."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def create_session(stack: Any, user: str = USER, **body: Any) -> str:
    payload = {"avatarUrl": "https://example.com/a.png",
               "garmentUrl": "https://example.com/g.png", "quality": "hd", **body}
    status, answer = call_api("POST", "/api/tryon/sessions", payload, user=user)
    assert status == 201, answer
    return answer["sessionId"]


def ready_session(stack: Any, user: str = USER) -> str:
    """A session moved to preview_ready by the real try-on processor."""
    from runtime.handlers import tryon_processor

    session_id = create_session(stack, user)
    assert drain(stack, "Tryon", tryon_processor.lambda_handler) == []
    return session_id


class Scripted:
    """A local HTTP server answering from a script: ``(status, body, headers, delay_s)``."""

    def __init__(self) -> None:
        self.script: list[tuple[int, bytes, dict[str, str], float]] = []
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.requests.append({"method": self.command, "path": self.path,
                                       "headers": dict(self.headers.items()),
                                       "body": self.rfile.read(length) if length else b""})
                status, body, headers, delay = outer.script.pop(0)
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)

    def add(self, status: int, body: object = b"", headers: dict | None = None,
            delay: float = 0.0) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.script.append((status, raw, headers or {}, delay))
