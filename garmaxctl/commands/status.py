"""``garmaxctl status``: one screen per stage; ``--all-stages`` side by side."""

from __future__ import annotations

from typing import Any

import typer

from garmaxctl import output
from garmaxctl.cli import options


def _spend(spend: dict[str, Any] | None) -> str:
    if not spend:
        return "-"
    return (f"${spend['spent_usd']:.2f} of ${spend['budget_usd']:.2f} "
            f"({spend['percent']:.1f}%, {spend['level']})")


def _idle(s: Any) -> str:
    if not s.idle:
        return "no"
    return f"idle since {s.idle_since or '?'} ({s.idle_phase or '?'})"


def _health(s: Any) -> str:
    if not s.health:
        return "-"
    counts = s.health_counts
    if not counts:
        return s.health
    return f"{s.health} ({counts.get('ok', 0)} ok, {counts.get('fail', 0)} fail, " \
           f"{counts.get('warn', 0)} warn, {counts.get('idle', 0)} idle)"


def status(
    ctx: typer.Context,
    all_stages: bool = typer.Option(False, "--all-stages",
                                    help="Every stage side by side (each with its profile)."),
    timeout: float = typer.Option(10.0, "--timeout", min=0.1,
                                  help="Seconds each health check may take."),
) -> output.Outcome:
    """Deployed version, health summary, alarms in ALARM, idle state and today's spend
    against the daily budget — for the stage, or every stage with --all-stages."""
    from garmaxctl.services import status as service

    opts = options(ctx)
    if all_stages:
        report = service.all_stages_status(health_timeout=timeout, command=output.options().command)
        rows = [(s.stage, "yes" if s.reachable else "UNREACHABLE",
                 s.version or "-", s.health or (s.error or "-"),
                 ", ".join(s.alarms_in_alarm) or "-", _idle(s) if s.reachable else "-",
                 _spend(s.spend)) for s in report.stages]
        lines = [f"note: {n}" for n in report.notes]
        lines += [f"{s.stage} unreachable: {s.error}" for s in report.stages if not s.reachable]
        return output.Outcome(
            data={"stages": report.stages, "notes": report.notes},
            tables=[output.Table(columns=("stage", "reachable", "version", "health",
                                          "alarms in ALARM", "idle", "spend today"),
                                 rows=rows, title="status — all stages")],
            lines=lines)
    state = service.stage_status(opts.target, health_timeout=timeout)
    pairs = [("version", state.version or "- (no deploy marker)"),
             ("deployed at", state.deployed_at), ("deployed by", state.deployed_by),
             ("health", _health(state)),
             ("alarms in ALARM", ", ".join(state.alarms_in_alarm) or "none"),
             ("idle", _idle(state)), ("spend today", _spend(state.spend))]
    return output.Outcome(
        data=state, tables=[output.kv_table(pairs, title=f"status — stage {state.stage}")],
        lines=[f"problem: {p}" for p in state.problems])
