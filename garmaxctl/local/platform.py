"""The LOCAL platform around the emulator: API gateway, SQS workers and stack watcher.

moto's API Gateway cannot invoke Lambda, and moto runs no Lambda code without Docker, so
on LOCAL garmaxctl does what AWS would do, in its emulator process, with the very handlers
the stack deploys (``contract.HANDLERS``). :class:`Platform` composes the three parts and
holds what they share (AWS clients for the emulator, the current stack view, one
invocation at a time per function):

- :mod:`garmaxctl.local.gateway`: HTTP requests -> API Gateway proxy events -> handler;
- :mod:`garmaxctl.local.workers`: one consumer per queue, paused exactly when Lambda's
  would be (mapping disabled, reserved concurrency 0);
- :mod:`garmaxctl.local.watcher`: follows ``GarmaxAiStack-LOCAL``: starts serving once it
  is deployed and reloads when it is redeployed (``local reset``).

The handlers read their configuration from the deployed functions' own environment
variables (``GetFunctionConfiguration``), so LOCAL runs what the stack declares.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from garmaxctl.local import capture, gateway, inbox, watcher, workers
from garmaxctl.local.access_log import ApiTelemetry
from garmaxctl.local.alarm_evaluator import AlarmEvaluator
from garmaxctl.local.telemetry import Clock, LambdaTelemetry, Sink, utcnow
from garmaxctl.local.watcher import StackView, load_handler
from garmaxctl.shared import contract

log = logging.getLogger(__name__)

# How often the platform samples the queues and evaluates the alarms: every minute, as
# SQS publishes its metrics and CloudWatch evaluates alarms. ``GARMAX_LOCAL_TELEMETRY_TICK_S``
# changes it; 0 turns the automatic tick off (the test suite's shared stack: its tests
# tick on purpose, through the gateway's ``POST /_local/telemetry/tick``).
TICK_ENV = "GARMAX_LOCAL_TELEMETRY_TICK_S"
DEFAULT_TICK_S = 60.0


def tick_seconds() -> float:
    raw = os.environ.get(TICK_ENV, "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_TICK_S
    except ValueError:
        return DEFAULT_TICK_S

STAGE = "LOCAL"


class Platform:
    """Gateway + workers, following the deployed stack on the emulator at ``endpoint``."""

    def __init__(self, endpoint: str, api_port: int, *, region: str = "us-east-1",
                 state_dir: Path | None = None, clock: Clock = utcnow,
                 tick_s: float | None = None) -> None:
        self.endpoint = endpoint
        self.api_port = api_port
        self.region = region
        self.state_dir = state_dir
        self.tick_s = tick_seconds() if tick_s is None else tick_s
        self.sink = Sink(region, clock=clock)
        self.lambdas = LambdaTelemetry(self.sink)
        self.api = ApiTelemetry(self.sink)
        self.evaluator = AlarmEvaluator(region, clock=clock)
        self.view: StackView | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._server: ThreadingHTTPServer | None = None
        self._clients: dict[str, Any] = {}
        # One invocation at a time per function, as in one Lambda execution environment:
        # Powertools keeps the current event in process-wide state (the resolver's
        # ``current_event``, the batch processor), which concurrent calls would share.
        self._invoke_locks = {function: threading.Lock() for function in contract.Function}

    def invoke(self, function: contract.Function, event: dict[str, Any]) -> Any:
        """Call the function's handler as Lambda would, one invocation at a time."""
        from runtime.testing import LambdaContext

        handler = load_handler(function)
        name = contract.function_name(function, STAGE)
        view = self.view
        memory = view.memory.get(name) if view else None
        with self._invoke_locks[function], \
                self.lambdas.invocation(name, memory) as request_id:
            context = LambdaContext(
                function_name=name, aws_request_id=request_id, memory_limit_in_mb=memory or 128,
                log_stream_name=self.lambdas.environment(name).stream)
            return handler(event, context)

    def throttled(self, function: contract.Function) -> None:
        """An invoke refused because the function's reserved concurrency is 0."""
        self.lambdas.throttled(contract.function_name(function, STAGE))

    def deployed(self, view: StackView) -> None:
        """The watcher found a new deployment: serve it (new execution environments)."""
        capture.adopt_logging()  # loggers the handlers built on import write per thread
        capture.isolate_runtime_state()  # and keep their per-invocation state per thread
        self.lambdas.new_deployment()
        self.view = view

    def tick(self, at: Any = None) -> dict[str, Any]:
        """One telemetry tick at ``at`` (default: the clock's now): sample the queues, then
        evaluate the alarms, as SQS publishes and CloudWatch evaluates every minute."""
        from garmaxctl.local.samplers import sample_queues

        at = at or self.sink.clock()
        queues = sample_queues(self.sink, at)
        changed = self.evaluator.evaluate_all(at)
        return {"at": at.isoformat(), "queues_sampled": queues, "alarms_changed": changed}

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                self.tick()
            except Exception:
                log.exception("telemetry tick failed")

    def client(self, service: str) -> Any:
        """A boto3 client for the emulator (cached, shared by the threads)."""
        with self._lock:
            if service not in self._clients:
                import boto3

                from garmaxctl.aws import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, client_config

                self._clients[service] = boto3.client(  # type: ignore[call-overload]
                    service, endpoint_url=self.endpoint, region_name=self.region,
                    aws_access_key_id=LOCAL_ACCESS_KEY, aws_secret_access_key=LOCAL_SECRET_KEY,
                    config=client_config(retries={"mode": "standard", "max_attempts": 3}))
            return self._clients[service]

    def function_enabled(self, function: contract.Function) -> bool:
        """False while the function's reserved concurrency is 0 (throttled, as on AWS)."""
        name = contract.function_name(function, STAGE)
        concurrency = self.client("lambda").get_function_concurrency(FunctionName=name)
        return concurrency.get("ReservedConcurrentExecutions") != 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        capture.install()  # before the handlers (and their Powertools loggers) are imported
        self._server = gateway.make_server(self, self.api_port)
        if self.tick_s > 0:
            self._spawn("telemetry-tick", self._tick_loop)
        if self.state_dir is not None:
            self._spawn("alert-inbox", functools.partial(inbox.drain, self, self._stop))
        self._spawn("gateway", self._server.serve_forever)
        self._spawn("stack-watch", functools.partial(watcher.watch, self, self._stop))
        for queue in contract.Queue:
            self._spawn(f"worker-{queue}", functools.partial(workers.work, self, queue,
                                                             self._stop))

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
