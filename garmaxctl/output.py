"""Rendering: rich tables for people, one versioned JSON document for machines.

Services return typed results; commands turn them into an :class:`Outcome` (the data for
JSON, the tables for people, and the failure if the result is one) and return it;
``app.py`` calls :func:`emit` with the exit code it derives from the failure. Errors are
rendered by :func:`emit_error`, called only from ``app.py``. A stream (``health --watch``)
shows each intermediate result with :func:`show`. In JSON mode exactly one document goes to
stdout, errors included; messages and progress go to stderr.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

# Status words used in tables; JSON keeps the plain word.
STATUS_STYLE = {
    "ok": "green",
    "healthy": "green",
    "running": "green",
    "pass": "green",
    "warn": "yellow",
    "skipped": "dim",
    "stopped": "yellow",
    "fail": "red",
    "error": "red",
    "unhealthy": "red",
}


@dataclass
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    title: str | None = None
    caption: str | None = None


@dataclass
class Outcome:
    """What a command produced: ``data`` for JSON, ``tables``/``lines`` for people, and
    ``failure`` when the result is one (an unhealthy report, a found change): a
    ``GarmaxError`` that is rendered with the data, never raised. ``app.py`` derives the
    exit code and the JSON ``error`` from it, as for a raised error."""

    data: Any
    tables: list[Table] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # printed after the tables (stdout)
    failure: Any = None  # a garmaxctl.shared.errors.GarmaxError, or None for success
    reveal: bool = False  # the user asked for secrets on stdout (--decrypt): not redacted
    audit: Audit | None = None  # a mutating command's contribution to its audit record


@dataclass
class Audit:
    """What a mutating command tells the audit trail (docs/security.md, "Audit trail"):
    ``changed``, a short list of what it changed ("params: JWT_SECRET v3"), and ``plan``,
    the plan it carried out, of which the record keeps only a sha256 digest."""

    changed: list[str] = field(default_factory=list)
    plan: Any = None


@dataclass
class OutputOptions:
    mode: str = "table"  # "table" | "json"
    color: bool = True
    command: str = ""
    stage: str | None = None
    verbose: bool = False
    streaming: bool = False  # a stream began: every JSON document from here is one line
    warnings: list[str] = field(default_factory=list)  # the document's top-level warnings


_options = OutputOptions()


def configure(**changes: Any) -> OutputOptions:
    for key, value in changes.items():
        setattr(_options, key, value)
    return _options


def options() -> OutputOptions:
    return _options


def reset() -> None:
    global _options
    _options = OutputOptions()


def is_json() -> bool:
    return _options.mode == "json"


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums, datetimes and paths into plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return value


def envelope(data: Any, *, exit_code: int, error: dict[str, str] | None = None,
             event: str | None = None) -> dict:
    document: dict[str, Any] = {"schema": SCHEMA_VERSION}
    if event is not None:
        document["event"] = event
    document |= {
        "ok": exit_code == 0,
        "exit_code": exit_code,
        "command": _options.command,
        "stage": _options.stage,
        "data": to_jsonable(data),
    }
    if error is not None:
        document["error"] = error
    if _options.warnings:
        document["warnings"] = list(_options.warnings)
    return document


def _isatty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _use_color(stream: Any) -> bool:
    if not _options.color or os.environ.get("NO_COLOR"):
        return False
    return _isatty(stream)


def stdout_console() -> Any:
    from rich.console import Console

    color = _use_color(sys.stdout)
    # No colour means no escape code at all (rich's no_color still prints bold/italic).
    return Console(file=sys.stdout, color_system="auto" if color else None,
                   force_terminal=color or None, highlight=False, soft_wrap=False,
                   width=None if _isatty(sys.stdout) else 200)


def stderr_console() -> Any:
    from rich.console import Console

    color = _use_color(sys.stderr)
    return Console(file=sys.stderr, color_system="auto" if color else None,
                   force_terminal=color or None, highlight=False, soft_wrap=True)


def _cell(value: Any) -> Any:
    from rich.text import Text

    if value is None:
        return Text("-", style="dim")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, (dt.datetime, dt.date)):
        return str(to_jsonable(value))
    text = _redacted(str(value))  # defence in depth, as for JSON documents
    style = STATUS_STYLE.get(text.lower())
    return Text(text, style=style) if style else Text(text)


def render_table(table: Table) -> Any:
    from rich import box
    from rich.table import Table as RichTable

    rich_table = RichTable(title=table.title, caption=table.caption, box=box.SIMPLE_HEAVY,
                           title_justify="left", caption_justify="left")
    for column in table.columns:
        rich_table.add_column(column, overflow="fold")
    for row in table.rows:
        rich_table.add_row(*(_cell(v) for v in row))
    return rich_table


def _redacted(text: str) -> str:
    """Defence in depth: no registered secret leaves in a JSON document either (a command
    that prints a secret on purpose, `params get --decrypt`, does so in table mode)."""
    from garmaxctl import redact

    return redact.redact(text)


def emit(outcome: Outcome, *, exit_code: int = 0,
         error: dict[str, str] | None = None) -> int:
    """Print the outcome in the selected mode (``app.py`` passes the exit code and error it
    derived from the outcome's failure) and return the exit code."""
    if is_json():
        document = _dumps(envelope(outcome.data, exit_code=exit_code, error=error,
                                   event="end" if _options.streaming else None))
        sys.stdout.write((document if outcome.reveal else _redacted(document)) + "\n")
        sys.stdout.flush()
        return exit_code
    console = stdout_console()
    for table in outcome.tables:
        console.print(render_table(table))
    for line in outcome.lines:
        console.print(line, markup=False, highlight=False)
    return exit_code


def show(outcome: Outcome) -> None:
    """An intermediate result of a watcher for people (its exit code does not matter)."""
    emit(outcome)


def _dumps(document: dict) -> str:
    import json  # not on the path of --help

    return json.dumps(document, separators=(",", ":")) if _options.streaming else json.dumps(
        document, indent=2)


def begin_stream() -> None:
    """From here on this run is a stream (``logs tail --follow``, ``local logs --follow``,
    ``health --watch``): under ``-o json`` each :func:`stream_event` and the closing
    document are one JSON object per line (JSON Lines), the documented exception to "one
    document" (docs/exit-codes.md, "Streams")."""
    _options.streaming = True


def stream_event(event: str, data: Any, *, reveal: bool = False) -> None:
    """One event of a stream as one JSON line ``{"schema", "event", "command", "stage",
    "data"}`` (JSON mode only; people get the command's own rendering)."""
    import json

    document = {"schema": SCHEMA_VERSION, "event": event, "command": _options.command,
                "stage": _options.stage, "data": to_jsonable(data)}
    line = json.dumps(document, separators=(",", ":"))
    sys.stdout.write((line if reveal else _redacted(line)) + "\n")
    sys.stdout.flush()


def emit_error(code: str, message: str, exit_code: int, data: Any = None) -> None:
    """One line on stderr for people; the JSON document (with ``error``) for machines."""
    if is_json():
        document = envelope(data or {}, exit_code=exit_code,
                            error={"code": code, "message": message},
                            event="end" if _options.streaming else None)
        sys.stdout.write(_redacted(_dumps(document)) + "\n")
        sys.stdout.flush()
        return
    stderr_console().print(f"error: {message}", style="red", markup=False, highlight=False)


def note(message: str, *, style: str | None = None) -> None:
    """A message for people (stderr), in both modes: never pollutes JSON on stdout."""
    stderr_console().print(message, style=style, markup=False, highlight=False)


def warn(message: str) -> None:
    note(f"warning: {message}", style="yellow")


def document_warning(message: str) -> None:
    """A warning on stderr that the JSON document also carries, in its top-level
    ``warnings`` list (present only when there is one; docs/exit-codes.md)."""
    warn(message)
    _options.warnings.append(message)


def kv_table(pairs: Iterable[tuple[str, Any]], title: str | None = None) -> Table:
    return Table(columns=("key", "value"), rows=[(k, v) for k, v in pairs], title=title)


class progress:
    """Progress of a long operation: a live status line on a terminal, plain lines on
    stderr elsewhere (CI, pipes, --verbose). Never on stdout."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._status: Any = None

    def __enter__(self) -> Any:
        live = (sys.stderr.isatty() and not os.environ.get("CI") and not _options.verbose)
        if live:
            self._status = stderr_console().status(self.label)
            self._status.start()
            return self._update
        return self._echo

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.stop()

    def _update(self, line: str) -> None:
        text = line.strip()
        if text:
            self._status.update(f"{self.label}: {text[:120]}")

    def _echo(self, line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
