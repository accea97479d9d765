"""``garmaxctl idle down | up | status``: scale a stage down while nobody uses it, restore it
exactly (the engine is ``garmaxctl.services.idle``; docs/idle.md)."""

from __future__ import annotations

import re
from typing import Any

import typer

from garmaxctl import output
from garmaxctl.cli import GlobalOptions, confirm, options
from garmaxctl.result import view
from garmaxctl.shared.errors import PartialFailureError

DRY_RUN = typer.Option(False, "--dry-run", help="Print the plan; change nothing.")
BREAK_LOCK = typer.Option(False, "--break-lock",
                          help="Break a stale idle lock (its lease expired) before running.")


def _engine(opts: GlobalOptions) -> Any:
    from garmaxctl.services.idle import IdleEngine

    opts.target.check_account()
    return IdleEngine(opts.target)


def _show(value: Any) -> str:
    from garmaxctl.services.idle import show_value

    return show_value(value)


# Below this width the resource column drops the names' common parts (``GarmaxAi-``,
# ``GarmaxAiStack-{STAGE}-``, ``-{STAGE}``) so that the tables read at 80 columns.
SHORT_NAMES_BELOW = 120


def _namer(stage: str) -> tuple[Any, str | None]:
    """(name -> name as the table shows it, the caption that says so)."""
    if output.table_width() >= SHORT_NAMES_BELOW:
        return (lambda name: name), None
    prefix = re.compile(rf"^(GarmaxAiStack-{re.escape(stage)}-|GarmaxA[iI]-)")
    suffix = re.compile(rf"-{re.escape(stage)}$")

    def short(name: str) -> str:
        return " ".join(suffix.sub("", prefix.sub("", word)) for word in str(name).split())

    return short, (f"names without GarmaxAi-/GarmaxAI-, GarmaxAiStack-{stage}- and "
                   f"-{stage} (-o json has them whole)")


def _render_report(report: Any) -> output.Outcome:
    short, caption = _namer(report.stage)
    rows = [(s.group, short(s.resource), s.attribute, _show(s.before), _show(s.after),
             s.status, s.detail)
            for s in report.steps if s.status != "unchanged" or report.dry_run]
    tables = [output.Table(columns=("group", "resource", "attribute", "from", "to", "status",
                                    "detail"), rows=rows, caption=caption,
                           title=f"idle {report.action} — stage {report.stage}"
                                 + (" (dry run)" if report.dry_run else ""))]
    if report.checks:
        tables.append(output.Table(columns=("check", "status", "detail"),
                                   rows=[(c.name, c.status, c.detail) for c in report.checks]))
    unchanged = sum(1 for s in report.steps if s.status == "unchanged")
    lines = [*report.notes]
    if report.lock_broken:
        lines.append(f"broke a stale lock held by {report.lock_broken['holder']} "
                     f"(lease expired {report.lock_broken['expires_at']})")
    if report.kept_running:
        lines.append("kept running: " + ", ".join(report.kept_running)
                     + " (Stripe events are queued while idle)")
    if report.archived_to:
        lines.append(f"snapshot archived to {report.archived_to}")
    done = sum(1 for s in report.steps if s.status == "done")
    summary = {
        "planned": f"dry run: {sum(1 for s in report.steps if s.status == 'planned')} "
                   f"change(s) planned, {unchanged} already in place; nothing was changed",
        "idle": f"stage {report.stage} is idle: {done} change(s), {unchanged} already in "
                f"place; snapshot {report.snapshot_param}",
        "already idle": f"stage {report.stage} is already idle; nothing to do",
        "restored": f"stage {report.stage} restored: {done} change(s), {unchanged} already "
                    "as recorded",
        "not idle": f"stage {report.stage} is not idle; nothing to restore",
    }.get(report.outcome)
    failed = not report.ok
    if failed:
        summary = (f"idle {report.action} failed: {report.error or 'a check failed'}; the "
                   f"snapshot is kept — run `garmaxctl idle {report.action}` again to finish")
    lines.append(summary or report.outcome)
    data = output.to_jsonable(report)
    data["checks"] = view(report.checks, ("name", "status", "detail"))
    changed = [f"{s.resource} {s.attribute}: {s.before} -> {s.after}"
               for s in report.steps if s.status == "done"]
    return output.Outcome(
        data=data, tables=tables, lines=lines,
        failure=PartialFailureError(summary or "failed") if failed else None,
        audit=output.Audit(changed=changed))


def down(ctx: typer.Context, dry_run: bool = DRY_RUN,
         break_lock: bool = BREAK_LOCK) -> output.Outcome:
    """Snapshot, then scale the stage down: API stopped, consumers paused (messages stay
    queued), rules disabled, ECS at 0, Aurora stopped; the Stripe webhook keeps running."""
    opts = options(ctx)
    if not dry_run:
        confirm(opts, "scale the stage down to idle")
    engine = _engine(opts)
    with output.progress(f"idle down {opts.stage}"):
        report = engine.down(dry_run=dry_run, break_lock=break_lock)
    return _render_report(report)


def up(ctx: typer.Context, dry_run: bool = DRY_RUN,
       break_lock: bool = BREAK_LOCK) -> output.Outcome:
    """Restore exactly what the snapshot recorded, in reverse order; read back, warm, probe
    /api/health, then archive the snapshot."""
    opts = options(ctx)
    if not dry_run:
        confirm(opts, "restore the stage from idle")
    engine = _engine(opts)
    with output.progress(f"idle up {opts.stage}"):
        report = engine.up(dry_run=dry_run, break_lock=break_lock)
    return _render_report(report)


def _duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    return (f"{days}d " if days else "") + f"{hours}h {mins}m"


def status(ctx: typer.Context) -> output.Outcome:
    """Live state beside the snapshot, drift, lock holder, time idle, estimated saving."""
    opts = options(ctx)
    result = _engine(opts).status()
    short, caption = _namer(result.stage)
    rows = [(r.group, short(r.resource), r.attribute, _show(r.recorded) if result.idle else "-",
             _show(r.idle), _show(r.live), "DRIFT" if r.drift else "", r.note)
            for r in result.resources]
    saving = result.saving
    tables = [
        output.Table(columns=("group", "resource", "attribute", "recorded", "idle", "live",
                              "drift", "note"), rows=rows, caption=caption,
                     stacked=("note", "drift"),
                     title=f"idle status — stage {result.stage}: "
                           + (result.phase or "not idle")),
        output.Table(columns=("resource", "detail", "$/hour", "$/month"),
                     rows=[(i["resource"], i["detail"], f"{i['per_hour']:.4f}",
                            f"{i['per_month']:.2f}") for i in saving.items]
                     + [("total", "", f"{saving.per_hour:.4f}", f"{saving.per_month:.2f}")],
                     title="estimated saving while idle (docs/idle.md price table)"),
        output.Table(columns=("resource", "detail", "$/hour", "$/month"),
                     rows=[(i["resource"], i["detail"], f"{i['per_hour']:.4f}",
                            f"{i['per_month']:.2f}") for i in saving.out_of_scope],
                     title="not idled (out of scope): what they would add"),
    ]
    lines = []
    if result.idle:
        lines.append(f"idle since {result.idle_since or '(not finished)'} "
                     f"({_duration(result.idle_for_s) or '-'}); snapshot by "
                     f"{result.created_by} at {result.created_at}")
    if result.lock:
        lines.append(f"lock: held by {result.lock.holder} ({result.lock.command}) since "
                     f"{result.lock.acquired_at}, lease until {result.lock.expires_at}"
                     + (" — STALE: break it with --break-lock" if result.lock.stale else ""))
    else:
        lines.append("lock: free")
    lines += [f"drift: {d}" for d in result.drift]
    if result.kept_running:
        lines.append("kept running while idle: " + ", ".join(result.kept_running))
    lines += result.notes
    return output.Outcome(data=result, tables=tables, lines=lines)
