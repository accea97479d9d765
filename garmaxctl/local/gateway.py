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


def make_server(platform: Platform, port: int) -> ThreadingHTTPServer:
    """The gateway's HTTP server, bound but not yet serving."""
    server = ThreadingHTTPServer((BIND_ADDRESS, port), handler_for(platform))
    server.daemon_threads = True
    return server


def handler_for(platform: Platform) -> type[BaseHTTPRequestHandler]:
    class GatewayHandler(BaseHTTPRequestHandler):
        server_version = "garmax-local-gateway"

        def log_message(self, format: str, *args: Any) -> None:
            log.info("gateway %s", format % args)

        def _respond(self, status: int, body: bytes | str, headers: dict[str, str]) -> None:
            payload = body.encode() if isinstance(body, str) else body
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
            try:
                self._route()
            except Exception:  # never drop the connection: answer like API Gateway does
                log.exception("gateway failed on %s %s", self.command, self.path)
                self._json(502, "bad_gateway", "the local gateway failed; see "
                                               "`garmaxctl local logs`")

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
            name = contract.function_name(function, STAGE)
            try:
                result = platform.invoke(function, event)
            except Exception:
                log.exception("%s raised", name)
                self._json(502, "bad_gateway", f"{name} failed; see `garmaxctl local logs`")
                return
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
