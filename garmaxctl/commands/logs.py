"""``garmaxctl logs tail``: the functions' log lines, interleaved by time (docs/logs.md)."""

from __future__ import annotations

import shutil
import textwrap
from typing import Any

import typer

from garmaxctl import cli, completion, output

LABEL_WIDTH = 7  # "webhook", "billing", "access"
LEVEL_WIDTH = 5  # "ERROR"; WARNING and CRITICAL push the message right
LEVEL_STYLE = {"ERROR": "red", "CRITICAL": "bold red", "WARNING": "yellow", "DEBUG": "dim"}
MIN_MESSAGE_WIDTH = 24


def _label(label: str) -> str:
    """A group's label in the function column (a foreign group's full name shortened)."""
    return label if len(label) <= LABEL_WIDTH + 3 else "…" + label[-(LABEL_WIDTH + 2):]


def event_lines(event: Any, *, width: int, raw: bool = False) -> tuple[str, list[str]]:
    """(prefix, lines) of one event for people: ``HH:MM:SS fn LEVEL message``, the message
    wrapped on word boundaries below itself, the correlation id after it."""
    prefix = (f"{event.time:%H:%M:%S} {_label(event.function):<{LABEL_WIDTH}} "
              f"{(event.level or ''):<{LEVEL_WIDTH}} ")
    text = event.raw.rstrip("\n") if raw else event.message
    if event.correlation_id and not raw:
        text = f"{text} (correlation id {event.correlation_id})"
    room = max(width - len(prefix), MIN_MESSAGE_WIDTH)
    wrapped: list[str] = []
    for paragraph in text.splitlines() or [""]:
        wrapped += textwrap.wrap(paragraph.expandtabs(4), width=room, break_long_words=False,
                                 break_on_hyphens=False) or [""]
    indent = " " * len(prefix)
    return prefix, [(prefix if i == 0 else indent) + line for i, line in enumerate(wrapped)]


def _width() -> int:
    return shutil.get_terminal_size((80, 24)).columns


def _print_event(console: Any, event: Any, width: int, raw: bool) -> None:
    from rich.text import Text

    _, lines = event_lines(event, width=width, raw=raw)
    text = Text()
    for i, line in enumerate(lines):
        if i:
            text.append("\n")
        if i == 0 and event.level:
            start = len(f"{event.time:%H:%M:%S} {_label(event.function):<{LABEL_WIDTH}} ")
            text.append(line[:start])
            text.append(line[start:start + len(event.level)],
                        style=LEVEL_STYLE.get(event.level))
            text.append(line[start + len(event.level):])
        else:
            text.append(line)
    console.print(text, soft_wrap=True)


def _groups(groups: Any) -> str:
    return ", ".join(g.label for g in groups)


def tail(
    ctx: typer.Context,
    functions: list[str] | None = typer.Argument(
        None, metavar="[FUNCTION]...", autocompletion=completion.functions,
        help="api, webhook, tryon, render, billing (default: all five)."),
    all_groups: bool = typer.Option(False, "--all",
                                    help="Every log group of the stack (access log too)."),
    since: str = typer.Option("10m", "--since", help="Start: 15m, 2h, 1d or an ISO time."),
    follow: bool = typer.Option(False, "--follow", "-f",
                                help="Keep showing new lines until Ctrl-C."),
    filter_: str | None = typer.Option(None, "--filter", metavar="PATTERN",
                                       help="A CloudWatch Logs filter pattern."),
    level: str | None = typer.Option(None, "--level",
                                     help="Only lines at this level or above (ERROR, ...)."),
    raw: bool = typer.Option(False, "--raw", help="Lines as stored, START/END/REPORT too."),
) -> output.Outcome:
    """The functions' log lines since --since, interleaved by time: time, function, level,
    message and correlation id. --follow keeps following (Live Tail on real stages, billed
    per minute; FilterLogEvents polling with an endpoint override or over 10 groups)."""
    from garmaxctl.services.logs import tail as service
    from garmaxctl.stage import timerange

    target = cli.options(ctx).target
    tail_plan = service.plan(target, functions=functions or (), all_groups=all_groups,
                             since=timerange.parse_time(since), filter_pattern=filter_,
                             level=level, raw=raw)
    if not follow:
        found = service.window(target, tail_plan, on_note=output.note)
        width = _width()
        lines = [line for event in found.events
                 for line in event_lines(event, width=width, raw=raw)[1]]
        output.note(f"{found.stats.events} lines from {_groups(found.groups)} since "
                    f"{found.since:%H:%M:%S} UTC (FilterLogEvents, "
                    f"{found.stats.requests} requests)")
        return output.Outcome(data=found, lines=lines)
    return _follow(target, tail_plan, raw)


def _follow(target: Any, tail_plan: Any, raw: bool) -> output.Outcome:
    from garmaxctl.services.logs import tail as service

    follower = service.Follower(target, tail_plan)
    console = None if output.is_json() else output.stdout_console()
    width = _width()

    def show(event: Any) -> None:
        if console is None:
            output.stream_event("log", event)
        else:
            _print_event(console, event, width, raw)

    if tail_plan.transport == service.LIVE_TAIL:
        how = "Live Tail (billed per minute of session, about $0.01 a minute)"
    else:
        how = "FilterLogEvents polling (at most 1 request/s per group)"
    output.note(f"following {_groups(tail_plan.groups)} through {how}; Ctrl-C to stop")
    if output.is_json():
        output.begin_stream()
    with cli.until_ctrl_c():
        follower.run(show, on_note=output.note)
    summary = follower.summary()
    output.note(_footer(summary))
    return output.Outcome(data=summary)


def _footer(summary: Any) -> str:
    s = summary.stats
    text = (f"{s.events} lines shown, {s.duplicates} duplicates dropped, "
            f"{s.throttled} throttled answers")
    if s.sessions:
        return (f"{text}; Live Tail: {s.sessions} sessions, {s.reconnects} reconnects, "
                f"billed per minute: about {summary.live_tail_minutes} min, "
                f"${summary.live_tail_usd:.2f}")
    return f"{text}; {s.requests} FilterLogEvents requests"
