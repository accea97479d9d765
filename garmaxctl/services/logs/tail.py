"""``garmaxctl logs tail``: the stage's function logs, interleaved by time (docs/logs.md).

- :func:`plan` resolves the groups (functions by short name, from the stack), the start
  time and the filter pattern, and chooses the transport;
- :func:`window` reads the events from the start until now (FilterLogEvents), once;
- :class:`Follower` follows: Live Tail on real stages (``livetail``), FilterLogEvents
  polling (``polling``) for more than 10 groups, when Live Tail is refused, and whenever
  the target has an endpoint override (``--endpoint-url``; LOCAL always has one: the
  emulator's StartLiveTail returns the stored events once and ends).

``--level`` is sent as a loose pattern (any level word at or above it) and applied
exactly here, on the client. Clock, sleep and intervals come from :class:`Pacing`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from garmaxctl.services.logs import livetail
from garmaxctl.services.logs.events import (
    LEVEL_CHOICES,
    LogEvent,
    Seen,
    by_time,
    event_id_key,
    level_pattern,
    live_key,
    normalise_level,
)
from garmaxctl.services.logs.polling import Pacing, Poller, TailStats
from garmaxctl.shared.errors import UsageError
from garmaxctl.stage import log_groups
from garmaxctl.stage.log_groups import LogGroup

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

LIVE_TAIL = "live-tail"
POLLING = "filter-log-events"
# Tests and benchmarks replace this to run without waiting (a service-level parameter the
# command does not expose).
DEFAULT_PACING: Pacing | None = None


def default_pacing() -> Pacing:
    return DEFAULT_PACING or Pacing()


@dataclass
class TailPlan:
    stage: str
    groups: list[LogGroup]
    since: dt.datetime
    filter_pattern: str | None  # the user's --filter
    level: str | None  # the canonical --level
    transport: str  # for --follow: live-tail | filter-log-events
    reason: str  # why that transport
    raw: bool = False  # --raw: START/END/REPORT and metric (EMF) lines are shown too

    @property
    def start_ms(self) -> int:
        return int(self.since.timestamp() * 1000)

    @property
    def server_pattern(self) -> str | None:
        """What AWS filters on: --filter, else the level words (loose)."""
        if self.filter_pattern:
            return self.filter_pattern
        return level_pattern(self.level) if self.level else None


@dataclass
class TailWindow:
    """``logs tail`` without ``--follow``: the events since the start, interleaved."""

    stage: str
    groups: list[LogGroup]
    since: dt.datetime
    until: dt.datetime
    filter_pattern: str | None
    level: str | None
    events: list[LogEvent]
    stats: TailStats


@dataclass
class FollowSummary:
    """What a follow did (the closing JSON document of the stream, the footer)."""

    stage: str
    groups: list[LogGroup]
    since: dt.datetime
    transport: str
    reason: str
    stats: TailStats
    live_tail_minutes: int = 0
    live_tail_usd: float = 0.0
    notes: list[str] = field(default_factory=list)


def resolve_groups(target: StageTarget, functions: Sequence[str] = (),
                   all_groups: bool = False) -> list[LogGroup]:
    """The groups to tail: the named functions' (all five when none), or with
    ``all_groups`` every log group the stack created (the API's access log too)."""
    if all_groups and functions:
        raise UsageError("give FUNCTION names or --all, not both")
    if all_groups:
        return [LogGroup(label=label, name=name)
                for label, name in log_groups.stack_log_groups(target).items()]
    return log_groups.function_log_groups(target, log_groups.parse_functions(functions))


def choose_transport(target: StageTarget, group_count: int) -> tuple[str, str]:
    """(transport, reason) for following ``group_count`` groups of ``target``. Decided by
    what the target is, not by which stage: an endpoint override (LOCAL always has one)
    means an emulator or proxy that cannot be trusted to stream Live Tail."""
    endpoint = target.aws.endpoint_url
    if endpoint:
        return POLLING, f"the endpoint is overridden ({endpoint})"
    if group_count > livetail.MAX_GROUPS:
        return POLLING, f"{group_count} groups (Live Tail takes at most {livetail.MAX_GROUPS})"
    return LIVE_TAIL, "real CloudWatch Logs, at most 10 groups"


def plan(target: StageTarget, *, functions: Sequence[str] = (), all_groups: bool = False,
         since: dt.datetime, filter_pattern: str | None = None,
         level: str | None = None, raw: bool = False) -> TailPlan:
    """What to tail and how. ``since`` is already read (``stage.timerange.parse_time``,
    in the command: the stage layer's parser reads every --since of garmaxctl)."""
    try:
        canonical = normalise_level(level)
    except ValueError:
        raise UsageError(f"unknown level {level!r}: use one of "
                         f"{', '.join(LEVEL_CHOICES)}") from None
    groups = resolve_groups(target, functions, all_groups)
    transport, reason = choose_transport(target, len(groups))
    return TailPlan(stage=target.name, groups=groups, since=since.astimezone(dt.UTC),
                    filter_pattern=filter_pattern or None, level=canonical,
                    transport=transport, reason=reason, raw=raw)


def _keeper(tail: TailPlan, stats: TailStats,
            emit: Callable[[LogEvent], None]) -> Callable[[LogEvent], None]:
    """``emit`` behind the exact client-side filters (--level; the platform's
    START/END/REPORT lines and EMF metric lines only with --raw), counting what it
    shows."""
    def keep(event: LogEvent) -> None:
        if ((tail.level and not event.at_least(tail.level))
                or (event.kind in ("platform", "metrics") and not tail.raw)):
            stats.filtered += 1
            return
        stats.events += 1
        emit(event)

    return keep


def window(target: StageTarget, tail: TailPlan, *, pacing: Pacing | None = None,
           now: dt.datetime | None = None,
           on_note: Callable[[str], None] = lambda _: None) -> TailWindow:
    """The events from ``tail.since`` until now, every group, interleaved by time."""
    until = now or dt.datetime.now(dt.UTC)
    stats = TailStats(transport=POLLING, reason="a window is read once")
    poller = Poller(target.client("logs"), tail.groups, pattern=tail.server_pattern,
                    pacing=pacing or default_pacing(), stats=stats,
                    seen=Seen(event_id_key), on_note=on_note)
    shown: list[LogEvent] = []
    for event in poller.round(tail.start_ms, int(until.timestamp() * 1000)):
        _keeper(tail, stats, shown.append)(event)
    shown.sort(key=by_time)
    return TailWindow(stage=tail.stage, groups=tail.groups, since=tail.since, until=until,
                      filter_pattern=tail.filter_pattern, level=tail.level, events=shown,
                      stats=stats)


class Follower:
    """``logs tail --follow``: :meth:`run` shows events until interrupted; :meth:`summary`
    says what it did (also after Ctrl-C)."""

    def __init__(self, target: StageTarget, tail: TailPlan, *,
                 pacing: Pacing | None = None) -> None:
        self.target = target
        self.tail = tail
        self.pacing = pacing or default_pacing()
        self.stats = TailStats(transport=tail.transport, reason=tail.reason)

    def run(self, emit: Callable[[LogEvent], None],
            on_note: Callable[[str], None] = lambda _: None) -> None:
        client = self.target.client("logs")
        keep = _keeper(self.tail, self.stats, emit)
        pattern = self.tail.server_pattern
        if self.tail.transport == LIVE_TAIL:
            seen = Seen(live_key)
            try:
                livetail.follow(client, self.tail.groups, start_ms=self.tail.start_ms,
                                pattern=pattern, pacing=self.pacing, stats=self.stats,
                                seen=seen, emit=keep, on_note=on_note)
            except livetail.LiveTailUnavailable as exc:
                self.stats.transport = POLLING
                self.stats.reason = f"Live Tail unavailable: {exc}"
                self.stats.notes.append(self.stats.reason)
                on_note(f"{self.stats.reason}; polling FilterLogEvents instead")
                # Keep the Live Tail keys: what was shown is not shown again.
                Poller(client, self.tail.groups, pattern=pattern, pacing=self.pacing,
                       stats=self.stats, seen=seen, on_note=on_note
                       ).follow(self.tail.start_ms, keep)
            return
        Poller(client, self.tail.groups, pattern=pattern, pacing=self.pacing,
               stats=self.stats, seen=Seen(event_id_key), on_note=on_note
               ).follow(self.tail.start_ms, keep)

    def summary(self) -> FollowSummary:
        minutes = 0
        if self.stats.sessions:
            # Billed per started minute of each session (at least one per session).
            minutes = max(self.stats.sessions, int(-(-self.stats.live_tail_s // 60)))
        return FollowSummary(stage=self.tail.stage, groups=self.tail.groups,
                             since=self.tail.since, transport=self.stats.transport,
                             reason=self.stats.reason, stats=self.stats,
                             live_tail_minutes=minutes,
                             live_tail_usd=round(minutes * livetail.USD_PER_MINUTE, 2),
                             notes=list(self.stats.notes))
