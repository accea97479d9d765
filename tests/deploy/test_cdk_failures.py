"""CDK CLI failures become one-line errors that say what to do (issue 4, acceptance 4)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import Run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(tmp_path) -> Run:
    return Run(tmp_path)


def _one_line(result, exit_code: int) -> str:
    assert result.exit_code == exit_code, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_missing_node_says_install_it(cli, tmp_path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("git",):
        found = shutil.which(tool)
        if found:
            os.symlink(found, bin_dir / tool)
    line = _one_line(cli("synth", "--force", env={"PATH": str(bin_dir)}), 1)
    assert "Node.js is not installed" in line and "Node.js 22" in line


def test_missing_cdk_cli_says_run_make_setup(cli, tmp_path) -> None:
    project = tmp_path / "checkout"
    project.mkdir()
    line = _one_line(cli("synth", env={"GARMAX_PROJECT_DIR": str(project)}), 1)
    assert "pinned CDK CLI is not installed" in line and "make setup" in line
    document = cli("-o", "json", "diff", env={"GARMAX_PROJECT_DIR": str(project)})
    import json

    assert json.loads(document.stdout)["error"]["code"] == "cdk_missing"


@pytest.mark.slow
def test_deploy_without_bootstrap_says_bootstrap_first(cli, monkeypatch) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))
    assert cli("local", "up", "--detach", "--emulator-only").exit_code == 0
    try:
        line = _one_line(cli("deploy"), 1)
        assert "not bootstrapped" in line and "garmaxctl bootstrap" in line
    finally:
        cli("local", "down")


@pytest.mark.slow
def test_a_failed_resource_is_named_with_its_reason(cli, monkeypatch) -> None:
    import boto3

    from tests.conftest import free_port

    port = free_port()
    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(port))
    assert cli("local", "up", "--detach", "--emulator-only").exit_code == 0
    try:
        # Someone else's bus already holds the stack's physical name.
        boto3.client("events", endpoint_url=f"http://localhost:{port}", region_name="us-east-1",
                     aws_access_key_id="t", aws_secret_access_key="t").create_event_bus(
            Name="GarmaxAi-Tryon-LOCAL")
        assert cli("bootstrap").exit_code == 0
        line = _one_line(cli("deploy"), 1)
        assert "EventsBus45DE4339 (AWS::Events::EventBus) CREATE_FAILED" in line
        assert "GarmaxAi-Tryon-LOCAL already exists" in line
        assert "rolled back" in line
        document = cli("-o", "json", "deploy")
        import json

        assert json.loads(document.stdout)["error"]["code"] == "deploy_failed"
    finally:
        cli("local", "down")


def test_hotswap_is_refused_on_prod(cli) -> None:
    line = _one_line(cli("-s", "prod", "deploy", "--hotswap"), 2)
    assert "--hotswap is refused on PROD" in line


def test_destroy_without_terminal_or_yes_is_refused(cli) -> None:
    line = _one_line(cli("destroy"), 2)
    assert "without confirmation" in line and "--yes" in line


def test_unknown_require_approval_is_usage_error(cli) -> None:
    line = _one_line(cli("deploy", "--require-approval", "sometimes"), 2)
    assert "never, any-change, broadening" in line


def test_a_failed_read_after_a_successful_cdk_deploy_says_the_stack_is_deployed(
        cli, monkeypatch, tmp_path) -> None:
    # Found by tests/fuzz/test_other_faults.py: DescribeStacks throttled past retries right
    # after `cdk deploy` succeeded ended as "AWS throttled DescribeStacks", which reads as
    # if nothing was deployed.
    from botocore.exceptions import ClientError

    from garmaxctl.services import cdk

    stacks = iter([None])

    def describe(self):
        for answer in stacks:
            return answer
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}},
                          "DescribeStacks")

    monkeypatch.setattr(cdk.CdkProject, "describe_stack", describe)
    monkeypatch.setattr(cdk.CdkProject, "check_tools", lambda self: None)
    monkeypatch.setattr(cdk.CdkProject, "synth", lambda self, force=False: cdk.SynthResult(
        stage="LOCAL", stack="GarmaxAiStack-LOCAL", assembly_dir=str(tmp_path),
        template="t.json", skipped=True, inputs_hash="0"))
    monkeypatch.setattr(cdk.CdkProject, "run", lambda self, args, **_: cdk.CdkRun(
        command=["cdk", *args], exit_code=0, lines=["deployed"]))
    from garmaxctl.stage.target import StageTarget

    monkeypatch.setattr(StageTarget, "connect", lambda self: None)
    monkeypatch.setattr(StageTarget, "check_account", lambda self: None)
    monkeypatch.setattr("garmaxctl.stage.idle_state.idle_state",
                        lambda aws: type("S", (), {"idle": False})())
    result = cli("-o", "json", "deploy", "--outputs-file", str(tmp_path / "out.json"))
    import json

    document = json.loads(result.stdout)
    assert result.exit_code == 1, document
    assert document["error"]["code"] == "partial_failure"
    assert document["error"]["message"].startswith("GarmaxAiStack-LOCAL deployed (cdk deploy "
                                                   "exit 0), but its status and outputs")
    assert not (tmp_path / "out.json").exists()
