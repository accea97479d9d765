"""Following through CloudWatch Logs Live Tail (``StartLiveTail``), with reconnection.

A session (up to 10 log groups, by ARN) is an event stream: one ``sessionStart``, then a
``sessionUpdate`` about every second with ``sessionResults`` (at most 500 events; more
are sampled, ``sessionMetadata.sampled``). It ends after 3 hours with
``SessionTimeoutException``, on a server error with ``SessionStreamingException``, or
when the connection breaks; :func:`follow` then starts a new session.

Live Tail shows only events ingested while a session is open, so at each ``sessionStart``
the gap is filled with FilterLogEvents: from ``--since`` the first time, afterwards from
``overlap_s`` before the newest event shown. What the gap fill and the new session both
deliver is shown once: Live Tail events carry no event id, so one key serves both —
group, stream, timestamp, ingestion time and a hash of the message.

``LimitExceededException`` (too many concurrent sessions in the account),
``AccessDeniedException`` (no ``logs:StartLiveTail``) or an unknown operation makes
:func:`follow` raise :class:`LiveTailUnavailable`; the caller then polls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from garmaxctl.services.logs.events import LogEvent, Seen, by_time, from_live_tail_event
from garmaxctl.services.logs.polling import (
    BACK_OFF_CODES,
    Backoff,
    Pacing,
    Poller,
    TailStats,
    error_code,
)

if TYPE_CHECKING:
    from garmaxctl.stage.log_groups import LogGroup

MAX_GROUPS = 10  # StartLiveTail's limit on logGroupIdentifiers
SESSION_END_CODES = frozenset({"SessionTimeoutException", "SessionStreamingException"})
UNAVAILABLE_CODES = frozenset({"LimitExceededException", "AccessDeniedException",
                               "InvalidOperationException", "UnknownOperationException",
                               "UnrecognizedClientException"})
# CloudWatch Logs Live Tail is billed per minute of session (us-east-1: $0.01 a minute;
# docs/logs.md, "What it costs").
USD_PER_MINUTE = 0.01


class LiveTailUnavailable(Exception):
    """Live Tail cannot be used for this tail (the reason is the message)."""


def _connection_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
    from urllib3.exceptions import ProtocolError

    return (ConnectionClosedError, ReadTimeoutError, ProtocolError)


def group_arns(client: Any, groups: Sequence[LogGroup]) -> dict[str, str]:
    """Each group's ARN without the trailing ``:*`` (StartLiveTail wants ARNs)."""
    arns: dict[str, str] = {}
    for group in groups:
        pages = client.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=group.name)
        for page in pages:
            for found in page.get("logGroups", []):
                if found.get("logGroupName") == group.name:
                    arn = found.get("logGroupArn") or str(found.get("arn", ""))
                    arns[group.name] = arn.removesuffix(":*")
        if group.name not in arns:
            raise LiveTailUnavailable(f"log group {group.name} not found")
    return arns


def follow(client: Any, groups: Sequence[LogGroup], *, start_ms: int, pattern: str | None,
           pacing: Pacing, stats: TailStats, seen: Seen, emit: Callable[[LogEvent], None],
           on_note: Callable[[str], None] = lambda _: None) -> None:
    """Session after session until interrupted (KeyboardInterrupt)."""
    if not hasattr(client, "start_live_tail"):
        raise LiveTailUnavailable("this botocore has no StartLiveTail")
    arns = group_arns(client, groups)
    labels: dict[str, tuple[str, str]] = {}
    for group in groups:
        labels[group.name] = labels[arns[group.name]] = (group.label, group.name)
    filler = Poller(client, groups, pattern=pattern, pacing=pacing, stats=stats, seen=seen,
                    on_note=on_note)
    backoff = Backoff(pacing, stats, on_note)
    request: dict[str, Any] = {"logGroupIdentifiers": [arns[g.name] for g in groups]}
    if pattern:
        request["logEventFilterPattern"] = pattern
    end_errors = _connection_errors()

    def show(events: list[LogEvent]) -> None:
        for event in sorted(events, key=by_time):
            if seen.first_time(event):
                newest[event.group] = max(newest.get(event.group, 0), event.timestamp)
                emit(event)
            else:
                stats.duplicates += 1

    newest: dict[str, int] = {}
    while True:
        try:
            response = client.start_live_tail(**request)
        except Exception as exc:  # botocore ClientError
            code = error_code(exc)
            if code in UNAVAILABLE_CODES:
                raise LiveTailUnavailable(f"StartLiveTail answered {code}") from exc
            if code in BACK_OFF_CODES:
                backoff.wait(code or "throttled")
                continue
            raise
        backoff.ok()
        stats.sessions += 1
        opened = pacing.clock()
        stream = response.get("responseStream", ())
        ended = "the session ended"
        try:
            for message in stream:
                if "sessionStart" in message:
                    # Fill the gap before this session: what was ingested while none ran.
                    overlap_ms = int(pacing.overlap_s * 1000)
                    for group in groups:
                        since = newest.get(group.name)
                        since = start_ms if since is None else max(start_ms,
                                                                   since - overlap_ms)
                        show(filler.fetch(group, since))
                    if len(seen) > 4096:
                        seen.forget_before({g: t - 2 * overlap_ms for g, t in newest.items()})
                elif "sessionUpdate" in message:
                    update = message["sessionUpdate"] or {}
                    if (update.get("sessionMetadata") or {}).get("sampled"):
                        stats.sampled_updates += 1
                        if stats.sampled_updates == 1:
                            on_note("Live Tail is sampling (more than 500 events/s): some "
                                    "lines are not shown; narrow with --filter")
                    show([from_live_tail_event(labels, e)
                          for e in update.get("sessionResults") or []])
        except end_errors as exc:
            ended = f"the connection broke ({type(exc).__name__})"
        except Exception as exc:  # botocore EventStreamError
            code = error_code(exc)
            if code not in SESSION_END_CODES:
                raise
            ended = code or ended
        finally:
            stats.live_tail_s += max(pacing.clock() - opened, 0.0)
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        stats.reconnects += 1
        on_note(f"Live Tail: {ended}; starting a new session")
        pacing.sleep(pacing.reconnect_delay)
