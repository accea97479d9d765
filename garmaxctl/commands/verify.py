"""``garmaxctl verify``: the guide's post-deployment checklist, one row per item."""

from __future__ import annotations

import typer

from garmaxctl import output
from garmaxctl.cli import options
from garmaxctl.result import PASS_WORDS, view
from garmaxctl.shared.errors import OperationError

MARKS = {"pass": "✓", "fail": "✗", "warn": "!", "skipped": "-"}
FIELDS = ("item=name", "section=group", "status", "detail", "fix")  # each row in JSON


def verify(
    ctx: typer.Context,
    allow_spend: bool = typer.Option(False, "--allow-spend",
                                     help="Real stages: render one sd image (costs money)."),
    token: str | None = typer.Option(None, "--token", envvar="GARMAX_API_TOKEN",
                                     help="Real stages: a Cognito ID token for the workflow."),
    domain: list[str] = typer.Option([], "--domain", metavar="HOST[:PORT]",
                                     help="Also check this domain's TLS certificate."),
    timeout: float = typer.Option(90.0, "--timeout", min=1.0,
                                  help="Seconds the try-on/render round trip may take."),
) -> output.Outcome:
    """Run the post-deployment checklist: functional, security and monitoring items, each
    ✓/✗/skipped with the fix. Exit 1 if any item fails (warnings do not fail)."""
    from garmaxctl.services.verify import run_verify

    opts = options(ctx)
    report = run_verify(opts.target, allow_spend=allow_spend, token=token, domains=domain,
                        smoke_timeout=timeout)
    rows = [(r.group, f"{MARKS.get(r.word(PASS_WORDS), '?')} {r.word(PASS_WORDS)}", r.name,
             r.detail, r.fix) for r in report.rows]
    s = report.summary
    summary = (f"{report.stage}: {s['pass']} passed, {s['fail']} failed, {s['warn']} warned, "
               f"{s['skipped']} skipped of {s['total']}")
    failed = "; ".join(f"{r.name}: {r.detail}" for r in report.rows if r.status == "fail")
    return output.Outcome(
        data={"stage": report.stage, "rows": view(report.rows, FIELDS, PASS_WORDS),
              "summary": report.summary,
              "duration_ms": report.duration_ms},
        tables=[output.Table(columns=("section", "result", "item", "detail", "fix"), rows=rows,
                             title=f"verify — stage {report.stage}")],
        lines=[summary],
        failure=None if report.ok else OperationError(f"{summary}: {failed}"[:500],
                                                      code="verify_failed"))
