"""``garmaxctl doctor``."""

from __future__ import annotations

import typer

from garmaxctl import output
from garmaxctl.cli import options
from garmaxctl.result import view
from garmaxctl.shared.errors import OperationError


def doctor(ctx: typer.Context) -> output.Outcome:
    """Check tools, credentials, the emulator (LOCAL) and .env for the stage."""
    from garmaxctl.services.doctor import run_doctor

    opts = options(ctx)
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
