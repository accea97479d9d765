"""``garmaxctl health``: every check of the stage, concurrently; ``--watch N`` re-runs."""

from __future__ import annotations

import time
from typing import Any

import typer

from garmaxctl import output
from garmaxctl.cli import options
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
    if watch is not None and output.is_json():
        raise UsageError("--watch is for people: with -o json run `health` once per poll "
                         "(JSON mode prints exactly one document)")
    if count is not None and watch is None:
        raise UsageError("--count only applies with --watch")
    runs = 0
    while True:
        report = run_health(opts.target.fresh(), timeout=timeout)
        runs += 1
        if watch is not None and output.stdout_console().is_terminal:
            output.stdout_console().clear()
        outcome = health_outcome(report)
        if watch is None or (count is not None and runs >= count):
            return outcome
        output.show(outcome)
        output.note(f"next run in {watch:g} s (Ctrl-C to stop)")
        time.sleep(watch)
