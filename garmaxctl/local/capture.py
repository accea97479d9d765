"""Each invocation's output, captured per thread: the handlers share one threaded process.

On Lambda a function's stdout and stderr go to its log stream. On LOCAL the five
functions' handlers run in the emulator's process, in the gateway's and workers'
threads, at the same time. :func:`install` replaces ``sys.stdout``/``sys.stderr`` with a
:class:`ThreadRoutedStream`: while a thread is inside :func:`capturing`, what it writes
is collected for that invocation (and still written through to the process's log, so
``garmaxctl local logs`` keeps showing it); other threads write through untouched.

Powertools' ``Logger`` keeps the stream it was built with: :func:`adopt_logging` points
every logging handler that writes to the original stdout/stderr at the routed stream, so
a logger built before :func:`install` is captured too.
"""

from __future__ import annotations

import copy
import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_local = threading.local()
_install_lock = threading.Lock()


class ThreadRoutedStream:
    """A text stream that also hands a capturing thread's complete lines to its buffer."""

    def __init__(self, underlying: TextIO) -> None:
        self.underlying = underlying

    def write(self, text: str) -> int:
        capture: _Capture | None = getattr(_local, "capture", None)
        if capture is not None:
            capture.feed(text)
        return self.underlying.write(text)

    def flush(self) -> None:
        self.underlying.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, ...
        return getattr(self.underlying, name)


class _Capture:
    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []  # (epoch ms when written, line)
        self._partial = ""

    def feed(self, text: str) -> None:
        now = int(time.time() * 1000)
        text = self._partial + text
        *complete, self._partial = text.split("\n")
        self.lines.extend((now, line) for line in complete if line.strip())

    def close(self) -> None:
        if self._partial.strip():
            self.lines.append((int(time.time() * 1000), self._partial))
        self._partial = ""


def install() -> None:
    """Route ``sys.stdout`` and ``sys.stderr`` through per-thread capture (idempotent)."""
    with _install_lock:
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if not isinstance(current, ThreadRoutedStream):
                setattr(sys, name, ThreadRoutedStream(current))
    adopt_logging()


def adopt_logging() -> None:
    """Point logging handlers that write to an unrouted stdout/stderr at the routed one."""
    routed = {id(s.underlying): s for s in (sys.stdout, sys.stderr)
              if isinstance(s, ThreadRoutedStream)}
    # Not the root logger: that is the emulator's own log (botocore's INFO lines, ...);
    # Lambda's Python runtime does not log those for a function either.
    loggers = [v for v in logging.Logger.manager.loggerDict.values()
               if isinstance(v, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and id(stream) in routed:
                handler.setStream(routed[id(stream)])


def thread_local_attributes(obj: Any, names: tuple[str, ...]) -> None:
    """Give each thread its own copy of ``obj``'s attributes ``names`` (idempotent).

    Powertools keeps a handler's per-invocation state on module-level objects shared by
    every handler in the process: the logger formatter's keys (``function_name``,
    ``function_request_id``, correlation id: ``inject_lambda_context``) and the metrics
    provider's metric, dimension and metadata sets (``log_metrics`` flushes them). On
    Lambda one process serves one function; here concurrent invocations of different
    functions would write into each other's lines. Each thread starts from a copy of the
    values at the time of the call (what the module set up at import)."""
    if getattr(type(obj), "__garmax_thread_local__", False):
        return
    local = threading.local()
    base = {name: copy.deepcopy(getattr(obj, name)) for name in names}

    def attribute(name: str) -> property:
        def get(_self: Any) -> Any:
            values = local.__dict__
            if name not in values:
                values[name] = copy.deepcopy(base[name])
            return values[name]

        def put(_self: Any, value: Any) -> None:
            local.__dict__[name] = value

        return property(get, put)

    namespace: dict[str, Any] = {name: attribute(name) for name in names}
    namespace["__garmax_thread_local__"] = True
    obj.__class__ = type(f"ThreadLocal{type(obj).__name__}", (type(obj),), namespace)


def isolate_runtime_state() -> None:
    """Per-thread Powertools state for the runtime's shared logger and metrics."""
    from runtime.observability import logger, metrics

    thread_local_attributes(logger.registered_formatter, ("log_format",))
    thread_local_attributes(metrics.provider, ("metric_set", "dimension_set", "metadata_set"))


@contextmanager
def capturing() -> Iterator[list[tuple[int, str]]]:
    """Collect this thread's output lines until the block ends (one invocation)."""
    capture = _Capture()
    previous = getattr(_local, "capture", None)
    _local.capture = capture
    try:
        yield capture.lines
    finally:
        capture.close()
        _local.capture = previous
