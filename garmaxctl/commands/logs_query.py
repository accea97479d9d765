"""``garmaxctl logs query`` and ``logs errors``: CloudWatch Logs Insights over the stage's
function log groups, with presets from the deployment guide (docs/logs.md, "Logs
Insights"). The footer says what the query scanned and what that cost ($0.005/GB)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import typer

from garmaxctl import completion, output
from garmaxctl.cli import GlobalOptions, options

WIDTH = 80  # every table reads at an 80-column terminal
LONG = 32  # a value longer than this is shown as a stacked line, not in a column
FUNCTIONS = typer.Argument(None, metavar="[FUNCTION]...",
                           autocompletion=completion.functions,
                           help="api, webhook, tryon, render, billing (default: the "
                                "preset's, else all five).")
SINCE = typer.Option(None, "--since", help="How far back: 15m, 1h, 7d, or an ISO time "
                                           "(default: the preset's, else 1h).")
FROM = typer.Option(None, "--from", metavar="TIME", help="Start (ISO time, or 2h ago).")
UNTIL = typer.Option(None, "--until", metavar="TIME", help="End (default now).")
TIMEOUT = typer.Option("60s", "--timeout", help="Stop the query (StopQuery) after this "
                                                 "long: 30s, 5m.")
MAX_SCAN = typer.Option(None, "--max-scan-gb", metavar="GB",
                        help="Refuse a query whose log groups hold more than this (their "
                             "stored bytes: an upper bound of what it scans).")


def _seconds(text: str) -> float:
    from garmaxctl.shared.errors import UsageError

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*", text)
    if match is None or float(match.group(1)) <= 0:
        raise UsageError(f"cannot use {text!r} as a timeout", hint="give 30s, 2m or 1h")
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2) or "s"]


def _presets(opts: GlobalOptions) -> dict[str, Any]:
    from garmaxctl.services.logs import presets

    return presets.load(presets.project_file(opts.env_file))


def _status_line(line: Callable[[str], None]) -> Callable[[str], None]:
    """Tell the progress line each new status of the query (not every poll)."""
    seen: list[str] = []

    def update(status: str) -> None:
        if not seen or seen[-1] != status:
            seen.append(status)
            line(f"query {status.lower()}")

    return update


def query(
    ctx: typer.Context,
    functions: list[str] | None = FUNCTIONS,
    preset: str | None = typer.Option(None, "--preset", help="A preset by name (--list)."),
    query_text: str | None = typer.Option(None, "--query", metavar="TEXT",
                                          help="A Logs Insights query of your own."),
    list_: bool = typer.Option(False, "--list", help="Show the presets and their queries."),
    since: str | None = SINCE,
    from_: str | None = FROM,
    until: str | None = UNTIL,
    timeout: str = TIMEOUT,
    max_scan_gb: float | None = MAX_SCAN,
) -> output.Outcome:
    """Run a Logs Insights query (a preset or your own) over the functions' log groups:
    polled with back-off, stopped at --timeout, with the bytes scanned and their cost."""
    from garmaxctl.services.logs import query as insights
    from garmaxctl.shared.errors import UsageError
    from garmaxctl.stage.log_groups import parse_functions
    from garmaxctl.stage.timerange import parse_range

    opts = options(ctx)
    if list_:
        return list_outcome(_presets(opts))
    if (preset is None) == (query_text is None):
        raise UsageError("give exactly one of --preset NAME or --query TEXT",
                         hint="`garmaxctl logs query --list` shows the presets")
    chosen = None
    if preset is not None:  # a project's preset file is read only when a preset is used
        from garmaxctl.services.logs.presets import find

        chosen = find(_presets(opts), preset)
    text = chosen.query_text() if chosen is not None else str(query_text)
    names = list(functions or []) or list(chosen.functions if chosen else ())
    wanted = parse_functions(names)
    poll = insights.Poll(timeout_s=_seconds(timeout))
    start, end = parse_range(since=since, from_=from_, until=until,
                             default_since=chosen.since if chosen else "1h")
    groups = insights.groups_for(opts.target, wanted)
    with output.progress("Logs Insights") as line:
        result = insights.run_query(opts.target, text, groups, start, end,
                                    preset=chosen.name if chosen else None, poll=poll,
                                    max_scan_gb=max_scan_gb, on_status=_status_line(line))
    return query_outcome(result)


def errors(
    ctx: typer.Context,
    functions: list[str] | None = FUNCTIONS,
    since: str | None = typer.Option(None, "--since",
                                     help="How far back: 15m, 1h (default), 7d, ISO time."),
    from_: str | None = FROM,
    until: str | None = UNTIL,
    by: str | None = typer.Option(None, "--by", help="The bin: 1m, 5m (default), 1h, 1d."),
    timeout: str = TIMEOUT,
    max_scan_gb: float | None = MAX_SCAN,
) -> output.Outcome:
    """Errors per function and time bin (the errors preset, counted): Powertools ERROR
    lines, Lambda's [ERROR] lines and timeouts."""
    from garmaxctl.services.logs import presets as preset_file
    from garmaxctl.services.logs import query as insights
    from garmaxctl.stage.log_groups import parse_functions
    from garmaxctl.stage.timerange import parse_range

    opts = options(ctx)
    chosen = preset_file.find(_presets(opts), preset_file.ERRORS_PRESET)
    period = preset_file.check_bin(by or chosen.bin or "5m")
    wanted = parse_functions(list(functions or []) or list(chosen.functions))
    poll = insights.Poll(timeout_s=_seconds(timeout))
    start, end = parse_range(since=since, from_=from_, until=until,
                             default_since=chosen.since)
    with output.progress("Logs Insights") as line:
        report = insights.errors(opts.target, wanted, start, end, by=period, preset=chosen,
                                 poll=poll, max_scan_gb=max_scan_gb,
                                 on_status=_status_line(line))
    return errors_outcome(report)


# --------------------------------------------------------------------------- rendering

def short(text: str, width: int = 24) -> str:
    """A long id shortened in the middle (JSON keeps it whole)."""
    return text if len(text) <= width else f"{text[:width - 9]}…{text[-8:]}"


def _when(value: str) -> str:
    """Insights' ``2025-06-15 12:05:03.123`` without what adds nothing."""
    value = value[:19] if len(value) >= 19 else value
    return value[:16] if value.endswith(":00") else value


def display(result: Any, name: str, value: str) -> str:
    if name == "@log":
        return str(result.label(value))
    if name in ("@timestamp", "@ingestionTime") or name.startswith("bin("):
        return _when(value)
    if name == "@logStream":
        return short(value)
    return value


def _heading(name: str) -> str:
    return "function" if name == "@log" else name


def _fits(columns: list[str], rows: list[list[str]]) -> bool:
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    return sum(w + 3 for w in widths) + 1 <= WIDTH


def _usd(amount: float) -> str:
    if amount == 0:
        return "$0"
    return "< $0.0001" if amount < 0.0001 else f"${amount:,.4f}"


def span(result: Any) -> str:
    end = f"{result.end:%H:%M}" if result.end.date() == result.start.date() \
        else f"{result.end:%Y-%m-%d %H:%M}"
    return f"{result.start:%Y-%m-%d %H:%M} to {end} UTC"


def footer(result: Any) -> list[str]:
    size = result.bytes_scanned
    amount = f"{size / 1024 ** 2:,.2f} MB" if size >= 1024 ** 2 else f"{size:,} bytes"
    lines = [f"{span(result)}: scanned {result.records_scanned:,} records ({amount}), "
             f"{result.records_matched:,} matched; estimated cost {_usd(result.cost_usd)} "
             "($0.005 per GB scanned)"]
    if result.stored_bytes is not None:
        lines.append(f"the groups hold {result.stored_bytes / 1024 ** 3:.3f} GB (the bound "
                     "checked against --max-scan-gb)")
    if result.stage == "LOCAL":
        lines.append("LOCAL: run by the emulator's Logs Insights bridge; nothing billed")
    return lines


def query_outcome(result: Any) -> output.Outcome:
    """Short fields in the table; long ones (@message, ...) as stacked lines below it."""
    names = list(result.fields)
    shown = [[display(result, n, row.get(n, "")) for n in names] for row in result.rows]
    stacked = [n for i, n in enumerate(names)
               if n == "@message" or any(len(r[i]) > LONG for r in shown)]
    kept = [n for n in names if n not in stacked]
    while kept and not _fits(["#", *kept], [[str(i), *(r[names.index(n)] for n in kept)]
                                            for i, r in enumerate(shown, 1)]):
        widest = max(kept, key=lambda n: max(len(r[names.index(n)]) for r in shown))
        kept.remove(widest)
        stacked.append(widest)
    columns = (["#"] if stacked else []) + [_heading(n) for n in kept]
    rows = [([str(i)] if stacked else []) + [r[names.index(n)] for n in kept]
            for i, r in enumerate(shown, 1)]
    what = f"preset {result.preset}" if result.preset else "query"
    tables = [output.Table(columns=columns, rows=rows,
                           title=f"logs {what} — stage {result.stage}")] if kept else []
    lines: list[str] = []
    for i, r in enumerate(shown, 1):
        for n in stacked:
            value = r[names.index(n)]
            if value:
                lines.append(f"#{i} {_heading(n)}: " + value.replace("\n", "\n    "))
    if not result.rows:
        lines.append(f"no matching records ({what})")
    lines += footer(result)
    return output.Outcome(data=result, tables=tables, lines=lines)


def list_outcome(presets: dict[str, Any]) -> output.Outcome:
    items = sorted(presets.values(), key=lambda p: p.name)
    table = output.Table(
        columns=("preset", "since", "functions", "description"),
        rows=[(p.name, p.since, ", ".join(p.functions) or "all", p.description)
              for p in items], title="Logs Insights presets (logs query --preset NAME)")
    lines: list[str] = []
    for p in items:
        source = "" if p.source == "built-in" else f" (from {p.source})"
        lines += ["", f"{p.name}{source}:", *(f"  {line.rstrip()}" for line in
                                               p.query.splitlines())]
    return output.Outcome(data={"presets": items}, tables=[table], lines=lines)


def errors_outcome(report: Any) -> output.Outcome:
    """Time bins as rows, one column per function: reads at 80 columns for all five."""
    columns = ["bin (UTC)", *report.functions, "total"]
    rows: list[list[Any]] = [[_when(f"{b.start:%Y-%m-%d %H:%M:%S}"),
                              *(b.counts.get(f, 0) for f in report.functions), b.total]
                             for b in report.bins]
    if report.bins:
        rows.append(["total", *(report.totals[f] for f in report.functions), report.total])
    result = report.query
    tables = [output.Table(columns=columns, rows=rows,
                           title=f"errors by {report.by} — stage {report.stage}")]
    lines: list[str] = []
    if report.peak is not None:
        worst = max(report.peak.counts, key=lambda f: report.peak.counts[f])
        lines.append(f"peak: {report.peak.start:%Y-%m-%d %H:%M} UTC, {report.peak.total} "
                     f"errors ({worst}: {report.peak.counts[worst]}); bins without errors "
                     "are not shown")
    else:
        lines.append(f"no errors in {', '.join(report.functions)}")
    lines.append("details: garmaxctl logs query --preset errors")
    lines += footer(result)
    return output.Outcome(data=report, tables=tables, lines=lines)
