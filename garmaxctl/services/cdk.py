"""Driving the pinned CDK CLI (``node_modules/.bin/cdk``) for synth, diff, bootstrap,
deploy and destroy, and reading the stack's outputs.

The CLI runs as a subprocess whose lines are handed to a ``progress`` callback (the
command decides how to show them). Its failures become GarmaxErrors that say what to do:
a failed deploy names the first failed resource and its reason from the stack events; a
stack left in ``ROLLBACK_COMPLETE`` or ``UPDATE_ROLLBACK_FAILED`` is named with the fix.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from garmaxctl import __version__
from garmaxctl.aws import error_code
from garmaxctl.settings import project_dir
from garmaxctl.shared import contract
from garmaxctl.shared.errors import (
    CdkError,
    PartialFailureError,
    StackNotFoundError,
    ToolMissingError,
)

if TYPE_CHECKING:
    from garmaxctl.aws import AwsTarget

Progress = Callable[[str], None]

# What feeds synthesis: when none of it changed, the last cloud assembly is reused.
SYNTH_INPUTS: tuple[str, ...] = ("infra", "runtime", "garmaxctl/shared",
                                 "garmaxctl/__init__.py", "cdk.json")
SYNTH_ENV_INPUTS: tuple[str, ...] = ("ALERT_EMAIL", "GARMAX_BUNDLE_DEPS")
HASH_FILE = ".garmax-synth-inputs"
DEPLOY_MARKER = contract.DEPLOY_MARKER_PARAM
REQUIRE_APPROVAL = ("never", "any-change", "broadening")
FAILED_SUFFIXES = ("_FAILED",)
# States a deploy cannot start from (the CDK CLI itself replaces a ROLLBACK_COMPLETE stack).
BLOCKING_STATES = {"ROLLBACK_FAILED", "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED"}
STUCK_STATES = {
    "ROLLBACK_COMPLETE": "its creation was rolled back: fix the cause, then run "
                         "`garmaxctl deploy` again (the CDK CLI replaces a rolled-back stack)",
    "ROLLBACK_FAILED": "delete it (`garmaxctl destroy`), retaining what cannot be deleted",
    "UPDATE_ROLLBACK_FAILED": "continue the rollback (`aws cloudformation "
                              "continue-update-rollback --stack-name {stack}`), fix the "
                              "resource it names, then deploy again",
    "DELETE_FAILED": "remove what blocks the deletion (the stack events name it), then run "
                     "`garmaxctl destroy` again",
}

# cfn-lint rules the synthesized template breaks on purpose (docs/infra.md, "Checks"):
CFN_LINT_IGNORED: tuple[str, ...] = (
    # CDK adds DependsOn [Role, Role/DefaultPolicy] to each function so it is never created
    # before its policy; the Role half repeats the GetAtt. Harmless, and CDK's to change.
    "W3005",
)
CFN_LINT_IGNORED_WITH_VPC: tuple[str, ...] = (
    # DESIGN.md: availability zones are explicit per stage, so synthesis needs no look-ups.
    "W3010",
)


@dataclass
class CdkRun:
    command: list[str]
    exit_code: int
    lines: list[str] = field(default_factory=list)

    def tail(self, count: int = 15) -> list[str]:
        return [line for line in self.lines if line.strip()][-count:]


@dataclass
class SynthResult:
    stage: str
    stack: str
    assembly_dir: str
    template: str
    skipped: bool
    inputs_hash: str
    lint: list[dict[str, str]] = field(default_factory=list)


@dataclass
class DeployResult:
    stage: str
    stack: str
    status: str
    changed: bool
    outputs: dict[str, str]
    outputs_file: str | None
    marker: dict[str, Any] | None


@dataclass
class DiffResult:
    stage: str
    stack: str
    has_changes: bool
    lines: list[str]


@dataclass
class CdkProject:
    """Where the CDK app and the pinned CLI live, and how to run them for one target."""

    aws: AwsTarget
    root: Path = field(default_factory=project_dir)
    progress: Progress = lambda line: None

    @property
    def stage(self) -> str:
        return str(self.aws.stage.stage)

    @property
    def stack(self) -> str:
        return contract.stack_name(self.stage)

    @property
    def assembly_dir(self) -> Path:
        return self.root / "cdk.out" / self.stage

    @property
    def cdk_bin(self) -> Path:
        return self.root / "node_modules" / ".bin" / "cdk"

    def app_command(self) -> str:
        return f"{sys.executable} {self.root / 'infra' / 'cdk_app.py'}"

    def env(self) -> dict[str, str]:
        env = self.aws.subprocess_env()
        # jsii wants the silenced major versions listed; doctor reports an old Node.js.
        env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,19,20,21")
        env.setdefault("NODE_NO_WARNINGS", "1")
        env["CDK_DISABLE_VERSION_CHECK"] = "1"
        env["CI"] = env.get("CI", "true")  # no interactive spinners from the CDK CLI
        env["FORCE_COLOR"] = "0"
        if self.aws.is_local:
            env.setdefault("GARMAX_BUNDLE_DEPS", "false")
        for name in ("GARMAX_LOCAL_ACCOUNT",):
            env.pop(name, None)
        return env

    def check_tools(self) -> None:
        if shutil.which("node") is None:
            raise ToolMissingError("Node.js is not installed (the CDK CLI runs on it)",
                                   code="node_missing",
                                   hint="install Node.js 22 LTS, then run `make setup`")
        if not self.cdk_bin.exists():
            raise ToolMissingError(f"the pinned CDK CLI is not installed ({self.cdk_bin})",
                                   code="cdk_missing",
                                   hint="run `make setup` (or `npm ci`) in " + str(self.root))

    def run(self, args: list[str], *, app: str | None = None,
            check: bool = True) -> CdkRun:
        """Run ``cdk ARGS`` with the stage's context; stream its lines to ``progress``."""
        self.check_tools()
        command = [str(self.cdk_bin), *args, "--no-notices", "--no-color",
                   "--version-reporting", "false", "-c", f"stage={self.stage}"]
        if app is not None:
            command += ["--app", app]
        run = CdkRun(command=command, exit_code=0)
        with subprocess.Popen(command, cwd=self.root, env=self.env(), text=True,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, bufsize=1) as process:
            assert process.stdout is not None
            for raw in process.stdout:
                line = raw.rstrip("\n")
                run.lines.append(line)
                self.progress(line)
            run.exit_code = process.wait()
        if check and run.exit_code != 0:
            raise self.failure(args[0], run)
        return run

    def failure(self, verb: str, run: CdkRun) -> CdkError:
        text = "\n".join(run.lines)
        if "has the environment been bootstrapped" in text.lower() or \
                ("cdk bootstrap" in text and "bootstrap" not in verb):
            return CdkError(f"stage {self.stage} is not bootstrapped for the CDK",
                            code="not_bootstrapped", hint="run `garmaxctl bootstrap` first")
        meaningful = [line.strip() for line in run.tail(40)
                      if line.strip() and not line.strip().startswith(("at ", "NOTICES"))]
        errors = [line for line in meaningful if "error" in line.lower() or "❌" in line]
        detail = (errors or meaningful or ["no output"])[-1][:300]
        return CdkError(f"cdk {verb} failed (exit {run.exit_code}): {detail}",
                        hint="rerun with --verbose to see the CDK CLI's full output")

    # ------------------------------------------------------------------- synthesis

    def inputs_hash(self) -> str:
        digest = hashlib.sha256()
        digest.update(f"stage={self.stage};tool={__version__};".encode())
        for name in SYNTH_ENV_INPUTS:
            digest.update(f"{name}={os.environ.get(name, '')};".encode())
        for path in _input_files(self.root, SYNTH_INPUTS):
            digest.update(str(path.relative_to(self.root)).encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()

    def synth(self, *, force: bool = False) -> SynthResult:
        """Synthesize ``GarmaxAiStack-{STAGE}`` into ``cdk.out/{STAGE}``; skip if unchanged."""
        inputs = self.inputs_hash()
        marker = self.assembly_dir / HASH_FILE
        template = self.assembly_dir / f"{self.stack}.template.json"
        if not force and template.exists() and marker.exists() and \
                marker.read_text().strip() == inputs:
            self.progress(f"synthesis skipped: nothing that feeds it changed ({inputs[:12]})")
            return SynthResult(stage=self.stage, stack=self.stack,
                               assembly_dir=str(self.assembly_dir), template=str(template),
                               skipped=True, inputs_hash=inputs)
        marker.unlink(missing_ok=True)
        self.run(["synth", self.stack, "--quiet", "--output", str(self.assembly_dir)],
                 app=self.app_command())
        if not template.exists():
            raise CdkError(f"cdk synth produced no template for {self.stack}",
                           hint=f"look in {self.assembly_dir}")
        marker.write_text(inputs)
        return SynthResult(stage=self.stage, stack=self.stack,
                           assembly_dir=str(self.assembly_dir), template=str(template),
                           skipped=False, inputs_hash=inputs)

    def lint(self, result: SynthResult) -> list[dict[str, str]]:
        """cfn-lint (its Python API) on the synthesized template, for the stage's region.

        One row per finding; the rules the stack breaks on purpose (``CFN_LINT_IGNORED``,
        ``CFN_LINT_IGNORED_WITH_VPC``) are not checked.
        """
        from cfnlint.api import ManualArgs, lint_file

        ignored = [*CFN_LINT_IGNORED,
                   *(CFN_LINT_IGNORED_WITH_VPC if self.aws.stage.features.vpc else ())]
        matches = lint_file(Path(result.template), config=ManualArgs(
            regions=[str(self.aws.region)], ignore_checks=ignored))
        return [{"rule": m.rule.id, "level": m.rule.severity.capitalize(),
                 "resource": "/".join(str(p) for p in (getattr(m, "path", None) or [])[:2]),
                 "message": m.message} for m in matches]

    # ------------------------------------------------------------------- stack state

    def describe_stack(self) -> dict[str, Any] | None:
        cloudformation = self.aws.client("cloudformation")
        try:
            stacks = cloudformation.describe_stacks(StackName=self.stack)["Stacks"]
        except Exception as exc:  # botocore ClientError: "does not exist"
            if "does not exist" in str(exc):
                return None
            raise
        return stacks[0] if stacks else None

    def first_failure(self, since: dt.datetime | None = None) -> str | None:
        """The first failed resource and its reason, from the stack events."""
        cloudformation = self.aws.client("cloudformation")
        try:
            pages = cloudformation.get_paginator("describe_stack_events").paginate(
                StackName=self.stack)
            events = [e for page in pages for e in page["StackEvents"]]
        except Exception:
            return None
        failed = [e for e in events
                  if str(e.get("ResourceStatus", "")).endswith(FAILED_SUFFIXES)
                  and (since is None or e["Timestamp"] >= since)
                  and e.get("LogicalResourceId") != self.stack]
        if not failed:
            return None
        first = min(failed, key=lambda e: e["Timestamp"])
        reason = " ".join(str(first.get("ResourceStatusReason", "no reason given")).split())
        return (f"{first['LogicalResourceId']} ({first.get('ResourceType', '?')}) "
                f"{first['ResourceStatus']}: {reason[:300]}")

    def stuck_state_error(self, stack: dict[str, Any] | None) -> CdkError | None:
        if not stack:
            return None
        status = stack["StackStatus"]
        if status in STUCK_STATES:
            return CdkError(f"stack {self.stack} is {status}",
                            code="stack_stuck",
                            hint=STUCK_STATES[status].format(stack=self.stack))
        return None


def _input_files(root: Path, names: Iterable[str]) -> list[Path]:
    files: list[Path] = []
    for name in names:
        path = root / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [p for p in path.rglob("*")
                      if p.is_file() and "__pycache__" not in p.parts
                      and p.suffix not in (".pyc", ".pyo")]
    return sorted(files)


# --------------------------------------------------------------------------- outputs

def merge_outputs_file(path: Path, stack: str, outputs: dict[str, str]) -> None:
    """Merge this stack's outputs into ``path`` (other stacks' entries are kept)."""
    merged: dict[str, Any] = {}
    if path.exists():
        try:
            merged = json.loads(path.read_text() or "{}")
        except ValueError:
            merged = {}
    merged[stack] = dict(sorted(outputs.items()))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def git_sha(root: Path) -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root,
                              capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    sha = done.stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root,
                           capture_output=True, text=True, check=False, timeout=10)
    return sha + ("-dirty" if dirty.stdout.strip() else "")


def write_deploy_marker(aws: AwsTarget, root: Path, stack_status: str) -> dict[str, Any]:
    """Record what was deployed, when and by whom under ``/garmaxai/ops/{STAGE}/``."""
    stage = str(aws.stage.stage)
    try:
        caller = aws.caller_identity()["arn"]
    except Exception:
        caller = "unknown"
    marker = {"stage": stage, "git_sha": git_sha(root),
              "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "caller": caller, "tool_version": __version__, "stack_status": stack_status}
    aws.client("ssm").put_parameter(
        Name=contract.ops_prefix(stage) + DEPLOY_MARKER, Value=json.dumps(marker),
        Type="String", Overwrite=True,
        Description="garmaxctl deploy marker (what was deployed, when, by whom)")
    return marker


def read_deploy_marker(aws: AwsTarget) -> dict[str, Any] | None:
    stage = str(aws.stage.stage)
    try:
        value = aws.client("ssm").get_parameter(
            Name=contract.ops_prefix(stage) + DEPLOY_MARKER)["Parameter"]["Value"]
    except Exception as exc:
        if error_code(exc) == "ParameterNotFound":
            return None
        raise
    return json.loads(value)


# --------------------------------------------------------------------------- operations

def bootstrap(project: CdkProject) -> dict[str, Any]:
    """``cdk bootstrap aws://ACCOUNT/REGION`` for the stage (idempotent)."""
    identity = project.aws.caller_identity() if project.aws.is_local else \
        project.aws.check_account()
    environment = f"aws://{identity['account']}/{project.aws.region}"
    run = project.run(["bootstrap", environment])
    unchanged = any("no changes" in line for line in run.lines)
    return {"stage": project.stage, "environment": environment, "changed": not unchanged}


def diff(project: CdkProject) -> DiffResult:
    """``cdk diff`` of the synthesized stack against what is deployed."""
    if not project.aws.is_local:
        project.aws.check_account()
    synth = project.synth()
    run = project.run(["diff", project.stack, "--fail"], app=synth.assembly_dir, check=False)
    text = "\n".join(run.lines)
    # `cdk diff --fail` exits 1 for differences and for errors alike: read its summary.
    summarised = "Number of stacks with differences" in text or "no differences" in text
    if run.exit_code not in (0, 1) or not summarised:
        raise project.failure("diff", run)
    return DiffResult(stage=project.stage, stack=project.stack,
                      has_changes=run.exit_code == 1,
                      lines=[line for line in run.lines if line.strip()])


def deploy(project: CdkProject, *, require_approval: str = "never", hotswap: bool = False,
           outputs_file: Path | None = None,
           approve: Callable[[DiffResult], None] | None = None) -> DeployResult:
    """Synthesize (when inputs changed), optionally show the diff for approval, deploy."""
    aws = project.aws
    if not aws.is_local:
        aws.check_account()
    current = project.describe_stack()
    if current and current["StackStatus"] in BLOCKING_STATES:
        raise project.stuck_state_error(current) or CdkError(current["StackStatus"])
    synth = project.synth()
    if approve is not None:
        approve(diff(project))
        require_approval = "never"  # the approval was given above
    args = ["deploy", project.stack, "--require-approval", require_approval]
    if aws.is_local:
        # moto's CREATE change sets ignore DependsOn (docs/local.md): deploy directly.
        args += ["--method=direct"]
    if hotswap:
        args += ["--hotswap"]
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    run = project.run(args, app=synth.assembly_dir, check=False)
    try:
        stack = project.describe_stack()
    except Exception as exc:
        if run.exit_code != 0:
            raise
        # The CDK CLI deployed the stack: say so, and what was not recorded.
        raise PartialFailureError(
            f"{project.stack} deployed (cdk deploy exit 0), but its status and outputs could "
            "not be read, so neither the outputs file nor the deploy marker was written: "
            f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}",
            hint="the deploy itself needs no retry; run `garmaxctl outputs` for the outputs, "
                 "or deploy again to record the marker") from exc
    if run.exit_code != 0:
        cause = project.first_failure(since=started)
        stuck = project.stuck_state_error(stack)
        if cause:
            hint = stuck.hint if stuck else "fix the resource and run `garmaxctl deploy` again"
            raise CdkError(f"deploy of {project.stack} failed: {cause}", code="deploy_failed",
                           hint=hint)
        if stuck:
            raise stuck
        raise project.failure("deploy", run)
    if stack is None:
        raise StackNotFoundError(f"cdk deploy finished but stack {project.stack} is not there",
                                 hint="check the CDK CLI output with --verbose")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    target = outputs_file or default_outputs_file()
    changed = not any("(no changes)" in line or "no changes" in line.lower()
                      for line in run.lines)
    result = DeployResult(stage=project.stage, stack=project.stack,
                          status=stack["StackStatus"], changed=changed, outputs=outputs,
                          outputs_file=None, marker=None)
    try:
        merge_outputs_file(target, project.stack, outputs)
        result.outputs_file = str(target)
        result.marker = write_deploy_marker(aws, project.root, stack["StackStatus"])
    except Exception as exc:
        # The stack IS deployed: say so, and what was not recorded.
        missing = "the deploy marker" if result.outputs_file else f"the outputs file {target}"
        raise PartialFailureError(
            f"{project.stack} deployed ({stack['StackStatus']}), but {missing} was not "
            f"written: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}",
            hint="the deploy itself needs no retry; run `garmaxctl outputs` for the outputs, "
                 "or deploy again to record the marker",
            data={"deploy": result}) from exc
    return result


def destroy(project: CdkProject) -> dict[str, Any]:
    aws = project.aws
    if not aws.is_local:
        aws.check_account()
    before = project.describe_stack()
    if before is None:
        return {"stage": project.stage, "stack": project.stack, "destroyed": False,
                "detail": "nothing to destroy: the stack does not exist"}
    synth = project.synth()
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    run = project.run(["destroy", project.stack, "--force"], app=synth.assembly_dir,
                      check=False)
    after = project.describe_stack()
    if run.exit_code != 0 or (after and after["StackStatus"] != "DELETE_COMPLETE"):
        cause = project.first_failure(since=started)
        if after and after.get("EnableTerminationProtection"):
            raise CdkError(f"stack {project.stack} has termination protection",
                           code="termination_protected",
                           hint="PROD keeps it on purpose: turn it off in the console or with "
                                "`aws cloudformation update-termination-protection` first")
        raise CdkError(f"destroy of {project.stack} failed: {cause or 'see the CDK output'}",
                       hint="rerun with --verbose; retained resources must be removed by hand")
    return {"stage": project.stage, "stack": project.stack, "destroyed": True,
            "detail": f"stack {project.stack} deleted (retained resources stay)"}


def default_outputs_file() -> Path:
    from garmaxctl.settings import state_dir

    return state_dir() / "outputs.json"
