"""``garmaxctl health``: every check of the stage, concurrently; ``--watch N`` re-runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import typer

from garmaxctl import output
from garmaxctl.cli import options, until_ctrl_c
from garmaxctl.result import view
from garmaxctl.shared.errors import UnhealthyError, UsageError

FIELDS = ("name", "status", "detail", "latency_ms", "group", "data")  # each check in JSON


def health_outcome(report: Any) -> output.Outcome:
    """The report as a table of check / status / latency / detail, exit 1 unless healthy."""
    rows = [(c.name, c.status, "-" if c.latency_ms is None else f"{c.latency_ms:.0f} ms",
             c.detail) for c in report.checks]
    counts = report.counts()
    summary = (f"{report.stage}: {report.status} — {counts['ok']} ok, {counts['warn']} warn, "
               f"{counts['fail']} fail, {counts['idle']} idle, {counts['skipped']} skipped "
               f"in {report.duration_ms / 1000:.1f} s")
    data = {"stage": report.stage, "status": report.status, "idle": report.idle,
            "api_url": report.api_url, "duration_ms": report.duration_ms, "counts": counts,
            "checks": view(report.checks, FIELDS)}
    problems = "; ".join(f"{c.name}: {c.detail}" for c in report.problems())[:500]
    return output.Outcome(
        data=data,
        tables=[output.Table(columns=("check", "status", "latency", "detail"), rows=rows,
                             title=f"health — stage {report.stage}")],
        lines=[summary],
        failure=None if report.ok else UnhealthyError(f"{report.status}: {problems}"))


def health(
    ctx: typer.Context,
    watch: float | None = typer.Option(None, "--watch", metavar="N",
                                       help="Re-run every N seconds until Ctrl-C."),
    count: int | None = typer.Option(None, "--count", min=1,
                                     help="With --watch: stop after this many runs."),
    timeout: float = typer.Option(10.0, "--timeout", min=0.1,
                                  help="Seconds each check may take."),
) -> output.Outcome:
    """Check the stage: API, functions, queues and DLQs, tables, buckets, Aurora, Redis,
    required parameters, alarms — all at once. Exit 0 healthy, 1 degraded or unhealthy."""
    from garmaxctl.services.health import run_health

    opts = options(ctx)
    if watch is not None and watch <= 0:
        raise UsageError("--watch takes a positive number of seconds")
    if count is not None and watch is None:
        raise UsageError("--count only applies with --watch")
    if watch is None:
        return health_outcome(run_health(opts.target.fresh(), timeout=timeout))
    return watch_health(lambda: health_outcome(run_health(opts.target.fresh(),
                                                          timeout=timeout)),
                        interval=watch, count=count, sleep=sleep)


# The pause between two runs of --watch; tests replace it (they never wait the interval).
sleep: Callable[[float], None] = time.sleep


def watch_health(run: Callable[[], output.Outcome], *, interval: float, count: int | None,
                 sleep: Callable[[float], None]) -> output.Outcome:
    """``health --watch``: ``run`` every ``interval`` seconds until Ctrl-C (exit 0) or
    ``count`` runs (exit as the last run). Under ``-o json`` a stream: one ``report`` line
    per run (its ``data`` is what ``health -o json`` prints), then the closing line
    (docs/exit-codes.md, "Followers, watchers and streams")."""
    stream = output.is_json()
    if stream:
        output.begin_stream()
    runs, last = 0, None
    with until_ctrl_c():
        while True:
            last = run()
            runs += 1
            if not stream and output.stdout_console().is_terminal:
                output.stdout_console().clear()
            if stream:
                output.stream_event("report", last.data)
            if count is not None and runs >= count:
                if not stream:
                    return last  # people see the last run like a single `health`
                return output.Outcome(data=_watch_end(runs, last, "count"),
                                      failure=last.failure)
            if not stream:
                output.show(last)
                output.note(f"next run in {interval:g} s (Ctrl-C to stop)")
            sleep(interval)
    return output.Outcome(data=_watch_end(runs, last, "ctrl-c"))


def _watch_end(runs: int, last: output.Outcome | None, stopped_by: str) -> dict[str, Any]:
    """The closing line's ``data``: how many runs, the last one's status, why it ended."""
    return {"runs": runs, "last_status": None if last is None else last.data["status"],
            "stopped_by": stopped_by}
