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
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any

from garmaxctl.local import gateway, watcher, workers
from garmaxctl.local.watcher import StackView, load_handler
from garmaxctl.shared import contract

STAGE = "LOCAL"


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
        self._server = gateway.make_server(self, self.api_port)
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
