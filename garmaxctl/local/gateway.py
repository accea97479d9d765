"""The LOCAL API gateway: HTTP on ``http://localhost:3001`` (``GARMAX_API_PORT``).

moto's API Gateway cannot invoke Lambda, so the gateway turns each HTTP request into an
API Gateway REST proxy event and calls the Api (or StripeWebhook) handler in this
process. The caller's identity comes from the ``X-Garmax-Dev-User`` header — on LOCAL
only — where Cognito would put it (``requestContext.authorizer.claims.sub``). When the
function's reserved concurrency is 0 (idle), it answers as API Gateway answers a Lambda
proxy integration whose function is throttled: HTTP 500 ``{"message": "Internal server
error"}`` (the default 5XX gateway response; docs/local.md).
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from garmaxctl.shared import contract

if TYPE_CHECKING:
    from garmaxctl.local.platform import Platform

# API Gateway's default 5XX gateway response body.
THROTTLED_BODY = {"message": "Internal server error"}

log = logging.getLogger(__name__)

STAGE = "LOCAL"
BIND_ADDRESS = "127.0.0.1"
# LOCAL's telemetry tick on demand (not an API route: the API lives under /api/).
TICK_PATH = "/_local/telemetry/tick"


def make_server(platform: Platform, port: int) -> ThreadingHTTPServer:
    """The gateway's HTTP server, bound but not yet serving."""
    server = ThreadingHTTPServer((BIND_ADDRESS, port), handler_for(platform))
    server.daemon_threads = True
    return server


def handler_for(platform: Platform) -> type[BaseHTTPRequestHandler]:
    class GatewayHandler(BaseHTTPRequestHandler):
        server_version = "garmax-local-gateway"
        _answered: tuple[int, int] | None = None  # (status, body length) once answered
        _integration_ms: float | None = None
        _request_id = ""

        def log_message(self, format: str, *args: Any) -> None:
            log.info("gateway %s", format % args)

        def _respond(self, status: int, body: bytes | str, headers: dict[str, str]) -> None:
            payload = body.encode() if isinstance(body, str) else body
            self._answered = (status, len(payload))
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() not in ("content-length", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _json(self, status: int, code: str, message: str) -> None:
            self._respond(status, json.dumps({"code": code, "message": message}),
                          {"Content-Type": "application/json"})

        def _dispatch(self) -> None:
            received_at, started = platform.sink.clock(), time.perf_counter()
            self._answered = None
            self._integration_ms = None
            self._request_id = str(uuid.uuid4())
            if self.command == "POST" and urlsplit(self.path).path == TICK_PATH:
                self._tick()
                return
            try:
                self._route()
            except Exception:  # never drop the connection: answer like API Gateway does
                log.exception("gateway failed on %s %s", self.command, self.path)
                self._json(502, "bad_gateway", "the local gateway failed; see "
                                               "`garmaxctl local logs`")
            view = platform.view
            if view is not None and view.api_stage is not None and self._answered:
                from garmaxctl.local.access_log import ApiRequest

                status, length = self._answered
                try:
                    platform.api.record(view.api_stage, ApiRequest(
                        request_id=self._request_id, method=self.command,
                        path=urlsplit(self.path).path, status=status, response_length=length,
                        received_at=received_at,
                        latency_ms=(time.perf_counter() - started) * 1000,
                        integration_latency_ms=self._integration_ms,
                        source_ip=self.client_address[0],
                        user_agent=self.headers.get("User-Agent") or "-",
                        protocol=self.request_version))
                except Exception:  # telemetry never breaks the API
                    log.exception("could not record the API request's telemetry")

        def _tick(self) -> None:
            """LOCAL's telemetry tick on demand (tests, demos): sample and evaluate now,
            at the given ``{"at": ISO time}`` if any. Not an API route (not under /api/)."""
            import datetime as dt

            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            at = dt.datetime.fromisoformat(body["at"]) if body.get("at") else None
            result = platform.tick(at)
            self._respond(200, json.dumps(result), {"Content-Type": "application/json"})

        def _route(self) -> None:
            split = urlsplit(self.path)
            if platform.view is None:
                self._json(503, "stack_not_ready",
                           "the LOCAL stack is not deployed yet: wait for `garmaxctl local up`")
                return
            is_webhook = self.command == "POST" and split.path == contract.STRIPE_WEBHOOK_PATH
            function = contract.Function.STRIPE_WEBHOOK if is_webhook else contract.Function.API
            if not split.path.startswith("/api/"):
                self._json(404, "route_not_found", f"no route {self.command} {split.path}")
                return
            if not platform.function_enabled(function):
                # As API Gateway answers a Lambda proxy integration whose function is
                # throttled (reserved concurrency 0): its default 5XX response, not a 429.
                log.info("%s is throttled (reserved concurrency 0): HTTP 500 for %s %s",
                         contract.function_name(function, STAGE), self.command, split.path)
                platform.throttled(function)
                self._respond(500, json.dumps(THROTTLED_BODY),
                              {"Content-Type": "application/json"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items()}
            user = None
            for key, value in headers.items():
                if key.lower() == contract.DEV_USER_HEADER.lower():
                    user = value
            event = api_event(self.command, self.path, raw, headers, user)
            self._request_id = event["requestContext"]["requestId"]
            name = contract.function_name(function, STAGE)
            integration_started = time.perf_counter()
            try:
                result = platform.invoke(function, event)
            except Exception:
                log.exception("%s raised", name)
                self._integration_ms = (time.perf_counter() - integration_started) * 1000
                self._json(502, "bad_gateway", f"{name} failed; see `garmaxctl local logs`")
                return
            self._integration_ms = (time.perf_counter() - integration_started) * 1000
            body = result.get("body") or ""
            payload = base64.b64decode(body) if result.get("isBase64Encoded") else body
            response_headers = dict(result.get("headers") or {})
            for key, values in (result.get("multiValueHeaders") or {}).items():
                response_headers[key] = ", ".join(values)
            self._respond(int(result.get("statusCode", 200)), payload, response_headers)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

    return GatewayHandler


def api_event(method: str, raw_path: str, body: bytes, headers: dict[str, str],
              user: str | None) -> dict[str, Any]:
    """An HTTP request as API Gateway's REST proxy integration hands it to Lambda."""
    from runtime.testing import api_gateway_event

    try:
        text: str | None = body.decode() if body else None
        binary = False
    except UnicodeDecodeError:
        text, binary = base64.b64encode(body).decode(), True
    headers = {k: v for k, v in headers.items() if k.lower() != contract.DEV_USER_HEADER.lower()}
    event = api_gateway_event(method, raw_path, body=text, user=user, headers=headers,
                              stage=contract.api_stage_name(STAGE))
    if binary:
        event["isBase64Encoded"] = True
    return event
