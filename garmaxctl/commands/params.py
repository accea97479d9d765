"""``garmaxctl params``: plan / push / list / get / pull / history / rollback / restore /
export / import.

Thin: parse options, call ``garmaxctl.services.params``, render. Secrets appear only as a
short hash, except for ``get --decrypt`` and ``pull --decrypt`` (docs/params.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from garmaxctl import cli, output, permissions, run
from garmaxctl.cli import GlobalOptions, options
from garmaxctl.shared.errors import ChangesFound, PartialFailureError, UsageError

if TYPE_CHECKING:
    from garmaxctl.services.params import ParamsPlan, PushReport
    from garmaxctl.services.params.push import WriteResult

_PRUNE = typer.Option(False, "--prune", help="Delete extras: parameters in Parameter Store "
                                             "that the .env file does not have.")
_REPLACE_TYPE = typer.Option(False, "--replace-type",
                             help="Allow a String <-> SecureString type change.")
_DRY_RUN = typer.Option(False, "--dry-run", help="Show the plan; write nothing.")
PASSPHRASE_ENV = "GARMAX_EXPORT_PASSPHRASE"  # export/import: where the passphrase is read
_PASSPHRASE_ENV = typer.Option(PASSPHRASE_ENV, "--passphrase-env", metavar="NAME",
                               help="The environment variable holding the passphrase "
                                    "(asked on a terminal when it is unset).")


# ----------------------------------------------------------------------------- rendering

def _plan_tables(plan: ParamsPlan) -> list[output.Table]:
    rows = [(i.action, i.key or "-", i.name, i.type, i.old, i.new, i.note)
            for i in plan.items if i.action != "unchanged"]
    title = f"params plan — stage {plan.stage} ({plan.prefix}) from {plan.source}"
    return [output.Table(columns=("action", "key", "parameter", "type", "current", "new",
                                  "note"), rows=rows, title=title, key="key",
                         caption=plan.summary())]


def _plan_lines(plan: ParamsPlan) -> list[str]:
    lines = []
    if plan.ignored_keys:
        lines.append(f"not mapped (ignored): {', '.join(plan.ignored_keys)}")
    if plan.has_changes:
        pending = len(plan.pending)
        lines.append(f"{pending} write(s) pending: {plan.summary()}")
    else:
        lines.append(f"in sync: {plan.summary()}")
    return lines


def _plan_data(plan: ParamsPlan) -> dict[str, Any]:
    return {"plan": plan, "counts": plan.counts, "changes": plan.has_changes}


def _show_plan_on_stderr(plan: ParamsPlan) -> None:
    console = output.stderr_console()
    for table in _plan_tables(plan):
        console.print(output.render_table(table))


def _approve(opts: GlobalOptions, plan: ParamsPlan, action: str) -> None:
    """DESIGN.md "Confirmation": PROD always; a delete (``--prune``) on every stage."""
    from garmaxctl.shared.errors import ConfirmationRequired
    from garmaxctl.shared.stages import Stage

    deletes = bool(plan.deletes)
    if (opts.stage is Stage.PROD or deletes) and not opts.yes and cli.stdin_is_tty():
        _show_plan_on_stderr(plan)
    try:
        cli.confirm(opts, action, always=deletes)
    except ConfirmationRequired as exc:
        exc.data = _plan_data(plan)
        raise


def _report_outcome(report: PushReport, plan: ParamsPlan) -> output.Outcome:
    rows = [(r.action, r.key or "-", r.name, r.status, r.version, _detail(r))
            for r in report.results]
    table = output.Table(columns=("action", "key", "parameter", "status", "version",
                                  "detail"), rows=rows, key="key",
                         title=f"params — stage {report.stage} from {report.source}")
    written, failed = len(report.written), len(report.failed)
    lines = [f"plan: {plan.summary()}", f"{written} written, {failed} failed"]
    failure = None
    if failed:
        not_written = ", ".join(r.key or r.name for r in report.failed)
        message = f"{failed} of {len(report.results)} write(s) failed; not written: " \
                  f"{not_written}"
        # A failed type replacement says what the parameter holds now (put back, or lost).
        lines = [lines[0], message] + [f"{r.key or r.name}: {r.note}" for r in report.failed
                                       if r.note]
        # Refused by IAM: the one-line error names the action and the policy to attach.
        denied = next((r.error for r in report.failed
                       if r.error and r.error.startswith("AccessDenied: ")), None)
        failure = PartialFailureError(
            f"{denied}; {message}" if denied else message,
            hint=permissions.policy_hint(run.current().command) if denied else None)
        if denied:
            lines[1] = failure.one_line()
    data = {"report": report, "written": [r.key or r.name for r in report.written],
            "failed": [r.key or r.name for r in report.failed], "counts": plan.counts}
    changed = [f"{r.action} {r.key or r.name}" + (f" v{r.version}" if r.version else "")
               for r in report.written]
    return output.Outcome(data=data, tables=[table], lines=lines, failure=failure,
                          audit=output.Audit(changed=changed, plan=_plan_data(plan)))


def _detail(result: WriteResult) -> str | None:
    if not result.error_code:
        return result.note
    if result.error and result.error.startswith("recreate failed: "):
        return result.error  # names the AWS error code itself
    return f"{result.error_code}: {result.error}"


def _apply(opts: GlobalOptions, plan: ParamsPlan, *, dry_run: bool,
           verb: str) -> output.Outcome:
    """Shared by push, rollback and restore: show, confirm, write, report."""
    from garmaxctl.services import params as svc

    if dry_run or not plan.pending:
        if not dry_run:
            svc.check_pushable(plan)
        return output.Outcome(data=_plan_data(plan), tables=_plan_tables(plan),
                              lines=_plan_lines(plan))
    svc.check_pushable(plan)
    _approve(opts, plan, f"{verb} {len(plan.pending)} parameter change(s)")
    report = svc.push_plan(opts.target, plan, opts.stage_config.kms_alias)
    return _report_outcome(report, plan)


# ----------------------------------------------------------------------------- commands

def plan(
    ctx: typer.Context,
    prune: bool = _PRUNE,
    replace_type: bool = _REPLACE_TYPE,
    exit_code: bool = typer.Option(False, "--exit-code",
                                   help="Exit 3 when a push would write something."),
) -> output.Outcome:
    """Compare .env with Parameter Store: add / change / unchanged / skipped / extra."""
    from garmaxctl.services import params as svc

    opts = options(ctx)
    env = opts.env()
    for problem in env.problems:
        output.warn(f"{env.path}: {problem.key}: {problem.message}")
    result = svc.plan_from_env(opts.target, env, prune=prune, replace_type=replace_type)
    changed = exit_code and result.has_changes
    message = f"changes found: {result.summary()}"
    return output.Outcome(
        data=_plan_data(result), tables=_plan_tables(result), lines=_plan_lines(result),
        failure=ChangesFound(message) if changed else None)


def push(
    ctx: typer.Context,
    dry_run: bool = _DRY_RUN,
    prune: bool = _PRUNE,
    replace_type: bool = _REPLACE_TYPE,
) -> output.Outcome:
    """Write what differs from .env (PROD: confirm or --yes; --prune deletes extras)."""
    from garmaxctl.services import params as svc
    from garmaxctl.settings import require_valid

    opts = options(ctx)
    env = require_valid(opts.env())
    result = svc.plan_from_env(opts.target, env, prune=prune, replace_type=replace_type)
    return _apply(opts, result, dry_run=dry_run, verb="push")


def list_(ctx: typer.Context) -> output.Outcome:
    """Names, types, versions and last-modified dates (no values)."""
    from garmaxctl.services import params as svc

    opts = options(ctx)
    listed = svc.list_parameters(opts.target)
    rows = [(p.key or "-", p.name, p.type, p.version, p.last_modified)
            for p in listed.parameters]
    table = output.Table(columns=("key", "parameter", "type", "version", "last modified"),
                         rows=rows, title=f"params — stage {listed.stage} ({listed.prefix})")
    return output.Outcome(data=listed, tables=[table], lines=[f"{len(rows)} parameter(s)"])


def get(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The .env key, the relative path or the full path."),
    decrypt: bool = typer.Option(False, "--decrypt", help="Print a SecureString's value."),
) -> output.Outcome | None:
    """Print one parameter's raw value (for scripts); a secret only with --decrypt."""
    from garmaxctl.services import params as svc

    opts = options(ctx)
    value = svc.get_parameter(opts.target, name, decrypt=decrypt)
    if output.is_json():
        return output.Outcome(data=value, reveal=decrypt)
    typer.echo(value.value)
    return None


def pull(
    ctx: typer.Context,
    fmt: str = typer.Option("dotenv", "--format", help="dotenv or json."),
    out: Path | None = typer.Option(None, "--out", help="Write a 0600 file instead."),
    decrypt: bool = typer.Option(False, "--decrypt", help="Allow secrets on stdout."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out file."),
) -> output.Outcome | None:
    """Parameter Store as a .env (or JSON) document; secrets printed only with --decrypt."""
    from garmaxctl.services import params as svc

    opts = options(ctx)
    result = svc.pull(opts.target, fmt=fmt.lower(), out=out, decrypt=decrypt, force=force)
    for path in result.unmapped:
        output.note(f"not pulled (no .env key): {path}")
    if output.is_json() or out is not None:
        lines = [f"wrote {len(result.keys)} key(s) ({len(result.secret_keys)} secret) to "
                 f"{out} (mode 0600)"] if out is not None else []
        return output.Outcome(data=result, lines=lines, reveal=decrypt)
    typer.echo(result.content, nl=False)
    return None


def history(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The .env key, the relative path or the full path."),
) -> output.Outcome:
    """Every kept version of one parameter (secrets as a short hash)."""
    from garmaxctl.services import params as svc

    opts = options(ctx)
    result = svc.history(opts.target, name)
    rows = [(v.version, v.type, v.last_modified, v.modified_by,
             v.hash if v.value is None else v.value, ", ".join(v.labels) or None)
            for v in result.versions]
    table = output.Table(columns=("version", "type", "modified", "by", "value", "labels"),
                         rows=rows, title=f"history of {result.path}")
    return output.Outcome(data=result, tables=[table])


def rollback(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The .env key, the relative path or the full path."),
    to_version: int = typer.Option(..., "--to-version", min=1,
                                   help="Write this version's value as a new version."),
    dry_run: bool = _DRY_RUN,
    replace_type: bool = _REPLACE_TYPE,
) -> output.Outcome:
    """Write an earlier version's value back as a new version."""
    from garmaxctl.services import params as svc

    opts = options(ctx)
    result = svc.rollback_plan(opts.target, name, to_version=to_version,
                               replace_type=replace_type)
    return _apply(opts, result, dry_run=dry_run, verb="roll back")


def restore(
    ctx: typer.Context,
    as_of: str = typer.Option(..., "--as-of",
                              help="A time ago (15m, 2h, 1d) or an ISO timestamp (UTC "
                                   "when it has no offset)."),
    dry_run: bool = _DRY_RUN,
    prune: bool = typer.Option(False, "--prune",
                               help="Delete parameters created after that time."),
    replace_type: bool = _REPLACE_TYPE,
) -> output.Outcome:
    """Put the whole stage tree back as it was at a time, from each parameter's history."""
    from garmaxctl.services import params as svc
    from garmaxctl.stage.timerange import parse_time

    opts = options(ctx)
    moment = parse_time(as_of)
    result = svc.restore_plan(opts.target, as_of=moment, prune=prune,
                              replace_type=replace_type)
    return _apply(opts, result, dry_run=dry_run, verb="restore")


# ----------------------------------------------------------------------------- export/import

def _passphrase(env_name: str, *, confirm: bool) -> str:
    """From ``$NAME``; else asked on a terminal (twice for an export); else refused (exit 2):
    nothing waits for input in CI."""
    value = os.environ.get(env_name, "")
    if value:
        return value
    if not cli.stdin_is_tty():
        raise UsageError(f"no passphrase: {env_name} is unset or empty and there is no "
                         "terminal to ask", code="passphrase_required",
                         hint=f"set {env_name} (in CI, from a secret), or pass "
                              "--passphrase-env NAME, or use --recipient / --identity")
    value = typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm,
                         err=True)
    if not value:
        raise UsageError("an empty passphrase protects nothing", code="passphrase_required")
    return str(value)


def export(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="The encrypted file to write (mode 0600)."),
    recipient: list[str] = typer.Option([], "--recipient", metavar="AGE1...",
                                        help="Encrypt to this age public key instead of a "
                                             "passphrase (repeatable)."),
    passphrase_env: str = _PASSPHRASE_ENV,
    force: bool = typer.Option(False, "--force", help="Replace an existing --out file."),
) -> output.Outcome:
    """An age-encrypted backup of the stage's parameters (values, types, tiers, KMS keys)."""
    from garmaxctl.services import params as svc

    opts = options(ctx)
    if recipient:
        sealing = svc.Sealing(recipients=recipient)
    else:
        sealing = svc.Sealing(passphrase=_passphrase(passphrase_env, confirm=True))
    result = svc.export_parameters(opts.target, out=out, sealing=sealing, force=force)
    rows = [(p.name, p.type, p.tier, p.version) for p in result.parameters]
    table = output.Table(columns=("parameter", "type", "tier", "version"), rows=rows,
                         title=f"params export — stage {result.stage} ({result.prefix})")
    to = f"{len(recipient)} recipient(s)" if recipient else "a passphrase"
    lines = [f"wrote {len(rows)} parameter(s) ({result.secure} SecureString) to {out}",
             f"encrypted with age to {to}; mode 0600"]
    return output.Outcome(data=result, tables=[table], lines=lines)


def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A file `params export` wrote."),
    identity: Path | None = typer.Option(None, "--identity", metavar="FILE",
                                         help="The age secret key, for a file encrypted "
                                              "to a recipient."),
    passphrase_env: str = _PASSPHRASE_ENV,
    from_stage: str | None = typer.Option(None, "--from-stage", metavar="STAGE",
                                          help="Import a file exported from this other "
                                               "stage (it must match the file)."),
    dry_run: bool = _DRY_RUN,
    prune: bool = typer.Option(False, "--prune", help="Delete parameters under the stage's "
                                                      "prefix that the export lacks."),
    replace_type: bool = _REPLACE_TYPE,
) -> output.Outcome:
    """Put an export back: plan, then write what differs (like push)."""
    from garmaxctl.services import params as svc

    opts = options(ctx)
    data = svc.read_sealed(file)
    passphrase = None
    if svc.sealed_with(data, str(file)) == "passphrase" and identity is None:
        passphrase = _passphrase(passphrase_env, confirm=False)
    export_file = svc.open_export(data, source=str(file), passphrase=passphrase,
                                  identity=identity)
    result = svc.import_plan(opts.target, export_file, kms_alias=opts.stage_config.kms_alias,
                             from_stage=from_stage, prune=prune, replace_type=replace_type)
    return _apply(opts, result, dry_run=dry_run, verb="import")
