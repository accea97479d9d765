"""End to end: the pinned CDK CLI bootstraps and deploys a platform-like app
(``cdk_app/``) into a bridged emulator; a second deploy is a no-op; a changed app
updates. Self-contained: its own emulator subprocess on a free port."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import REPO, Emulator, start_emulator

CDK = REPO / "node_modules" / ".bin" / "cdk"
APP = Path(__file__).parent / "cdk_app"
STACK = "GarmaxBridgeTest"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CDK.exists() or shutil.which("node") is None, reason="pinned CDK CLI not installed"
    ),
]


def cdk_env(emulator: Emulator) -> dict[str, str]:
    """What the CDK CLI needs to talk to the emulator (see docs/local.md)."""
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": emulator.url,  # http://localhost:<port>, not 127.0.0.1
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "1",
        # the app runs with this interpreter (aws-cdk-lib lives in the venv)
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


@pytest.fixture(scope="module")
def e2e_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emulator = start_emulator(tmp_path_factory.mktemp("e2e") / "emulator.log")
    try:
        yield emulator
    finally:
        emulator.stop()


def run_cdk(
    emulator: Emulator, *args: str, out: Path, timings: dict[str, float], label: str
) -> str:
    started = time.monotonic()
    result = subprocess.run(
        [str(CDK), *args, "--no-notices", "--output", str(out)],
        cwd=APP,
        env=cdk_env(emulator),
        capture_output=True,
        text=True,
        timeout=300,
    )
    timings[label] = round(time.monotonic() - started, 1)
    assert result.returncode == 0, (
        f"cdk {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}\n"
        f"emulator log:\n{emulator.log.read_text()[-4000:]}"
    )
    return result.stdout + result.stderr


def stack_outputs(emulator: Emulator) -> dict[str, str]:
    stack = emulator.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


EXPECTED_OUTPUTS = {
    "UploadsBucketName",
    "TryonQueueUrl",
    "TryonDlqUrl",
    "SessionsTableName",
    "TryonProcessorName",
    "ApiUrl",
    "ApiId",
    "EventBusName",
    "EventBusArn",
    "TryonRuleArn",
    "AlertTopicArn",
    "DlqAlarmName",
    "DlqAlarmArn",
    "ProcessorLogGroup",
}


def test_bootstrap_deploy_noop_update(e2e_emulator: Emulator, tmp_path: Path) -> None:
    emu = e2e_emulator
    timings: dict[str, float] = {}
    deploy = ("deploy", STACK, "--method=direct", "--require-approval", "never")

    run_cdk(
        emu,
        "bootstrap",
        "aws://123456789012/us-east-1",
        out=tmp_path / "o0",
        timings=timings,
        label="bootstrap",
    )
    toolkit = emu.client("cloudformation").describe_stacks(StackName="CDKToolkit")["Stacks"][0]
    assert "BootstrapVersion" in {o["OutputKey"] for o in toolkit["Outputs"]}

    run_cdk(emu, *deploy, out=tmp_path / "o1", timings=timings, label="deploy")
    outputs = stack_outputs(emu)
    assert set(outputs) >= EXPECTED_OUTPUTS, EXPECTED_OUTPUTS - set(outputs)
    assert all(value and value != "None" for value in outputs.values()), outputs

    # every output names something that exists
    sqs, lam, cw = emu.client("sqs"), emu.client("lambda"), emu.client("cloudwatch")
    redrive = sqs.get_queue_attributes(
        QueueUrl=outputs["TryonQueueUrl"], AttributeNames=["RedrivePolicy"]
    )["Attributes"]["RedrivePolicy"]
    assert json.loads(redrive)["maxReceiveCount"] == 3
    sqs.get_queue_attributes(QueueUrl=outputs["TryonDlqUrl"], AttributeNames=["QueueArn"])
    assert sqs.get_queue_attributes(QueueUrl=outputs["TryonQueueUrl"], AttributeNames=["Policy"])[
        "Attributes"
    ]["Policy"]
    fn = outputs["TryonProcessorName"]
    assert lam.get_function_concurrency(FunctionName=fn)["ReservedConcurrentExecutions"] == 2
    (mapping,) = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    alarm = cw.describe_alarms(AlarmNames=[outputs["DlqAlarmName"]])["MetricAlarms"][0]
    assert alarm["ActionsEnabled"] is False and alarm["Threshold"] == 1.0
    assert cw.get_dashboard(DashboardName="GarmaxAi-LOCAL")["DashboardBody"]
    rules = emu.client("events").list_rules(EventBusName=outputs["EventBusName"])["Rules"]
    assert [r["Arn"] for r in rules] == [outputs["TryonRuleArn"]]
    ttl = emu.client("dynamodb").describe_time_to_live(TableName=outputs["SessionsTableName"])
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"
    assert emu.client("s3").get_bucket_policy(Bucket=outputs["UploadsBucketName"])["Policy"]
    stage = emu.client("apigateway").get_stage(restApiId=outputs["ApiId"], stageName="local")
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 50.0
    groups = emu.client("logs").describe_log_groups(
        logGroupNamePrefix=outputs["ProcessorLogGroup"]
    )["logGroups"]
    assert groups[0]["retentionInDays"] == 7

    # SQS -> Lambda delivery is off: a message waits for the local workers
    sqs.send_message(QueueUrl=outputs["TryonQueueUrl"], MessageBody="{}")
    visible = sqs.get_queue_attributes(
        QueueUrl=outputs["TryonQueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert visible == "1"

    events_before = len(
        emu.client("cloudformation").describe_stack_events(StackName=STACK)["StackEvents"]
    )
    log = run_cdk(emu, *deploy, out=tmp_path / "o1", timings=timings, label="no-op deploy")
    assert "(no changes)" in log
    events_after = len(
        emu.client("cloudformation").describe_stack_events(StackName=STACK)["StackEvents"]
    )
    assert events_after == events_before

    run_cdk(
        emu, *deploy, "-c", "variant=2", out=tmp_path / "o2", timings=timings, label="update deploy"
    )
    updated = stack_outputs(emu)
    assert updated["BillingQueueUrl"].startswith("https://sqs.")
    assert {k: updated[k] for k in outputs} == outputs
    alarm = cw.describe_alarms(AlarmNames=[outputs["DlqAlarmName"]])["MetricAlarms"][0]
    assert alarm["Threshold"] == 5.0
    status = emu.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    assert status["StackStatus"] == "UPDATE_COMPLETE"

    print("cdk e2e timings (s):", timings)
