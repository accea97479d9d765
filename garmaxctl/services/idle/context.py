"""What every resource kind works with: the stage's AWS target, waiters with deadlines,
the run's notes, and the one-line reason of a failed call."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from garmaxctl.aws import describe_error
from garmaxctl.stage.idle_state import not_found

if TYPE_CHECKING:
    from garmaxctl.aws import AwsTarget

T = TypeVar("T")


@dataclass
class Timeouts:
    """Waiter limits in seconds (and the poll delay). Never a blind sleep."""

    mapping: float = 300
    provisioned: float = 900
    ecs: float = 900
    aurora: float = 1800
    health: float = 60
    function: float = 300  # an Inactive function becoming Active again after up
    delay: float = 5


class StepFailed(Exception):
    """A write or its waiter failed; carries the one-line reason."""


class Gone(StepFailed):
    """The resource a recorded attribute belongs to no longer exists."""


def gone(exc: BaseException) -> bool:
    return not_found(exc) or isinstance(exc, Gone)


def one_line(exc: BaseException) -> str:
    """A failure as report rows show it: ``Operation: Code: message`` for a failed AWS call,
    else the exception's text (``aws.describe_error``'s pieces)."""
    problem = describe_error(exc)
    if problem.operation is None:
        return problem.message or problem.code
    return " ".join(f"{problem.operation}: {problem.code}: {problem.message}".split())


class Context:
    """One run's view of the stage, handed to every resource kind."""

    def __init__(self, aws: AwsTarget, timeouts: Timeouts) -> None:
        self.aws = aws
        self.stage = aws.stage.stage.value
        self.config = aws.stage
        self.timeouts = timeouts
        self.notes: list[str] = []  # what a run tells its reader (a bus not found, ...)
        self.provisioned_supported: bool | None = None  # None: not asked yet
        # Called at every poll of every wait: raises StepFailed once the run no longer
        # holds its lock (``IdleLock.check``), so no step outlives the run's lease.
        self.guard: Callable[[], None] = lambda: None
        self._memo: dict[Any, Any] = {}

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    def paginate(self, service: str, operation: str, key: str, **kwargs: Any) -> list[Any]:
        items: list[Any] = []
        for page in self.client(service).get_paginator(operation).paginate(**kwargs):
            items.extend(page.get(key, []))
        return items

    def memo(self, key: Any, compute: Callable[[], T]) -> T:
        """``compute()`` once per discovery (kinds that discover from the same calls share
        them: the event source mappings of each function)."""
        if key not in self._memo:
            self._memo[key] = compute()
        value: T = self._memo[key]
        return value

    def forget(self) -> None:
        self._memo.clear()

    def wait(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``check`` until true or ``timeout`` (a waiter for what boto3 has none of)."""
        deadline = time.monotonic() + timeout
        while True:
            self.guard()
            if check():
                return
            if time.monotonic() >= deadline:
                raise StepFailed(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(self.timeouts.delay)

    def boto_wait(self, service: str, waiter: str, timeout: float, **kwargs: Any) -> None:
        """A boto3 waiter, one attempt at a time so that ``guard`` runs between them."""
        delay = max(self.timeouts.delay, 0.01)
        deadline = time.monotonic() + timeout
        wait = self.client(service).get_waiter(waiter)
        while True:
            self.guard()
            try:
                wait.wait(WaiterConfig={"Delay": delay, "MaxAttempts": 1}, **kwargs)
                return
            except Exception as exc:
                if type(exc).__name__ != "WaiterError":
                    raise
                reason = str(getattr(exc, "kwargs", {}).get("reason", ""))
                if "Max attempts exceeded" not in reason:  # a failure state, not "not yet"
                    raise StepFailed(f"{waiter} failed: {one_line(exc)}") from exc
                if time.monotonic() >= deadline:
                    raise StepFailed(f"{waiter} did not succeed within {timeout:.0f} s: "
                                     f"{one_line(exc)}") from exc
            time.sleep(delay)
