"""``garmaxctl dr restore-db | drill``: point-in-time restore of the stage's Aurora cluster
to a new cluster, and the drill that proves it works (``garmaxctl.services.dr``;
docs/dr.md)."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import typer

from garmaxctl import output
from garmaxctl.cli import confirm, options
from garmaxctl.shared.errors import OperationError, UsageError

TIMEOUT = typer.Option("60m", "--timeout",
                       help="How long to wait for the cluster and its writer (15m, 2h).")


def _seconds(text: str) -> float:
    import datetime as dt

    from garmaxctl.stage.timerange import parse_time

    now = dt.datetime.now(dt.UTC)
    seconds = 0.0
    if re.match(r"^\s*\d+\s*[a-zA-Z]+\s*$", text):  # a duration, not a timestamp
        with contextlib.suppress(UsageError):
            seconds = (now - parse_time(text, now=now)).total_seconds()
    if seconds <= 0:
        raise UsageError(f"--timeout {text!r} is not a duration", code="usage",
                         hint="use 30m, 1h or 2h")
    return seconds


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_value(v) if not isinstance(v, dict) else
                         f"{v.get('Key')}={v.get('Value')}" for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(output.to_jsonable(value))


def _request_lines(requests: list[Any], dry_run: bool) -> list[str]:
    lines = []
    for request in requests:
        lines.append(f"{'would send' if dry_run else 'sent'} {request.operation}:")
        lines += [f"  {key}: {_value(value)}" for key, value in request.params.items()]
    return lines


def _params_lines(result: Any) -> list[str]:
    lines = []
    for change in result.params:
        lines.append(f"  {change.key}: {change.action}"
                     + (f" ({change.note})" if change.note else ""))
        lines += [f"    {word} {value}" for word, value in (("from", change.old),
                                                           ("to  ", change.new)) if value]
    return lines


def restore_db(
    ctx: typer.Context,
    to: str | None = typer.Option(None, "--to",
                                  help="The time to restore to: 2h, 1d or an ISO time."),
    latest: bool = typer.Option(False, "--latest", help="The latest restorable time."),
    name: str | None = typer.Option(None, "--name",
                                    help="The new cluster's name (default "
                                         "{source}-restored-{YYYYMMDDHHMM})."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Show exactly what would be sent; change nothing."),
    timeout: str = TIMEOUT,
    env_out: Path | None = typer.Option(None, "--env-out",
                                        help="Write RDS_HOST and DATABASE_URL for the new "
                                             "cluster to this file (mode 0600)."),
) -> output.Outcome:
    """Restore the stage's Aurora cluster at a point in time to a NEW cluster (its
    settings copied), create its writer, wait; print the params change to switch to it."""
    from garmaxctl.services import dr

    opts = options(ctx)
    if (to is None) == (not latest):
        raise UsageError("give exactly one of --to TIME and --latest", code="usage",
                         hint="--to 2h, --to 2025-01-31T14:00:00Z or --latest")
    seconds = _seconds(timeout)
    dr.require_database(opts.target)
    if not dry_run:
        confirm(opts, "restore the database to a new cluster")
    with output.progress("dr restore-db") as line:
        result = dr.restore_db(opts.target, to=to, latest=latest, name=name,
                               dry_run=dry_run, timeout_s=seconds, env_out=env_out,
                               progress=line)
    summary = output.kv_table([
        ("source", result.source), ("new cluster", result.cluster),
        ("instance", ", ".join(result.instances) or "-"),
        ("restore to", result.restore_to), ("window", result.window.text()),
        ("status", result.status)],
        title=f"dr restore-db — stage {result.stage}" + (" (dry run)" if result.dry_run
                                                        else ""))
    tables = [summary]
    if result.phases:
        tables.append(output.Table(columns=("phase", "seconds", "status"),
                                   rows=[(p.name, f"{p.seconds:.0f}", p.status)
                                         for p in result.phases]))
    lines = _request_lines(result.requests, result.dry_run)
    if result.endpoint:
        lines.append(f"endpoint: {result.endpoint}"
                     + (" (predicted: the source's suffix)" if result.endpoint_predicted
                        else ""))
    if result.params:
        lines.append("params change to switch the stage to it:")
        lines += _params_lines(result)
        if result.env_out:
            lines.append(f"written to {result.env_out} (0600): put these lines in .env, "
                         "then `garmaxctl params plan` and `garmaxctl params push`")
        else:
            lines.append("put these in .env (--env-out FILE writes them), then "
                         "`garmaxctl params plan` and `garmaxctl params push`")
    if result.dry_run and env_out is not None:
        lines.append(f"--env-out: {env_out} is not written in a dry run")
    lines.append(f"dry run: nothing was sent; {result.cluster} would be created"
                 if result.dry_run else f"{result.cluster} is available")
    changed = [] if result.dry_run else [f"created cluster {result.cluster}"]
    return output.Outcome(data=result, tables=tables, lines=lines,
                          audit=output.Audit(changed=changed))


def drill(ctx: typer.Context, timeout: str = TIMEOUT) -> output.Outcome:
    """DEV/QA: restore to a throw-away cluster at the latest time, check it, delete it
    (always), and report how long the restore took."""
    from garmaxctl.services import dr

    opts = options(ctx)
    seconds = _seconds(timeout)
    # No confirmation to ask: the drill refuses PROD outright and changes no stage's own
    # resources elsewhere (it creates and deletes a throw-away cluster).
    with output.progress("dr drill") as line:
        report = dr.drill(opts.target, timeout_s=seconds, progress=line)
    table = output.Table(columns=("phase", "seconds", "status"),
                         rows=[(p.name, f"{p.seconds:.0f}", p.status)
                               for p in report.phases],
                         title=f"dr drill — stage {report.stage}")
    lines = [f"throw-away cluster: {report.cluster} (from {report.source})"]
    lines += [f"{p.name}: {p.detail}" for p in report.phases if p.detail]
    if report.restore_seconds is not None:
        lines.append(f"restore took {report.restore_seconds:.0f} s (cluster and writer "
                     "available)")
    failure = None
    if report.left_behind:
        lines.append("left behind: " + "; ".join(report.left_behind))
        failure = OperationError(f"drill cleanup failed: left {'; '.join(report.left_behind)}",
                                 code="cleanup_failed")
    elif not report.ok:
        failure = OperationError(f"drill failed: {report.error}", code="drill_failed")
    lines.append("drill passed; throw-away cluster deleted" if report.ok else
                 f"drill failed: {report.error}")
    changed = [f"created and deleted {report.cluster}"] + [
        f"left behind: {x}" for x in report.left_behind]
    return output.Outcome(data=report, tables=[table], lines=lines, failure=failure,
                          audit=output.Audit(changed=changed))
