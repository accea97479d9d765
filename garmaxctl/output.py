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
from collections.abc import Iterable, Iterator, Sequence
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


# Columns of long text: when a table does not fit the terminal, these leave the row and are
# shown as indented lines under it (``Table.stacked`` names them explicitly).
STACKED_COLUMNS = ("detail", "note", "fix", "problem", "message", "reason", "labels")


@dataclass
class Table:
    """Columns and rows for people. :func:`render_table` lays it out for the terminal's
    width without breaking a word (:class:`FittedTable`): the whole table when it fits;
    else the ``stacked`` columns (default: those named in :data:`STACKED_COLUMNS`) as lines
    under each row; else, in addition, a cell too wide for its narrowed column under its
    row too, the ``key`` column (the row's name) kept whole (docs/architecture.md)."""

    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    title: str | None = None
    caption: str | None = None
    stacked: Sequence[str] | None = None
    key: str | None = None  # the column that names a row (default: the first)


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
                   width=None if _isatty(sys.stdout) else _piped_width())


def table_width() -> int:
    """The width stdout's tables are laid out for (a command may pick shorter names)."""
    return int(stdout_console().width)


def _piped_width() -> int:
    """The width tables are laid out for when stdout is not a terminal: ``COLUMNS`` when
    set (``COLUMNS=80 garmaxctl verify | less``), else 200."""
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) >= 20 else 200


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


def cell_text(value: Any) -> str:
    """A cell's text as a table shows it (``-`` for none, ``yes``/``no``, redacted)."""
    return str(_as_text(_cell(value)).plain)


def render_table(table: Table) -> Any:
    """A renderable of the table that picks its layout at the width it is printed at."""
    return FittedTable(table)


class FittedTable:
    """``table`` laid out at the console's width with no word broken:

    1. the whole table, when every column can be as wide as its longest word;
    2. else the stacked columns (``Table.stacked``, default the long-text ones of
       :data:`STACKED_COLUMNS`) leave the row: indented lines under it, named once under
       the header;
    3. else, in addition, the other columns are narrowed (the first, the row's name, last)
       and a cell with a word longer than its column goes under its row as
       ``column: value``.

    A word wider than the screen goes whole on a line of its own (:func:`_under`)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.headers = [_as_text(str(c)) for c in table.columns]
        self.cells = [[_as_text(_cell(v)) for v in row] for row in table.rows]

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        width = options.max_width
        everything = list(range(len(self.headers)))
        widths = self._fit(everything, width)
        if widths is not None:
            yield self._whole(widths)
            return
        wanted = self.table.stacked
        if wanted is None:
            wanted = [c for c in self.table.columns if str(c).lower() in STACKED_COLUMNS]
        stacked = [i for i, c in enumerate(self.table.columns) if c in wanted]
        kept = [i for i in everything if i not in stacked] or everything
        stacked = [i for i in stacked if i not in kept]
        widths = self._fit(kept, width) or self._squeeze(kept, width)
        yield from self._stacked(kept, stacked, widths, width)

    # ---------------------------------------------------------------- widths

    def _column(self, index: int) -> list[Any]:
        return [self.headers[index], *(row[index] for row in self.cells)]

    def _least(self, index: int) -> int:
        return max(_longest_word(t) for t in self._column(index))

    def _most(self, index: int) -> int:
        return max(_longest_line(t) for t in self._column(index))

    @staticmethod
    def _room(columns: list[int], width: int) -> int:
        return max(len(columns), width - 3 * len(columns) - 1)  # padding and separators

    def _fit(self, columns: list[int], width: int) -> list[int] | None:
        """Column widths for ``columns``, each at least its longest word; None when that
        does not fit ``width``."""
        room = self._room(columns, width)
        least = [self._least(i) for i in columns]
        most = [self._most(i) for i in columns]
        if sum(least) > room:
            return None
        if sum(most) <= room:
            return most
        spare, wish = room - sum(least), [m - n for m, n in zip(most, least, strict=True)]
        widths = [n + spare * w // sum(wish) for n, w in zip(least, wish, strict=True)]
        for i in sorted(range(len(widths)), key=lambda i: -wish[i])[:room - sum(widths)]:
            widths[i] += 1
        return widths

    def _squeeze(self, columns: list[int], width: int) -> list[int]:
        """Widths that fit when not every longest word does. The row's name column
        (``Table.key``, default the first) keeps its longest word (up to half the room);
        the other columns with the longest words are narrowed to their header, one at a
        time, until the rest fits; the room left goes back to the narrowed ones, the
        last narrowed first. A cell whose word is longer than its column goes under."""
        room = self._room(columns, width)
        floor = [_longest_word(self.headers[i]) for i in columns]
        least = [self._least(i) for i in columns]
        most = [self._most(i) for i in columns]
        names = [str(self.table.columns[i]) for i in columns]
        key = names.index(self.table.key) if self.table.key in names else 0
        widths = list(least)
        widths[key] = max(floor[key], min(least[key], room // 2))
        narrowed: list[int] = []
        while sum(widths) > room:
            wide = [j for j in range(len(columns)) if j != key and widths[j] > floor[j]]
            if not wide:
                widths[key] = max(1, room - (sum(widths) - widths[key]))
                break
            j = max(wide, key=lambda j: widths[j])
            widths[j] = floor[j]
            narrowed.append(j)
        for j in reversed(narrowed):
            widths[j] += max(0, min(most[j] - widths[j], room - sum(widths)))
        return widths

    # ---------------------------------------------------------------- layouts

    def _rich(self, columns: list[int], widths: list[int]) -> Any:
        from rich import box
        from rich.table import Table as RichTable

        table = RichTable(title=self.table.title, caption=self.table.caption,
                          box=box.SIMPLE_HEAVY, title_justify="left", caption_justify="left")
        for i, w in zip(columns, widths, strict=True):
            table.add_column(self.headers[i], width=w, overflow="fold")
        return table

    def _whole(self, widths: list[int]) -> Any:
        table = self._rich(list(range(len(self.headers))), widths)
        for row in self.cells:
            table.add_row(*row)
        return table

    def _stacked(self, kept: list[int], stacked: list[int], widths: list[int],
                 width: int) -> Iterator[Any]:
        from rich.padding import Padding
        from rich.table import Table as RichTable
        from rich.text import Text

        header = self._rich(kept, widths)
        header.show_edge = False  # its columns start where the rows' grid columns do
        header.caption = None
        yield header
        if stacked:
            names = " · ".join(str(self.table.columns[i]) for i in stacked)
            yield Padding(Text(f"{names} (under each row)", style="dim"), (0, 0, 0, 6))
        for row in self.cells:
            under: list[Any] = []
            shown = []
            for i, w in zip(kept, widths, strict=True):
                if _longest_word(row[i]) > w:  # would break: under the row, named
                    under.append(Text(f"{self.table.columns[i]}: ") + row[i])
                    shown.append(Text(""))
                else:
                    shown.append(row[i])
            for n, i in enumerate(stacked):
                if row[i].plain.strip() not in ("", "-"):
                    under.append(row[i] if n == 0
                                 else Text(f"{self.table.columns[i]}: ") + row[i])
            grid = RichTable.grid(padding=(0, 1), pad_edge=True, collapse_padding=False)
            for w in widths:
                grid.add_column(width=w + 1, overflow="fold")
            grid.add_row(*shown)
            yield grid
            for line in under:
                yield from _under(line, width)
        yield Text("")
        if self.table.caption:
            yield Text(self.table.caption)


def _under(line: Any, width: int) -> Iterator[Any]:
    """A line under a row, indented; a word too long for any line (a queue URL, an S3 URI)
    on a line of its own, whole: the terminal wraps it softly, so it still copies as one
    word, where folding would put newlines inside it."""
    from rich.padding import Padding
    from rich.text import Text

    indent = 6
    if _longest_word(line) <= width - indent:
        yield Padding(line, (0, 0, 0, indent))
        return
    words: list[Any] = []
    for word in line.split(" "):
        if word.cell_len > width - indent:
            if words:
                yield Padding(Text(" ").join(words), (0, 0, 0, indent))
                words = []
            word.no_wrap, word.overflow = True, "ignore"
            yield word
        else:
            words.append(word)
    if words:
        yield Padding(Text(" ").join(words), (0, 0, 0, indent))


def _longest_word(text: Any) -> int:
    from rich.cells import cell_len

    return max((cell_len(w) for w in text.plain.split()), default=1)


def _longest_line(text: Any) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.plain.splitlines()), default=1)


def _as_text(cell: Any) -> Any:
    from rich.text import Text

    return cell if isinstance(cell, Text) else Text(str(cell))


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
        console.print(render_table(table), crop=False)  # a word wider than the screen
    for line in outcome.lines:
        for piece in _wrap(line, console.width):
            console.print(piece, markup=False, highlight=False, no_wrap=True, crop=False,
                          overflow="ignore")
    return exit_code


def _wrap(line: str, width: int) -> list[str]:
    """A line wrapped at words to ``width``, its indent kept; a word wider than the screen
    (a path, an ARN) stays whole on a line of its own for the terminal to wrap softly, as in
    tables — never folded with a newline inside it."""
    import textwrap

    if len(line) <= width:
        return [line]
    indent = line[:len(line) - len(line.lstrip(" "))]
    return textwrap.wrap(line, width, initial_indent="", subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False) or [line]


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
