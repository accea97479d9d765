"""``garmaxctl doctor`` (and ``doctor --permissions``: what the caller may run)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from garmaxctl import output
from garmaxctl.cli import GlobalOptions, options
from garmaxctl.result import view
from garmaxctl.shared.errors import OperationError, UsageError

if TYPE_CHECKING:
    from garmaxctl.services.access import AccessReport


def doctor(ctx: typer.Context,
           permissions: bool = typer.Option(
               False, "--permissions",
               help="Real stages: which commands the caller may run, by IAM's policy "
                    "simulator (docs/security.md).")) -> output.Outcome:
    """Check tools, credentials, the emulator (LOCAL) and .env for the stage."""
    from garmaxctl.services.doctor import run_doctor

    opts = options(ctx)
    if permissions:
        return _permissions(opts)
    report = run_doctor(opts.aws, opts.env())
    table = output.Table(columns=("check", "status", "detail", "fix"),
                         rows=[(c.name, c.status, c.detail, c.fix) for c in report.checks],
                         title=f"doctor — stage {report.stage}")
    failed = len(report.failed)
    summary = "all checks passed" if report.ok else f"{failed} check(s) failed"
    return output.Outcome(
        data={"stage": report.stage,
              "checks": view(report.checks, ("name", "status", "detail", "fix"))},
        tables=[table], lines=[summary],
        failure=None if report.ok else OperationError(summary, code="doctor_failed"))


def _permissions(opts: GlobalOptions) -> output.Outcome:
    from garmaxctl.services.access import check_access

    if opts.stage_config.is_local:
        raise UsageError(
            "doctor --permissions asks IAM's policy simulator about a real stage; LOCAL has "
            "no IAM to ask (the embedded emulator lacks SimulatePrincipalPolicy)",
            code="real_stage_only", hint="pass --stage DEV, QA or PROD")
    return permissions_outcome(check_access(opts.target))


def permissions_outcome(report: AccessReport) -> output.Outcome:
    rows = [(c.command, c.verdict, denied_cell({d.action for d in c.denied}) or "-")
            for c in report.commands]
    table = output.Table(columns=("command", "verdict", "denied"), rows=rows,
                         stacked=("denied",),
                         title=f"doctor --permissions — stage {report.stage}")
    denied = report.denied_commands
    lines = [f"caller: {report.caller}"]
    if report.principal != report.caller:
        lines.append(f"simulated as: {report.principal}")
    lines += report.notes
    lines.append(f"{len(report.commands) - len(denied)} of {len(report.commands)} commands "
                 "allowed" + (f"; cannot run: {', '.join(denied)}" if denied else ""))
    data = {"stage": report.stage, "caller": report.caller, "principal": report.principal,
            "notes": report.notes, "requests": report.requests,
            "denied_commands": denied,
            "commands": [{"command": c.command, "verdict": c.verdict,
                          "denied": [{"action": d.action, "resource": d.resource,
                                      "decision": d.decision} for d in c.denied]}
                         for c in report.commands]}
    return output.Outcome(data=data, tables=[table], lines=lines)


DENIED_WIDTH = 40  # with the command and the verdict, the table fits 80 columns whole


def denied_cell(actions: set[str], width: int = DENIED_WIDTH) -> str:
    """The denied actions by service, ``ssm: DeleteParameter PutParameter``, in lines of at
    most ``width`` characters (a longer action alone on its line), so that no command name
    is folded to make room at 80 columns."""
    by_service: dict[str, list[str]] = {}
    for action in sorted(actions):
        service, _, name = action.partition(":")
        by_service.setdefault(service, []).append(name)
    lines: list[str] = []
    for service, names in by_service.items():
        line = f"{service}:"
        for name in names:
            if len(line) + 1 + len(name) <= width:
                line += " " + name
            else:
                lines.append(line)
                line = "  " + name
        lines.append(line)
    return "\n".join(lines)
