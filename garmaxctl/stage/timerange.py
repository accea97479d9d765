"""Time ranges as people type them: ``15m``, ``1h``, ``7d``, ``1w`` (ago, with or without
the word) or an ISO 8601 timestamp (UTC when it has no offset). Every ``--since`` and
``--as-of`` of garmaxctl reads its value here; a time that cannot be read, or one in the
future, is a usage error (exit 2, code ``bad_time``). A length of time (``--for 2h``,
``--timeout 60s``) is read by :func:`parse_duration`, with the same units."""

from __future__ import annotations

import datetime as dt
import re

from garmaxctl.shared.errors import UsageError

_RELATIVE = re.compile(r"^\s*(\d+)\s*(s|sec|m|min|h|hr|d|day|days|w|wk)\s*(ago)?\s*$", re.I)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400,
                 "day": 86400, "days": 86400, "w": 604800, "wk": 604800}


def parse_time(text: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """The moment ``text`` names, timezone-aware in UTC."""
    now = now or dt.datetime.now(dt.UTC)
    match = _RELATIVE.match(text)
    if match:
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
        return now - dt.timedelta(seconds=seconds)
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"cannot read the time {text!r}", code="bad_time",
                         hint="use a duration ago (15m, 2h, 1d, 1w) or an ISO timestamp "
                              "(2025-01-31T14:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    if moment > now:
        raise UsageError(f"the time {text!r} is in the future", code="bad_time",
                         hint="give a past time")
    return moment.astimezone(dt.UTC)


def parse_duration(text: str, *, option: str = "the duration") -> dt.timedelta:
    """A length of time as ``30s``, ``15m``, ``2h``, ``7d``, ``1w`` (the units of
    :func:`parse_time`); anything else, or zero, is a usage error (exit 2, ``bad_time``)."""
    match = _RELATIVE.match(text)
    if not match or match.group(3):
        raise UsageError(f"cannot read {option} {text!r}", code="bad_time",
                         hint="a number and a unit: 30s, 15m, 2h, 7d, 1w")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if seconds <= 0:
        raise UsageError(f"{option} must be longer than 0", code="bad_time")
    return dt.timedelta(seconds=seconds)


def parse_range(*, since: str | None = None, from_: str | None = None,
                until: str | None = None, default_since: str = "1h",
                now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """A time range as ``--since X`` or ``--from A [--until B]`` (``--until`` defaults to
    now): (start, end), both in UTC. ``--since`` with ``--from``, or a start after the end,
    is a usage error (exit 2, code ``bad_time``)."""
    now = now or dt.datetime.now(dt.UTC)
    if since is not None and from_ is not None:
        raise UsageError("give either --since or --from/--until, not both", code="bad_time")
    if until is not None and from_ is None:
        raise UsageError("--until needs --from", code="bad_time",
                         hint="--from 2025-01-01 --until 2025-02-01, or --since 30d")
    if from_ is None:
        return parse_time(since or default_since, now=now), now
    start = parse_time(from_, now=now)
    end = parse_time(until, now=now) if until is not None else now
    if start >= end:
        raise UsageError(f"--from {from_} is not before --until {until or 'now'}",
                         code="bad_time", hint="swap them, or give a later --until")
    return start, end
