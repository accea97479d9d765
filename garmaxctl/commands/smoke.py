"""``garmaxctl smoke``: the guide's QA deployment tests, cleaned up afterwards."""

from __future__ import annotations

import typer

from garmaxctl import output
from garmaxctl.cli import confirm, options
from garmaxctl.result import PASS_WORDS, view
from garmaxctl.shared.errors import OperationError, UsageError


def smoke(
    ctx: typer.Context,
    allow_spend: bool = typer.Option(False, "--allow-spend",
                                     help="Real stages: allow the sd render (it costs money)."),
    token: str | None = typer.Option(None, "--token", envvar="GARMAX_API_TOKEN",
                                     help="Real stages: a Cognito ID token for the caller."),
    timeout: float = typer.Option(90.0, "--timeout", min=1.0,
                                  help="Seconds the whole round trip may take."),
) -> output.Outcome:
    """Create a try-on session and request an sd render through the API, then remove
    everything the run created (objects, items, messages) and check nothing is left."""
    from garmaxctl.services.smoke import run_smoke

    opts = options(ctx)
    if not opts.stage_config.is_local and not allow_spend:
        raise UsageError(f"smoke renders an image, which spends money on {opts.stage}: "
                         "pass --allow-spend")
    confirm(opts, "run the smoke test (it creates test data, renders an image and removes "
                  "them)")
    result = run_smoke(opts.target, allow_spend=allow_spend, token=token, timeout=timeout)
    rows = [(s.name, s.word(PASS_WORDS), "-" if s.latency_ms is None
             else f"{s.latency_ms:.0f} ms", s.detail) for s in result.steps]
    lines = [f"cleaned up: {len(result.cleaned)} thing(s) the run created"]
    if result.left_behind:
        lines.append("LEFT BEHIND: " + ", ".join(result.left_behind))
    lines += result.notes
    lines.append(f"smoke {'passed' if result.ok else 'FAILED'} on {result.stage}")
    failed = [f"{s.name}: {s.detail}" for s in result.steps if s.status == "fail"]
    message = "; ".join(failed + [f"left behind: {x}" for x in result.left_behind])[:500]
    data = output.to_jsonable(result)
    data["steps"] = view(result.steps, ("name", "status", "detail", "latency_ms"), PASS_WORDS)
    return output.Outcome(
        data=data,
        tables=[output.Table(columns=("step", "status", "time", "detail"), rows=rows,
                             title=f"smoke — stage {result.stage} (caller {result.user})")],
        lines=lines,
        failure=None if result.ok else OperationError(message, code="smoke_failed"),
        audit=output.Audit(changed=["smoke session and render created, then cleaned up"]
                           + [f"left behind: {x}" for x in result.left_behind]))
