"""One log event as ``logs tail`` shows it, read from what CloudWatch Logs stored.

A Lambda log group holds three kinds of line: the handlers' Powertools JSON (``level``,
``message``, ``correlation_id``, ...), the platform's ``START``/``END``/``REPORT`` lines,
and the Python runtime's own ``[LEVEL]\\t<time>\\t<request id>\\t<message>`` lines (an
uncaught exception, ``print``). :func:`from_filter_event` and :func:`from_live_tail_event`
turn FilterLogEvents' and Live Tail's answers into one :class:`LogEvent`; the JSON fields
are documented in docs/logs.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

# Levels as Powertools and Python's logging name them, lowest first; WARN/FATAL alias.
LEVELS: dict[str, int] = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "WARN": 30, "ERROR": 40,
                          "CRITICAL": 50, "FATAL": 50}
LEVEL_CHOICES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_PLATFORM = ("START RequestId:", "END RequestId:", "REPORT RequestId:", "INIT_START",
             "INIT_REPORT", "EXTENSION", "TELEMETRY", "RESTORE_START", "RESTORE_REPORT")
_RUNTIME = re.compile(r"^\[(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\]\t[^\t]*\t"
                      r"([^\t]*)\t(.*)$", re.S)
# An unhandled exception: ``[ERROR] KeyError: 'x'`` and its traceback below.
_UNHANDLED = re.compile(r"^\[(ERROR|CRITICAL|FATAL)\] (.*)$", re.S)


@dataclass(frozen=True)
class LogEvent:
    """One log line (JSON field names as in docs/logs.md)."""

    time: dt.datetime  # the event's timestamp, UTC
    function: str  # the group's short name: api, webhook, tryon, render, billing, access
    group: str
    stream: str
    kind: str  # powertools | platform | metrics | runtime | text
    level: str | None  # Powertools' or the runtime's level; None for platform/text lines
    message: str  # the Powertools message (JSON text when structured) or the line
    correlation_id: str | None
    request_id: str | None
    raw: str  # the message as stored
    timestamp: int  # milliseconds since the epoch, as CloudWatch Logs gives it
    ingestion_time: int | None
    event_id: str | None  # FilterLogEvents' eventId; Live Tail events carry none

    def at_least(self, level: str) -> bool:
        """Whether this line is at ``level`` or above (a line without a level is not)."""
        return self.level is not None and LEVELS.get(self.level, 0) >= LEVELS[level]

    @property
    def live_key(self) -> tuple[str, str, int, int | None, str]:
        """What identifies an event without an event id: group, stream, timestamp,
        ingestion time and a hash of the message (docs/logs.md, "De-duplication")."""
        digest = hashlib.sha1(self.raw.encode("utf-8", "replace")).hexdigest()
        return (self.group, self.stream, self.timestamp, self.ingestion_time, digest)


def by_time(event: LogEvent) -> tuple[int, int, str]:
    """Sort key interleaving groups by time (ties: ingestion, then group)."""
    return (event.timestamp, event.ingestion_time or 0, event.group)


def normalise_level(level: str | None) -> str | None:
    """``--level``'s value in the canonical spelling; an unknown level is a ValueError."""
    if level is None:
        return None
    name = level.strip().upper()
    if name not in LEVELS:
        raise ValueError(level)
    return {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(name, name)


def level_pattern(level: str) -> str | None:
    """A loose FilterLogEvents/Live Tail pattern for lines at ``level`` or above (any of
    the level words anywhere in the line); the client keeps only the exact ones. None at
    the lowest level (every line with a level qualifies)."""
    words = sorted({name for name, rank in LEVELS.items() if rank >= LEVELS[level]},
                   key=lambda n: (LEVELS[n], n))
    if LEVELS[level] <= LEVELS["DEBUG"]:
        return None
    return " ".join(f"?{word}" for word in words)


def parse(raw: str) -> tuple[str, str | None, str, str | None, str | None]:
    """(kind, level, message, correlation id, request id) of a stored line."""
    text = raw.rstrip("\n")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            document = json.loads(stripped)
        except ValueError:
            document = None
        if isinstance(document, dict) and "_aws" in document and "level" not in document:
            # An embedded-metric-format line (Powertools metrics): metrics, not a log line.
            return "metrics", None, text, None, None
        if isinstance(document, dict) and ("level" in document or "message" in document):
            message = document.get("message", "")
            if not isinstance(message, str):
                message = json.dumps(message, default=str)  # ", " and ": ": it wraps
            level = document.get("level")
            level = str(level).upper() if level is not None else None
            correlation = document.get("correlation_id")
            request = document.get("function_request_id")
            return ("powertools", level, message,
                    str(correlation) if correlation else None,
                    str(request) if request else None)
    if stripped.startswith(_PLATFORM):
        match = re.search(r"RequestId: ([0-9a-fA-F-]+)", stripped)
        return "platform", None, text, None, match.group(1) if match else None
    match = _RUNTIME.match(text)
    if match:
        level = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(match.group(1), match.group(1))
        return "runtime", level, match.group(3), None, match.group(2) or None
    match = _UNHANDLED.match(text)
    if match:
        level = {"FATAL": "CRITICAL"}.get(match.group(1), match.group(1))
        return "runtime", level, match.group(2), None, None
    return "text", None, text, None, None


def _make(label: str, group: str, stream: str, raw: str, timestamp: int,
          ingestion: int | None, event_id: str | None) -> LogEvent:
    kind, level, message, correlation, request = parse(raw)
    return LogEvent(time=dt.datetime.fromtimestamp(timestamp / 1000, dt.UTC),
                    function=label, group=group, stream=stream, kind=kind, level=level,
                    message=message, correlation_id=correlation, request_id=request,
                    raw=raw, timestamp=timestamp, ingestion_time=ingestion,
                    event_id=event_id)


def from_filter_event(label: str, group: str, event: dict[str, Any]) -> LogEvent:
    """An event of a FilterLogEvents answer (``eventId``, ``logStreamName``, ...)."""
    return _make(label, group, str(event.get("logStreamName", "")),
                 str(event.get("message", "")), int(event.get("timestamp", 0)),
                 event.get("ingestionTime"), event.get("eventId"))


def from_live_tail_event(labels: dict[str, tuple[str, str]],
                         event: dict[str, Any]) -> LogEvent:
    """A ``LiveTailSessionLogEvent`` (its ``logGroupIdentifier`` is a name or an ARN;
    ``labels`` maps both to (label, group name))."""
    identifier = str(event.get("logGroupIdentifier", ""))
    label, group = labels.get(identifier) or labels.get(identifier.removesuffix(":*")) or (
        identifier, identifier)
    return _make(label, group, str(event.get("logStreamName", "")),
                 str(event.get("message", "")), int(event.get("timestamp", 0)),
                 event.get("ingestionTime"), None)


class Seen:
    """De-duplication with bounded memory: remembers keys with their event's group and
    timestamp, and forgets those older than a group's horizon (no longer re-read)."""

    def __init__(self, key: Callable[[LogEvent], Hashable]) -> None:
        self.key = key
        self._keys: dict[Hashable, tuple[str, int]] = {}

    def first_time(self, event: LogEvent) -> bool:
        key = self.key(event)
        if key in self._keys:
            return False
        self._keys[key] = (event.group, event.timestamp)
        return True

    def forget_before(self, horizons: dict[str, int]) -> None:
        """Forget the keys of each group's events older than its horizon (ms)."""
        self._keys = {k: (g, t) for k, (g, t) in self._keys.items()
                      if t >= horizons.get(g, t)}

    def __len__(self) -> int:
        return len(self._keys)


def event_id_key(event: LogEvent) -> Hashable:
    return (event.group, event.event_id) if event.event_id else event.live_key


def live_key(event: LogEvent) -> Hashable:
    return event.live_key
