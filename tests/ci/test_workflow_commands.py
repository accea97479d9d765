"""The pipeline cannot drift from the CLI: every garmaxctl line of both workflows runs.

One LOCAL stage of its own (its own emulator, ports and state directory: the suite's
``LocalStack`` machinery, not the shared ``local_stack``), bootstrapped and not deployed,
as a pipeline finds an account. Then the workflows' steps run in order, as a runner runs
them (tests/ci/workflows.py): ci.yml's ``synth`` (its matrix over stages is one LOCAL
job) and ``diff`` jobs, as for a pull request, then deploy.yml's ``deploy`` job, as for a
push (the one deploy). Every garmaxctl call must be one of the step's lines, with the
same words, and exit 0; every step exits 0. Then the step that undoes a parameter push
after a failed smoke runs too, and the push must be gone.

What does not run: ``uses:`` steps (checkout, setup-python/node, the AWS credentials: the
test is the runner here and LOCAL needs no role) and ci.yml's ``test`` job (``make lint``,
``make test``: this suite is that job). docs/ci.md says the same.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.ci import workflows
from tests.conftest import LocalStack

pytestmark = pytest.mark.slow

# In the order a change meets them: its pull request, then the push that deploys it.
JOBS = (("ci.yml", "synth"), ("ci.yml", "diff"), ("deploy.yml", "deploy"))
NOT_RUN = {("ci.yml", "test"): "make lint and make test: this suite is that job"}


def _matches(call: list[str], line: list[str]) -> bool:
    """A recorded argv is the workflow's line with its shell variables expanded."""
    return len(call) == len(line) and all(
        word.startswith("$") or word == got for got, word in zip(call, line, strict=True))


def _check(run: workflows.StepRun) -> None:
    where = f"{run.job} / {run.name}"
    assert run.exit_code == 0, f"step {where} exited {run.exit_code}:\n{run.output}"
    argv = [c["argv"] for c in run.calls]
    assert len(argv) == len(run.expected), (
        f"step {where}: ran {argv}, its garmaxctl lines are {run.expected}")
    for call, line in zip(run.calls, run.expected, strict=True):
        assert _matches(call["argv"], line), f"step {where}: ran {call['argv']}, wrote {line}"
        assert call["exit"] == 0, f"step {where}: garmaxctl {call['argv']} exited {call['exit']}"


def _headings(summary: str) -> list[str]:
    return re.findall(r"^### ✅ `garmaxctl (.+?)` — LOCAL \(exit 0\)$", summary, re.M)


def _stage_parameters(stack: LocalStack) -> dict[str, str]:
    pages = stack.client("ssm").get_paginator("get_parameters_by_path").paginate(
        Path="/garmaxai/LOCAL/", Recursive=True)
    return {p["Name"]: p["Type"] for page in pages for p in page["Parameters"]}


def test_every_garmaxctl_line_of_the_workflows_runs_on_a_local_stage(
        tmp_path: Path, record_property: Any) -> None:
    from garmaxctl.local.workflow import wait_for_api

    started = time.monotonic()
    stack = LocalStack(tmp_path / "stack")
    stack.root.mkdir()
    deferred: list[tuple[dict[str, Any], str, dict[str, Any]]] = []
    try:
        stack.start_undeployed()
        runner = workflows.Runner(tmp_path / "runner", stack.env())
        ran: set[tuple[str, str, int]] = set()
        for file, job_id in JOBS:
            workflow = workflows.load(workflows.WORKFLOWS / file)
            for index, step in enumerate(workflow["jobs"][job_id]["steps"]):
                if "uses" in step:
                    continue
                condition = str(step.get("if", ""))
                if "failure()" in condition:
                    deferred.append((workflow, job_id, step))
                    ran.add((file, job_id, index))
                    continue
                assert condition in ("", "always()"), f"{file} {job_id}: unknown if: {condition}"
                run = runner.run_step(workflow, job_id, step)
                _check(run)
                ran.add((file, job_id, index))
                if any(c["argv"][:1] == ["deploy"] for c in run.calls):
                    # LOCAL only: the local gateway follows the stack a moment after the
                    # deploy (on AWS, API Gateway serves it when the deploy returns).
                    wait_for_api(stack.api_url)

        # Every garmaxctl line of both workflows is in a step that ran (or runs below).
        for path in workflows.workflow_files():
            workflow = workflows.load(path)
            for job_id, job in workflow["jobs"].items():
                if (path.name, job_id) in NOT_RUN:
                    continue
                for index, step in enumerate(job.get("steps", [])):
                    if "run" in step and workflows.garmaxctl_lines(step["run"]):
                        assert (path.name, job_id, index) in ran, (
                            f"{path.name} {job_id}: step {step.get('name')} is not run here")

        # Each job's summary: every step's document, in order, nothing else.
        summaries = {job: (runner.root / job / "step-summary.md").read_text()
                     for job in ("diff", "deploy")}
        assert _headings(summaries["diff"]) == ["diff"] * 3, summaries["diff"]
        assert _headings(summaries["deploy"]) == [
            "deploy", "params push", "verify", "smoke", "alarms list"], summaries["deploy"]
        pushed = _stage_parameters(stack)
        assert {p.rsplit("/", 2)[-2] + "/" + p.rsplit("/", 1)[-1] for p in pushed} >= {
            "security/jwt-secret", "budget/daily-usd"}
        assert pushed["/garmaxai/LOCAL/security/jwt-secret"] == "SecureString"

        # A smoke that failed after the push: the push is undone (restored as of the time
        # the push step noted before it wrote anything; the stage had no parameter then).
        assert [step.get("id") for *_, step in deferred] == [None]
        for workflow, job_id, step in deferred:
            _check(runner.run_step(workflow, job_id, step))
        assert _stage_parameters(stack) == {}
        record_property("workflow_commands_seconds", round(time.monotonic() - started, 1))
    finally:
        stack.down()
        print(f"workflow-commands test: {time.monotonic() - started:.0f} s")
