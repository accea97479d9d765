"""The LOCAL platform around the emulator: the API gateway and the SQS workers.

moto's API Gateway cannot invoke Lambda, and moto runs no Lambda code without Docker, so
on LOCAL garmaxctl does what AWS would do, in its emulator process, with the very handlers
the stack deploys (``contract.HANDLERS``):

- the **gateway** on ``http://localhost:3001`` (``GARMAX_API_PORT``) turns each HTTP
  request into an API Gateway REST proxy event and calls the Api (or StripeWebhook)
  handler. The caller's identity comes from the ``X-Garmax-Dev-User`` header — on LOCAL
  only — where Cognito would put it (``requestContext.authorizer.claims.sub``). When the
  function's reserved concurrency is 0 (idle), it answers 429 as a throttled API would;
- one **worker** per queue receives messages and calls the consuming processor with an
  SQS event, deleting what the handler did not report in ``batchItemFailures`` — only
  while the function's event source mapping is enabled and its reserved concurrency is not
  0, so that idle pauses them exactly as it pauses Lambda.

The handlers read their configuration from the deployed functions' own environment
variables (``GetFunctionConfiguration``), so LOCAL runs what the stack declares. The
platform follows the stack: it starts once ``GarmaxAiStack-LOCAL`` is deployed and
reloads when it is redeployed (``local reset``).
"""

from __future__ import annotations

import base64
import functools
import importlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from garmaxctl import contract

log = logging.getLogger(__name__)

DEV_USER_HEADER = "X-Garmax-Dev-User"
STAGE = "LOCAL"
POLL_S = 1.0
READY_STATUSES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}


def load_handler(function: contract.Function) -> Callable[[dict, Any], Any]:
    module_name, _, attribute = contract.HANDLERS[function].rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


@dataclass
class StackView:
    """What the platform needs from the deployed LOCAL stack."""

    stack_id: str
    outputs: dict[str, str]
    environment: dict[str, str]  # union of the functions' environment variables


class Platform:
    """Gateway + workers, following the deployed stack on the emulator at ``endpoint``."""

    def __init__(self, endpoint: str, api_port: int, *, region: str = "us-east-1") -> None:
        self.endpoint = endpoint
        self.api_port = api_port
        self.region = region
        self.view: StackView | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._server: ThreadingHTTPServer | None = None
        self._clients: dict[str, Any] = {}
        self.processed: dict[str, int] = {}
        # One invocation at a time per function, as in one Lambda execution environment:
        # Powertools keeps the current event in process-wide state (the resolver's
        # ``current_event``, the batch processor), which concurrent calls would share.
        self._invoke_locks = {function: threading.Lock() for function in contract.Function}

    def invoke(self, function: contract.Function, event: dict[str, Any]) -> Any:
        """Call the function's handler as Lambda would, one invocation at a time."""
        from runtime.testing import LambdaContext

        handler = load_handler(function)
        name = contract.function_name(function, STAGE)
        with self._invoke_locks[function]:
            return handler(event, LambdaContext(function_name=name))

    # ------------------------------------------------------------------ AWS plumbing

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                import boto3

                from garmaxctl.aws import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, client_config

                self._clients[service] = boto3.client(  # type: ignore[call-overload]
                    service, endpoint_url=self.endpoint, region_name=self.region,
                    aws_access_key_id=LOCAL_ACCESS_KEY, aws_secret_access_key=LOCAL_SECRET_KEY,
                    config=client_config(retries={"mode": "standard", "max_attempts": 3}))
            return self._clients[service]

    def read_stack(self) -> StackView | None:
        cloudformation = self.client("cloudformation")
        try:
            stack = cloudformation.describe_stacks(
                StackName=contract.stack_name(STAGE))["Stacks"][0]
        except Exception:
            return None
        if stack["StackStatus"] not in READY_STATUSES:
            return None
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        environment: dict[str, str] = {}
        lambda_client = self.client("lambda")
        for function in contract.Function:
            name = contract.function_name(function, STAGE)
            config = lambda_client.get_function_configuration(FunctionName=name)
            environment.update(config.get("Environment", {}).get("Variables", {}))
        stamp = stack["StackId"] + str(stack.get("LastUpdatedTime", stack["CreationTime"]))
        return StackView(stack_id=stamp, outputs=outputs, environment=environment)

    def apply_environment(self, view: StackView) -> None:
        """The handlers read names at call time from os.environ: give them the stack's."""
        from garmaxctl.aws import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY

        os.environ.update(view.environment)
        os.environ.update({
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "POWERTOOLS_TRACE_DISABLED": "1",
        })
        os.environ.pop("AWS_PROFILE", None)

    def function_enabled(self, function: contract.Function) -> bool:
        """False while the function's reserved concurrency is 0 (throttled, as on AWS)."""
        name = contract.function_name(function, STAGE)
        concurrency = self.client("lambda").get_function_concurrency(FunctionName=name)
        return concurrency.get("ReservedConcurrentExecutions") != 0

    def mapping_enabled(self, function: contract.Function, queue_arn: str) -> bool:
        name = contract.function_name(function, STAGE)
        mappings = self.client("lambda").list_event_source_mappings(
            FunctionName=name, EventSourceArn=queue_arn)["EventSourceMappings"]
        return any(m.get("State") in ("Enabled", "Enabling", "Updating") for m in mappings)

    def pause_reason(self, function: contract.Function, queue_arn: str) -> str | None:
        """Why the consumer of ``queue_arn`` is paused (as Lambda would be), or None."""
        if not self.mapping_enabled(function, queue_arn):
            return "its event source mapping is disabled"
        if not self.function_enabled(function):
            return "its reserved concurrency is 0"
        return None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.api_port), _handler_for(self))
        self._server.daemon_threads = True
        self._spawn("gateway", self._server.serve_forever)
        self._spawn("stack-watch", self._watch_stack)
        for queue in contract.Queue:
            self._spawn(f"worker-{queue}", functools.partial(self._work, queue))

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stop.is_set():
            if self.view is not None:
                return True
            time.sleep(0.2)
        return self.view is not None

    def _watch_stack(self) -> None:
        while not self._stop.is_set():
            try:
                view = self.read_stack()
                current = self.view
                if view is None and current is not None:
                    log.info("stack %s is gone or updating: gateway paused",
                             contract.stack_name(STAGE))
                    self.view = None
                elif view is not None and (current is None or view.stack_id != current.stack_id):
                    self.apply_environment(view)
                    for function in contract.Function:  # import once, before any request
                        load_handler(function)
                    self.view = view
                    log.info("platform serving %s on http://localhost:%s",
                             contract.stack_name(STAGE), self.api_port)
                self.error = None
            except Exception as exc:  # keep watching; report in status
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("stack watch failed: %s", self.error)
            self._stop.wait(2.0)

    # ------------------------------------------------------------------ workers

    def _work(self, queue: contract.Queue) -> None:
        function = contract.CONSUMERS[queue]
        name = contract.function_name(function, STAGE)
        paused: str | None = ""  # "" = not known yet; logged on every change only
        while not self._stop.is_set():
            view = self.view
            if view is None:
                self._stop.wait(POLL_S)
                continue
            queue_url = view.outputs.get(contract.QUEUE_OUTPUTS[queue][0])
            if not queue_url:
                self._stop.wait(POLL_S)
                continue
            try:
                sqs = self.client("sqs")
                arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
                    "Attributes"]["QueueArn"]
                reason = self.pause_reason(function, arn)
                if reason != paused:
                    log.info("%s consumer %s", name,
                             f"paused: {reason}" if reason else "consuming")
                    paused = reason
                if reason:
                    self._stop.wait(POLL_S)  # paused, as idle pauses Lambda: messages stay
                    continue
                received = sqs.receive_message(
                    QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                    AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
                if not received:
                    continue
                self._deliver(queue, function, sqs, queue_url, arn, received)
            except Exception as exc:
                log.warning("worker %s: %s: %s", queue, type(exc).__name__, exc)
                self._stop.wait(POLL_S)

    def _deliver(self, queue: contract.Queue, function: contract.Function, sqs: Any,
                 queue_url: str, arn: str, messages: list[dict[str, Any]]) -> None:
        records = [_sqs_record(m, arn, self.region) for m in messages]
        name = contract.function_name(function, STAGE)
        try:
            result = self.invoke(function, {"Records": records}) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            log.exception("%s raised: the whole batch returns to the queue", name)
            return  # like Lambda: the messages become visible again and are retried
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start:start + 10])])
        self.processed[str(queue)] = self.processed.get(str(queue), 0) + len(done)
        log.info("%s processed %d message(s), %d failed", name, len(done), len(failed))


def _sqs_record(message: dict[str, Any], arn: str, region: str) -> dict[str, Any]:
    """A received SQS message as Lambda's event source mapping delivers it."""
    attributes = {k: str(v) for k, v in message.get("Attributes", {}).items()}
    message_attributes = {
        k: {"stringValue": v.get("StringValue"), "binaryValue": v.get("BinaryValue"),
            "dataType": v.get("DataType"), "stringListValues": [], "binaryListValues": []}
        for k, v in message.get("MessageAttributes", {}).items()}
    return {
        "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"], "attributes": attributes,
        "messageAttributes": message_attributes, "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": region,
    }


def _handler_for(platform: Platform) -> type[BaseHTTPRequestHandler]:
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
                self._json(429, "throttled", f"{contract.function_name(function, STAGE)} is "
                                             "throttled (reserved concurrency 0: the stage is "
                                             "idle; run `garmaxctl idle up`)")
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items()}
            user = None
            for key, value in headers.items():
                if key.lower() == DEV_USER_HEADER.lower():
                    user = value
            event = _api_event(self.command, self.path, raw, headers, user)
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


def _api_event(method: str, raw_path: str, body: bytes, headers: dict[str, str],
               user: str | None) -> dict[str, Any]:
    from runtime.testing import api_gateway_event

    try:
        text: str | None = body.decode() if body else None
        binary = False
    except UnicodeDecodeError:
        text, binary = base64.b64encode(body).decode(), True
    headers = {k: v for k, v in headers.items() if k.lower() != DEV_USER_HEADER.lower()}
    event = api_gateway_event(method, raw_path, body=text, user=user, headers=headers,
                              stage=contract.api_stage_name(STAGE))
    if binary:
        event["isBase64Encoded"] = True
    return event


@dataclass
class PlatformStatus:
    api_url: str
    ready: bool
    processed: dict[str, int] = field(default_factory=dict)
    error: str | None = None
