"""``garmaxctl audit``: list, show and verify the audit trail of mutating commands.

The records are written by the app's audit hook (``garmaxctl.app.audit``); these commands
only read them (docs/security.md, "Audit trail"). ``--stage`` filters only when given
(on the command line or in ``GARMAX_STAGE``): by default every stage's chain is read.
"""

from __future__ import annotations

from typing import Any

import typer

from garmaxctl import output
from garmaxctl.cli import options
from garmaxctl.shared.errors import OperationError, UsageError


def _stages(ctx: typer.Context) -> list[str]:
    """The stages to read: the one given with --stage / GARMAX_STAGE, else every chain."""
    from typer._click.core import ParameterSource

    from garmaxctl.services import audit as svc

    root = ctx.find_root()
    if root.get_parameter_source("stage") in (None, ParameterSource.DEFAULT,
                                              ParameterSource.DEFAULT_MAP):
        return svc.stages_on_disk()
    return [options(ctx).stage.value]


def _when(record: dict[str, Any]) -> str:
    text = str(record.get("time", ""))
    return text[:16].replace("T", " ")  # "2026-11-29 09:15" (UTC): 16 columns


def list_(
    ctx: typer.Context,
    since: str = typer.Option("7d", "--since", help="How far back: 15m, 2h, 7d, 1w, or an "
                                                    "ISO timestamp."),
    command: str | None = typer.Option(None, "--command",
                                       help="Only this command, or a group (`params`)."),
) -> output.Outcome:
    """The audit records of mutating commands, oldest first: when, run id, stage, command,
    exit code and whether the record reached the stage's log group (or is pending)."""
    from garmaxctl.services import audit as svc
    from garmaxctl.stage.timerange import parse_time

    start = parse_time(since)
    wanted = " ".join(command.split()).lower() if command else None
    rows: list[dict[str, Any]] = []
    for stage in _stages(ctx):
        sent = svc.sent_seq(stage)
        for record in svc.records(stage):
            if str(record.get("time", "")) < svc.iso(start):
                continue
            name = str(record.get("command", ""))
            if wanted and name != wanted and not name.startswith(wanted + " "):
                continue
            rows.append({**{k: record.get(k) for k in (
                "run_id", "time", "stage", "command", "outcome", "exit_code", "caller",
                "seq")}, "remote": "sent" if record.get("seq", 0) <= sent else "pending"})
    rows.sort(key=lambda r: str(r["time"]))
    return output.Outcome(data={"since": start, "records": rows},
                          tables=[list_table(rows, svc.iso(start))],
                          lines=[f"{len(rows)} record(s); `garmaxctl audit show RUN` for "
                                 "one in full"])


def list_table(rows: list[dict[str, Any]], since: str) -> output.Table:
    """``audit list``'s table: six short columns, whole at an 80-column terminal."""
    return output.Table(columns=("time (UTC)", "run", "stage", "command", "exit", "remote"),
                        rows=[(_when(r), r["run_id"], r["stage"], r["command"],
                               r["exit_code"], r["remote"]) for r in rows],
                        title=f"audit trail since {since[:16].replace('T', ' ')}")


def show(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., metavar="RUN", help="The run id (or its first "
                                                          "characters, 4 at least)."),
) -> output.Outcome:
    """One audit record in full: caller, arguments (secrets removed), plan digest, what
    changed, outcome, its place in the chain."""
    from garmaxctl.services import audit as svc

    wanted = run_id.strip().lower()
    if len(wanted) < 4:
        raise UsageError(f"run id {run_id!r} is too short", code="bad_run_id",
                         hint="give 4 characters at least (see `garmaxctl audit list`)")
    found = [(stage, r) for stage in _stages(ctx) for r in svc.records(stage)
             if str(r.get("run_id", "")).startswith(wanted)]
    if not found:
        raise UsageError(f"no audit record of run {run_id!r}", code="not_found",
                         hint="see `garmaxctl audit list --since 30d`")
    if len({r.get("run_id") for _, r in found}) > 1:
        raise UsageError(f"run id {run_id!r} is ambiguous", code="bad_run_id",
                         hint="give more characters")
    stage, record = found[0]
    remote = "sent" if record.get("seq", 0) <= svc.sent_seq(stage) else "pending"
    pairs = [(k, record.get(k)) for k in ("run_id", "time", "started", "caller", "stage",
                                          "command", "outcome", "exit_code", "plan_digest")]
    pairs += [(f"argument {k}", v) for k, v in (record.get("arguments") or {}).items()]
    pairs += [("changed", c) for c in record.get("changed") or []]
    pairs += [("seq", record.get("seq")), ("remote", remote)]
    # Lines, not a table: an ARN or a digest is longer than an 80-column cell.
    return output.Outcome(data={**record, "remote": remote},
                          lines=[f"{k}: {'-' if v is None else v}" for k, v in pairs])


def verify(ctx: typer.Context) -> output.Outcome:
    """Check each local chain link by link (an edited, deleted or reordered record) and the
    stage's tail against the head kept in SSM (when reachable): exit 1 at the first broken
    link."""
    from garmaxctl.services import audit as svc

    opts = options(ctx)
    checks = []
    for stage in _stages(ctx) or [opts.stage.value]:
        head, head_note = None, "not checked: another stage than --stage"
        if stage == opts.stage.value:
            try:
                head = svc.read_head(opts.target, stage)
                head_note = "none in SSM" if head is None else ""
            except Exception as exc:  # unreachable: the local chain is still checked
                head_note = f"not checked: {getattr(exc, 'code', type(exc).__name__)}"
        check = svc.verify_chain(stage, head)
        if head_note and check.head == "not checked":
            check.head = head_note
        checks.append(check)
    rows = [(c.stage, c.records, "ok" if c.ok else "fail", c.head) for c in checks]
    lines = [f"{c.stage}: line {c.line}: {c.problem}" for c in checks if not c.ok]
    broken = [c for c in checks if not c.ok]
    failure = None
    if broken:
        first = broken[0]
        failure = OperationError(f"audit chain {first.stage} broken at line {first.line}: "
                                 f"{first.problem}", code="audit_chain_broken")
    table = output.Table(columns=("stage", "records", "chain", "head in SSM"), rows=rows,
                         title="audit verify")
    return output.Outcome(data={"chains": checks}, tables=[table], lines=lines,
                          failure=failure)
