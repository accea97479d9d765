"""``garmaxctl synth | diff | bootstrap | deploy | destroy | outputs``: the CDK app through
the pinned CDK CLI."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from garmaxctl import output
from garmaxctl.cli import GlobalOptions, confirm, options
from garmaxctl.shared.errors import ChangesFound, OperationError, UsageError

if TYPE_CHECKING:
    from garmaxctl.services.cdk import CdkProject


def _project(opts: GlobalOptions, label: str, *,
             reach: bool = True) -> tuple[CdkProject, output.progress]:
    """The CDK project for the run's stage; ``reach``: the command talks to the stage, so
    it is probed first (a stopped emulator fails at once, not after the CLI's retries)."""
    from garmaxctl.services.cdk import CdkProject

    project = CdkProject(aws=opts.aws)
    if reach:
        project.check_tools()  # a missing CDK CLI is said first: it is this machine's
        opts.target.connect()
    return project, output.progress(label)


def synth(
    ctx: typer.Context,
    validate: bool = typer.Option(False, "--validate", help="Run cfn-lint on the template."),
    force: bool = typer.Option(False, "--force", help="Synthesize even if nothing changed."),
) -> output.Outcome:
    """Synthesize GarmaxAiStack-{STAGE} (skipped when nothing that feeds it changed)."""
    opts = options(ctx)
    project, progress = _project(opts, f"cdk synth {opts.stage}", reach=False)
    with progress as line:
        project.progress = line
        result = project.synth(force=force)
    lines = [f"{result.stack}: {result.template}" +
             (" (unchanged, synthesis skipped)" if result.skipped else "")]
    tables = []
    failure = None
    if validate:
        result.lint = project.lint(result)
        if result.lint:
            tables.append(output.Table(columns=("rule", "level", "resource", "message"),
                                       rows=[tuple(f.values()) for f in result.lint],
                                       title="cfn-lint findings"))
            failure = OperationError(f"cfn-lint: {len(result.lint)} finding(s)",
                                     code="lint_failed")
        lines.append(f"cfn-lint: {len(result.lint)} finding(s)")
    return output.Outcome(data=result, tables=tables, lines=lines, failure=failure)


def diff(
    ctx: typer.Context,
    exit_code: bool = typer.Option(False, "--exit-code",
                                   help="Exit 3 when the stack would change."),
) -> output.Outcome:
    """Show what a deploy would change (the CDK diff)."""
    from garmaxctl.services import cdk

    opts = options(ctx)
    project, progress = _project(opts, f"cdk diff {opts.stage}")
    with progress as line:
        project.progress = line if opts.verbose else (lambda _l: None)
        result = cdk.diff(project)
    summary = "changes found" if result.has_changes else "no differences"
    changed = exit_code and result.has_changes
    return output.Outcome(
        data=result, lines=[*result.lines, summary],
        failure=ChangesFound(f"{result.stack} would change") if changed else None)


def bootstrap(ctx: typer.Context) -> output.Outcome:
    """Bootstrap the stage's account and region for the CDK (idempotent)."""
    from garmaxctl.services import cdk

    opts = options(ctx)
    confirm(opts, "bootstrap the CDK toolkit")
    project, progress = _project(opts, f"cdk bootstrap {opts.stage}")
    with progress as line:
        project.progress = line
        result = cdk.bootstrap(project)
    state = "bootstrapped" if result["changed"] else "already bootstrapped (no changes)"
    changed = [f"CDK toolkit in {result['environment']}"] if result["changed"] else []
    return output.Outcome(data=result, lines=[f"{result['environment']}: {state}"],
                          audit=output.Audit(changed=changed))


def deploy(
    ctx: typer.Context,
    require_approval: str = typer.Option(
        "never", "--require-approval",
        help="never | any-change | broadening (PROD: the diff is shown and confirmed first)."),
    hotswap: bool = typer.Option(False, "--hotswap",
                                 help="Update Lambda code in place (not on PROD)."),
    outputs_file: Path | None = typer.Option(None, "--outputs-file",
                                             help="Merge the outputs into this JSON file."),
    force: bool = typer.Option(False, "--force", help="Deploy even while the stage is idle."),
) -> output.Outcome:
    """Deploy GarmaxAiStack-{STAGE} through the CDK CLI; record a deploy marker."""
    from garmaxctl.services import cdk

    opts = options(ctx)
    if require_approval not in cdk.REQUIRE_APPROVAL:
        raise UsageError(f"--require-approval must be one of {', '.join(cdk.REQUIRE_APPROVAL)}")
    if hotswap and opts.stage_config.retain_data:
        raise UsageError("--hotswap is refused on PROD: it deploys around CloudFormation")
    _refuse_while_idle(opts, force)
    approve = None
    if opts.stage_config.stage.value == "PROD" and not opts.yes:
        def approve(result: cdk.DiffResult) -> None:
            for diff_line in result.lines:
                output.note(diff_line)
            if not result.has_changes:
                return
            confirm(opts, f"deploy these changes to {result.stack}")
    project, progress = _project(opts, f"cdk deploy {opts.stage}")
    with progress as line:
        project.progress = line
        result = cdk.deploy(project, require_approval=require_approval, hotswap=hotswap,
                            outputs_file=outputs_file, approve=approve)
    rows = sorted(result.outputs.items())
    verdict = "deployed" if result.changed else "no changes"
    return output.Outcome(
        data=result, tables=[output.Table(columns=("output", "value"), rows=rows,
                                          title=f"{result.stack} ({result.status})")],
        lines=[f"{result.stack}: {verdict}; outputs merged into {result.outputs_file}"],
        audit=output.Audit(changed=[f"{result.stack}: {result.status}"] if result.changed
                           else [], plan=result.marker))


def _refuse_while_idle(opts: GlobalOptions, force: bool) -> None:
    """Refuse while the stage is idle (deploying would silently undo idle's settings)."""
    from garmaxctl.stage.idle_state import idle_state, snapshot_param

    opts.target.check_account()
    state = idle_state(opts.aws)
    if not state.idle:
        return
    if force:
        output.warn(f"deploying while {opts.stage} is idle (--force): the deploy resets what "
                    "idle changed; `garmaxctl idle status` shows the drift afterwards")
        return
    raise UsageError(
        f"stage {opts.stage} is idle (phase {state.phase}, since {state.created_at}, by "
        f"{state.created_by}; snapshot {snapshot_param(opts.stage.value)}): deploying now "
        "would silently undo idle's settings",
        code="stage_idle", hint="run `garmaxctl idle up` first, or pass --force")


def destroy(ctx: typer.Context) -> output.Outcome:
    """Delete GarmaxAiStack-{STAGE} (asks on every stage; PROD: type the stage name)."""
    from garmaxctl.services import cdk

    opts = options(ctx)
    confirm(opts, f"destroy stack {cdk.CdkProject(aws=opts.aws).stack}", always=True,
            type_stage_name=opts.stage.value == "PROD")
    project, progress = _project(opts, f"cdk destroy {opts.stage}")
    with progress as line:
        project.progress = line
        result = cdk.destroy(project)
    changed = [f"{result['stack']}: deleted"] if result.get("destroyed") else []
    return output.Outcome(data=result, lines=[result["detail"]],
                          audit=output.Audit(changed=changed))


def outputs(
    ctx: typer.Context,
    outputs_file: Path | None = typer.Option(None, "--outputs-file",
                                             help="Also merge them into this JSON file."),
) -> output.Outcome:
    """The stack's CloudFormation outputs."""
    from garmaxctl.services import cdk
    from garmaxctl.shared import contract

    opts = options(ctx)
    values = opts.target.outputs()
    if outputs_file:
        cdk.merge_outputs_file(outputs_file, contract.stack_name(opts.stage.value), values)
    return output.Outcome(
        data={"stack": contract.stack_name(opts.stage.value), "outputs": values},
        tables=[output.Table(columns=("output", "value"), rows=sorted(values.items()),
                             title=contract.stack_name(opts.stage.value))])
