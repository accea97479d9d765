"""Issue 13, fault injection into `alarms mute`, the deploy post-steps (outputs file,
deploy marker: garmaxctl/services/cdk.py), `health` and `cost report` (DEV stages on moto,
through the CLI), faults of every kind at random AWS calls.

Always: exit 0 or 1 with a documented error code (docs/exit-codes.md), one JSON document,
no internal error; what was changed is what the report says: each alarm muted exactly
when the report says so; after a deploy the outputs file is whole or untouched and the
marker whole or absent, and a fault after the stack deployed is a partial failure that
says the stack IS deployed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.cli.conftest import Run
from tests.fuzz.budget import TALLY, family_settings
from tests.fuzz.faults import KINDS, FaultPlan, inject, instant_retries  # noqa: F401

DOCUMENTED = {"partial_failure", "throttled", "aws_error", "timeout", "access_denied",
              "expired_credentials", "unhealthy", "stack_not_found", "output_missing"}


def faults(top: int) -> st.SearchStrategy[dict[int, str]]:
    return st.dictionaries(st.integers(1, top), st.sampled_from(KINDS), min_size=1,
                           max_size=2)


def _run(cwd: Path, monkeypatch: pytest.MonkeyPatch, plan: FaultPlan,
         *args: str) -> tuple[int, dict, list[str]]:
    with monkeypatch.context() as mp:
        inject(mp, plan)
        result = Run(cwd)("-o", "json", "-s", "dev", *args)
    findings = []
    if "Traceback" in result.stderr:
        findings.append("traceback")
    try:
        document = json.loads(result.stdout)
    except ValueError:
        return int(result.exit_code), {}, [*findings, "stdout is not one JSON document"]
    code = (document.get("error") or {}).get("code")
    if result.exit_code not in (0, 1) or (result.exit_code == 1 and code not in DOCUMENTED):
        findings.append(f"exit {result.exit_code} ({code}): {document.get('error')}")
    return int(result.exit_code), document, findings


def _tally(plan: FaultPlan, findings: list[str], document: dict | None = None) -> None:
    TALLY.add("other faults", examples=1, faults_injected=len(plan.injected),
              runs_with_a_fault=int(bool(plan.injected)),
              tracebacks=int("traceback" in findings),
              findings=len(findings))


# --------------------------------------------------------------------------- alarms mute

@family_settings("other faults")
@given(plan=faults(12))
def test_a_faulted_mute_mutes_exactly_what_it_reports(
        monkeypatch: pytest.MonkeyPatch, instant_retries: None, tmp_path_factory: Any,  # noqa: F811
        plan: dict[int, str]) -> None:
    from moto import mock_aws

    from garmaxctl import aws
    from tests.alarms.conftest import ACCOUNT, AwsCloudWatchExtras, put_alarm

    fake = AwsCloudWatchExtras()
    wire = aws.log_the_wire
    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", ACCOUNT)
    with monkeypatch.context() as mp, mock_aws():  # one fake per example
        mp.setattr(aws, "log_the_wire", lambda session: fake.install(wire(session)))
        names = [put_alarm(n) for n in ("ApiErrorRate", "TryonDlqNotEmpty", "QueueDepth")]
        faulted = FaultPlan(at=dict(plan), short_circuit=True)
        code, document, findings = _run(tmp_path_factory.mktemp("mute"), monkeypatch,
                                        faulted, "alarms", "mute", "--all", "--for", "2h",
                                        "--reason", "fuzz")
        muted = {n for n in names if fake.muted(n)}
    text = json.dumps(document.get("data"))
    if code == 0 and muted != set(names):
        findings.append(f"exit 0 but only {sorted(muted)} muted")
    if code == 1 and muted:  # partly done: the report names what was muted
        findings += [f"{name} muted but the report does not say so"
                     for name in sorted(muted) if name not in text]
    _tally(faulted, findings, document)
    assert not findings, (findings, faulted.injected, document)


# --------------------------------------------------------------------------- deploy

def _fake_cdk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CDK CLI's part of a deploy succeeds at once; garmaxctl's own steps run."""
    from garmaxctl.services import cdk

    def synth(self: Any, *, force: bool = False) -> Any:
        return cdk.SynthResult(stage=self.stage, stack=self.stack,
                               assembly_dir=str(self.assembly_dir), template="t.json",
                               skipped=True, inputs_hash="0" * 64)

    def run(self: Any, args: list[str], **_: Any) -> Any:
        return cdk.CdkRun(command=["cdk", *args], exit_code=0, lines=["✅ deployed"])

    monkeypatch.setattr(cdk.CdkProject, "synth", synth)
    monkeypatch.setattr(cdk.CdkProject, "run", run)
    monkeypatch.setattr(cdk.CdkProject, "check_tools", lambda self: None)


@family_settings("other faults")
@given(plan=faults(10), existing=st.booleans())
def test_a_faulted_deploy_post_step_writes_whole_files_and_says_the_stack_is_deployed(
        monkeypatch: pytest.MonkeyPatch, instant_retries: None, tmp_path_factory: Any,  # noqa: F811
        plan: dict[int, str], existing: bool) -> None:
    import boto3
    from moto import mock_aws

    from garmaxctl.shared import contract

    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", "123456789012")
    cwd = tmp_path_factory.mktemp("deploy")
    outputs_file = cwd / "outputs.json"
    old = {"OtherStack": {"Key": "kept"}}
    if existing:
        outputs_file.write_text(json.dumps(old))
    with monkeypatch.context() as mp, mock_aws():
        _fake_cdk(mp)
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName=contract.stack_name("DEV"), TemplateBody=json.dumps({
                "Resources": {"H": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
                "Outputs": {"ApiUrl": {"Value": "https://api.example.com/dev/"}}}))
        faulted = FaultPlan(at=dict(plan))
        code, document, findings = _run(cwd, monkeypatch, faulted, "deploy",
                                        "--outputs-file", str(outputs_file))
        ssm = boto3.client("ssm", region_name="us-east-1")
        try:
            name = contract.ops_prefix("DEV") + contract.DEPLOY_MARKER_PARAM
            marker = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            marker = None
    written = json.loads(outputs_file.read_text()) if outputs_file.exists() else None
    whole = {**(old if existing else {}),
             contract.stack_name("DEV"): {"ApiUrl": "https://api.example.com/dev/"}}
    if written not in ((old if existing else None), whole):
        findings.append(f"outputs file half-written: {written}")
    if marker is not None and json.loads(marker).get("stage") != "DEV":
        findings.append(f"marker half-written: {marker}")
    error = document.get("error") or {}
    if code == 0 and (written != whole or marker is None):
        findings.append("exit 0 without the outputs file and the marker")
    if error.get("code") == "partial_failure" and "deployed" not in error.get("message", ""):
        findings.append("a partial deploy does not say the stack is deployed")
    ran = [i for i, c in enumerate(faulted.calls, 1) if c == "DescribeStacks"][1:2]
    after_cdk = bool(ran) and any(n >= ran[0] for n, _, _ in faulted.injected)
    if code == 1 and after_cdk and (error.get("code") != "partial_failure" or
                                    "deployed" not in error.get("message", "")):
        findings.append(f"a fault after the stack deployed, but the error is {error}")
    if code == 1 and written == whole and marker is None and error.get("code") != \
            "partial_failure":
        findings.append(f"the marker was not written but the error is {error}")
    _tally(faulted, findings, document)
    assert not findings, (findings, faulted.injected, document)


# --------------------------------------------------------------------------- health, cost

@family_settings("other faults")
@given(plan=faults(40), command=st.sampled_from([("health",), ("cost", "report")]))
def test_a_faulted_health_or_cost_report_exits_1_with_a_documented_code(
        monkeypatch: pytest.MonkeyPatch, instant_retries: None, tmp_path_factory: Any,  # noqa: F811
        plan: dict[int, str], command: tuple[str, ...]) -> None:
    from moto import mock_aws

    from tests.health.conftest import FakeApi, build_dev_stage

    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", "123456789012")
    with mock_aws():
        build_dev_stage(FakeApi(port=9))  # the API itself is not the subject here
        faulted = FaultPlan(at=dict(plan))
        code, document, findings = _run(tmp_path_factory.mktemp("report"), monkeypatch,
                                        faulted, *command)
    if faulted.injected and command == ("cost", "report") and code == 0:
        findings.append("a failed Cost Explorer call was reported as success")
    _tally(faulted, findings, document)
    assert not findings, (findings, faulted.injected, document)
