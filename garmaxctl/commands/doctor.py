"""``garmaxctl doctor``."""

from __future__ import annotations

import typer

from garmaxctl import output
from garmaxctl.commands import options


def doctor(ctx: typer.Context) -> None:
    """Check tools, credentials, the emulator (LOCAL) and .env for the stage."""
    from garmaxctl.services.doctor import run_doctor

    opts = options(ctx)
    report = run_doctor(opts.aws, opts.env())
    table = output.Table(columns=("check", "status", "detail", "fix"),
                         rows=[(c.name, c.status, c.detail, c.fix) for c in report.checks],
                         title=f"doctor — stage {report.stage}")
    failed = len(report.failed)
    summary = "all checks passed" if report.ok else f"{failed} check(s) failed"
    code = output.emit(output.Outcome(
        data=report, tables=[table], lines=[summary], exit_code=0 if report.ok else 1,
        error=None if report.ok else {"code": "doctor_failed", "message": summary}))
    if code:
        raise typer.Exit(code)


ORDER = 10


def register(root: typer.Typer) -> None:
    root.command("doctor", help=doctor.__doc__)(doctor)
