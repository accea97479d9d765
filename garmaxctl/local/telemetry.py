"""What Lambda, API Gateway and SQS write to CloudWatch, written by LOCAL into the emulator.

moto runs no Lambda code and its API Gateway invokes nothing, so nothing on LOCAL would
ever produce a log line or an ``AWS/*`` metric. The local platform runs the handlers, so
it writes what the AWS services would have written, from what really happened, straight
into moto's backends in this (the emulator's) process:

- :class:`Sink`: log events into moto's CloudWatch Logs backend and metric data into its
  CloudWatch backend (``put_metric_data``), timestamps from an injectable clock.
- :class:`LambdaTelemetry`: one invocation as Lambda logs and measures it — the
  handler's own output (captured per thread, :mod:`garmaxctl.local.capture`) between
  ``START RequestId: ... Version: $LATEST`` and ``END``/``REPORT`` lines (``Duration``,
  ``Billed Duration``, ``Memory Size`` = the function's configured memory) in
  ``/aws/lambda/<function>``, one stream (``YYYY/MM/DD/[$LATEST]<32 hex>``) per execution
  environment; ``AWS/Lambda`` ``Invocations``, ``Errors``, ``Duration`` and
  ``Throttles`` (dimension ``FunctionName``). ``Max Memory Used`` and ``Init Duration``
  are left out: the handlers share one process, so neither is observable per function.
- :class:`ApiTelemetry` (:mod:`garmaxctl.local.access_log`) and the queue sampler
  (:mod:`garmaxctl.local.samplers`) do the same for API Gateway and SQS.

An execution environment: the local platform runs one invocation of a function at a
time (``Platform.invoke``), as one Lambda environment does, so each function has one
environment at a time. A new one (and a new log stream) starts on the first invocation
after the platform starts and after every deploy of the stack (new code or
configuration), as on Lambda.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from garmaxctl.local import capture

log = logging.getLogger(__name__)

ACCOUNT = "123456789012"  # moto's default account: the LOCAL stack's
Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def naive_utc(moment: dt.datetime) -> dt.datetime:
    """moto keeps metric timestamps as naive UTC datetimes."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def epoch_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


class Sink:
    """Writes log events and metric data into moto's backends, in this process."""

    def __init__(self, region: str = "us-east-1", *, account: str = ACCOUNT,
                 clock: Clock = utcnow) -> None:
        self.region = region
        self.account = account
        self.clock = clock
        self._lock = threading.Lock()  # moto's log streams are not thread-safe

    def logs_backend(self) -> Any:
        from moto.logs.models import logs_backends

        return logs_backends[self.account][self.region]

    def cloudwatch_backend(self) -> Any:
        from moto.cloudwatch.models import cloudwatch_backends

        return cloudwatch_backends[self.account][self.region]

    def put_log_events(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        """Append ``(epoch ms, message)`` events to ``group``/``stream`` (created if absent,
        as Lambda and API Gateway create their streams — and a missing group — on write)."""
        if not events:
            return
        backend = self.logs_backend()
        with self._lock:
            if group not in backend.groups:
                backend.create_log_group(group, {})
            if stream not in backend.groups[group].streams:
                backend.create_log_stream(group, stream)
            ordered = sorted(events, key=lambda e: e[0])
            backend.put_log_events(group, stream, [{"timestamp": ms, "message": message}
                                                   for ms, message in ordered])

    def put_metrics(self, namespace: str, data: list[dict[str, Any]]) -> None:
        """``PutMetricData`` items (MetricName, Dimensions, Value, Unit, Timestamp)."""
        now = self.clock()
        items = [{**item, "Timestamp": naive_utc(item.get("Timestamp") or now)}
                 for item in data]
        with self._lock:
            self.cloudwatch_backend().put_metric_data(namespace, items)


def dimensions(**values: str) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in values.items()]


@dataclass
class Environment:
    """One modelled Lambda execution environment: its log stream."""

    stream: str
    generation: int


def stream_name(moment: dt.datetime) -> str:
    """Lambda's log stream name for an environment started at ``moment``."""
    return f"{moment.astimezone(dt.UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"


class LambdaTelemetry:
    """Lambda's log lines and ``AWS/Lambda`` metrics for each local invocation."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self._environments: dict[str, Environment] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def new_deployment(self) -> None:
        """The stack was (re)deployed: the next invocation of each function is a cold start."""
        with self._lock:
            self._generation += 1

    def environment(self, function_name: str) -> Environment:
        with self._lock:
            current = self._environments.get(function_name)
            if current is None or current.generation != self._generation:
                current = Environment(stream_name(self.sink.clock()), self._generation)
                self._environments[function_name] = current
            return current

    @contextmanager
    def invocation(self, function_name: str, memory_mb: int | None,
                   request_id: str | None = None) -> Iterator[str]:
        """Run the block as one invocation: capture its output, then write its log lines
        and metrics. An exception out of the block is an ``Errors`` datapoint and Lambda's
        ``[ERROR]`` line, and is raised again."""
        request_id = request_id or str(uuid.uuid4())
        environment = self.environment(function_name)
        started_at = self.sink.clock()
        started = time.perf_counter()
        failure: BaseException | None = None
        with capture.capturing() as lines:
            try:
                yield request_id
            except BaseException as exc:
                failure = exc
        duration_ms = (time.perf_counter() - started) * 1000
        try:
            self._record(function_name, memory_mb, request_id, environment, started_at,
                         duration_ms, lines, failure)
        except Exception:  # telemetry never breaks the invocation
            log.exception("could not record the telemetry of %s", function_name)
        if failure is not None:
            raise failure

    def _record(self, function_name: str, memory_mb: int | None, request_id: str,
                environment: Environment, started_at: dt.datetime, duration_ms: float,
                lines: list[tuple[int, str]], failure: BaseException | None) -> None:
        start_ms = epoch_ms(started_at)
        end_ms = max(start_ms + int(duration_ms), *(ms for ms, _ in lines)) if lines \
            else start_ms + int(duration_ms)
        events = [(start_ms, f"START RequestId: {request_id} Version: $LATEST")]
        events += [(max(ms, start_ms), line) for ms, line in lines]
        if failure is not None:
            trace = "".join(traceback.format_tb(failure.__traceback__))
            events.append((end_ms, f"[ERROR] {type(failure).__name__}: {failure}\n"
                                   f"Traceback (most recent call last):\n{trace}"))
        report = (f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
                  f"Billed Duration: {max(1, math.ceil(duration_ms))} ms\t")
        if memory_mb:
            report += f"Memory Size: {memory_mb} MB\t"
        events += [(end_ms, f"END RequestId: {request_id}"), (end_ms, report)]
        group = f"/aws/lambda/{function_name}"
        self.sink.put_log_events(group, environment.stream, events)
        dims = dimensions(FunctionName=function_name)
        self.sink.put_metrics("AWS/Lambda", [
            {"MetricName": "Invocations", "Dimensions": dims, "Value": 1, "Unit": "Count",
             "Timestamp": started_at},
            {"MetricName": "Errors", "Dimensions": dims,
             "Value": 1 if failure is not None else 0, "Unit": "Count",
             "Timestamp": started_at},
            {"MetricName": "Duration", "Dimensions": dims, "Value": round(duration_ms, 2),
             "Unit": "Milliseconds", "Timestamp": started_at},
        ])

    def throttled(self, function_name: str) -> None:
        """An invoke refused for concurrency (reserved concurrency 0): a ``Throttles``
        datapoint, no invocation and no log line (Lambda logs nothing for it)."""
        self.sink.put_metrics("AWS/Lambda", [
            {"MetricName": "Throttles", "Dimensions": dimensions(FunctionName=function_name),
             "Value": 1, "Unit": "Count"}])
