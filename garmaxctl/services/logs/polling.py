"""FilterLogEvents over several log groups: the window, and polling when following.

Used for the window ``logs tail`` prints without ``--follow``, for following where Live
Tail is not used (more than 10 groups, an endpoint override — LOCAL always has one —,
Live Tail refused) and, under Live Tail, to fill the gap between two sessions.

- **One request budget** for all groups (:class:`RequestBudget`): a token bucket of
  ``requests_per_group`` per second per group, so N groups never make more than N
  requests a second together (FilterLogEvents' account quota is shared by every tool).
- **New streams** are picked up because each request is over the whole group.
- **Late events**: each round re-reads from ``overlap_s`` before the newest event seen in
  the group (CloudWatch Logs ingests a line seconds after its timestamp), so a line that
  arrives late is still shown; **de-duplication** by event id drops what was shown.
- **Throttling** (``ThrottlingException`` and friends) backs off exponentially and
  retries the same request (:class:`Backoff`); it never ends the run.
- Pagination with ``nextToken`` until the answer has none.

Clock, sleep and intervals are the caller's (:class:`Pacing`), so tests never wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from garmaxctl.services.logs.events import LogEvent, Seen, by_time, from_filter_event

if TYPE_CHECKING:
    from garmaxctl.stage.log_groups import LogGroup

# Answers that mean "slow down" (or "try again shortly"): back off, never give up.
BACK_OFF_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException",
                            "RequestLimitExceeded", "ServiceUnavailableException",
                            "ServiceUnavailable", "InternalFailure", "RequestTimeout"})


@dataclass
class Pacing:
    """The follower's sense of time, injectable (tests pass a fake clock and sleep)."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll_interval: float = 1.0  # seconds between two rounds over the groups
    requests_per_group: float = 1.0  # the shared budget: requests per second per group
    overlap_s: float = 30.0  # each round re-reads this far before the newest event seen
    backoff_base: float = 1.0  # first back-off after a throttling answer (doubles)
    backoff_max: float = 30.0
    reconnect_delay: float = 1.0  # Live Tail: pause before a new session


@dataclass
class TailStats:
    """What a tail did, for its footer and its closing JSON document."""

    transport: str  # "live-tail" | "filter-log-events"
    reason: str  # why that transport
    events: int = 0  # shown
    duplicates: int = 0  # dropped as already shown
    filtered: int = 0  # dropped by the client-side --level filter
    requests: int = 0  # FilterLogEvents requests
    throttled: int = 0  # answers that made it back off
    backoff_s: float = 0.0  # seconds spent backing off
    sessions: int = 0  # Live Tail sessions started
    reconnects: int = 0  # Live Tail sessions that ended and were started again
    sampled_updates: int = 0  # Live Tail updates that carried a sample (> 500 events/s)
    live_tail_s: float = 0.0  # seconds Live Tail sessions were open (billed per minute)
    notes: list[str] = field(default_factory=list)


class RequestBudget:
    """A token bucket shared by every request of one tail."""

    def __init__(self, rate: float, burst: float, pacing: Pacing) -> None:
        self.rate = max(rate, 1e-6)
        self.burst = max(burst, 1.0)
        self.pacing = pacing
        self.tokens = self.burst
        self.last = pacing.clock()

    def _refill(self) -> None:
        now = self.pacing.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now

    def take(self) -> None:
        self._refill()
        while self.tokens < 1.0 - 1e-9:
            # At least a millisecond: a float-sized wait would not move the clock.
            self.pacing.sleep(max((1.0 - self.tokens) / self.rate, 0.001))
            self._refill()
        self.tokens = max(self.tokens - 1.0, 0.0)


class Backoff:
    """Exponential back-off after throttling answers; reset by a success."""

    def __init__(self, pacing: Pacing, stats: TailStats,
                 on_note: Callable[[str], None]) -> None:
        self.pacing = pacing
        self.stats = stats
        self.on_note = on_note
        self.failures = 0

    def wait(self, code: str) -> None:
        delay = min(self.pacing.backoff_max, self.pacing.backoff_base * 2 ** self.failures)
        self.failures += 1
        self.stats.throttled += 1
        self.stats.backoff_s += delay
        if self.failures in (1, 5) or self.failures % 20 == 0:
            self.on_note(f"{code}: backing off {delay:g} s (still following)")
        self.pacing.sleep(delay)

    def ok(self) -> None:
        self.failures = 0


def error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str((response.get("Error") or {}).get("Code") or "") or None
    return None


class Poller:
    """FilterLogEvents over ``groups`` with one budget, back-off and de-duplication."""

    def __init__(self, client: Any, groups: Sequence[LogGroup], *, pattern: str | None,
                 pacing: Pacing, stats: TailStats, seen: Seen,
                 on_note: Callable[[str], None] = lambda _: None) -> None:
        self.client = client
        self.groups = list(groups)
        self.pattern = pattern
        self.pacing = pacing
        self.stats = stats
        self.seen = seen
        self.on_note = on_note
        self.budget = RequestBudget(pacing.requests_per_group * len(self.groups),
                                    len(self.groups), pacing)
        self.backoff = Backoff(pacing, stats, on_note)
        self.newest: dict[str, int] = {}

    def _request(self, **params: Any) -> dict[str, Any]:
        while True:
            self.budget.take()
            self.stats.requests += 1
            try:
                answer: dict[str, Any] = self.client.filter_log_events(**params)
            except Exception as exc:  # botocore ClientError
                code = error_code(exc)
                if code not in BACK_OFF_CODES:
                    raise
                self.backoff.wait(code or "throttled")
                continue
            self.backoff.ok()
            return answer

    def fetch(self, group: LogGroup, start_ms: int, end_ms: int | None = None
              ) -> list[LogEvent]:
        """Every event of ``group`` from ``start_ms`` (to ``end_ms``), all pages."""
        params: dict[str, Any] = {"logGroupName": group.name, "startTime": start_ms}
        if end_ms is not None:
            params["endTime"] = end_ms
        if self.pattern:
            params["filterPattern"] = self.pattern
        events: list[LogEvent] = []
        token: str | None = None
        while True:
            answer = self._request(**params, **({"nextToken": token} if token else {}))
            events += [from_filter_event(group.label, group.name, e)
                       for e in answer.get("events", [])]
            next_token = answer.get("nextToken")
            if not next_token or next_token == token:
                return events
            token = next_token

    def round(self, start_ms: int, end_ms: int | None = None) -> list[LogEvent]:
        """One pass over every group: the events not shown yet, interleaved by time.
        Each group is read from ``overlap_s`` before its newest event seen (or from
        ``start_ms``)."""
        overlap_ms = int(self.pacing.overlap_s * 1000)
        fresh: list[LogEvent] = []
        for group in self.groups:
            newest = self.newest.get(group.name)
            since = start_ms if newest is None else max(start_ms, newest - overlap_ms)
            for event in self.fetch(group, since, end_ms):
                if self.seen.first_time(event):
                    fresh.append(event)
                    if event.timestamp > self.newest.get(group.name, -1):
                        self.newest[group.name] = event.timestamp
                else:
                    self.stats.duplicates += 1
        if len(self.seen) > 4096:
            self.seen.forget_before({g: t - 2 * overlap_ms for g, t in self.newest.items()})
        fresh.sort(key=by_time)
        return fresh

    def follow(self, start_ms: int, emit: Callable[[LogEvent], None]) -> None:
        """Round after round until interrupted (KeyboardInterrupt from the sleep)."""
        while True:
            started = self.pacing.clock()
            for event in self.round(start_ms):
                emit(event)
            rest = self.pacing.poll_interval - (self.pacing.clock() - started)
            self.pacing.sleep(max(rest, 0.0))
