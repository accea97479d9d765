"""Issue 11: defects the emulator cannot show that would break a first real deploy.

Each test names the item it pins (docs/infra.md, "What a first real deploy needs"):

- item 5: every work queue and DLQ keeps messages for SQS's maximum, 14 days;
- item 9: the activity alarm watches requests reaching the stage's API (AWS/ApiGateway
  ``Count``), which arrive while idle, not the try-on queue, which idle starves;
- item 10: the SMPL service runs an image that keeps running: the labelled placeholder
  (a command, a health check that passes) or the stage's configured image;
- item 11 (infra half): a region override with its zones moves the VPC and every ARN;
- item 12: the render processor may invoke the Bedrock model its fallback uses, only it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from aws_cdk.assertions import Match, Template

from garmaxctl.shared import contract
from garmaxctl.shared.stages import PLACEHOLDER_SMPL_IMAGE, STAGES, Stage
from infra.components.data import PLACEHOLDER_LABEL
from runtime.providers.bedrock import DEFAULT_MODEL as BEDROCK_MODEL
from tests.conftest import free_port

SQS_MAX_RETENTION_SECONDS = 1_209_600  # botocore sqs model / AWS docs: 14 days, the maximum
CONFIGURED_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/garmax-smpl:1.4.0"
MOVED = {"GARMAX_DEV_REGION": "eu-west-1", "GARMAX_DEV_AZS": "eu-west-1b,eu-west-1c",
         "GARMAX_DEV_SMPL_IMAGE": CONFIGURED_IMAGE}


@pytest.fixture(scope="module")
def moved_dev(bundles, tmp_path_factory) -> Template:
    """DEV moved to eu-west-1 (with its zones) and given its own SMPL image."""
    from infra.cdk_app import build_app

    app, stack = build_app(Stage.DEV, environ=MOVED, bundle=bundles["real"],
                           outdir=str(tmp_path_factory.mktemp("cdk-out-moved")),
                           allow_dependency_free_bundle=True)
    app.synth()
    return Template.from_stack(stack)


def _container(template: Template) -> dict:
    (task,) = template.find_resources("AWS::ECS::TaskDefinition").values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    return container


def _statements_of(synth, function: contract.Function) -> list[dict]:
    name = contract.function_name(function, synth.stage.value)
    role = next(v["Properties"]["Role"]["Fn::GetAtt"][0]
                for v in synth.of_type("AWS::Lambda::Function").values()
                if v["Properties"]["FunctionName"] == name)
    return [s for p in synth.of_type("AWS::IAM::Policy").values()
            if {"Ref": role} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


# ------------------------------------------------------------ item 5: queue retention


def test_item5_work_queues_and_dlqs_keep_messages_for_the_sqs_maximum(synth):
    assert contract.QUEUE_RETENTION_SECONDS == SQS_MAX_RETENTION_SECONDS
    synth.assertions.resource_count_is("AWS::SQS::Queue", 2 * len(contract.Queue))
    synth.assertions.all_resources_properties(
        "AWS::SQS::Queue", {"MessageRetentionPeriod": SQS_MAX_RETENTION_SECONDS})


# ------------------------------------------------------------ item 9: activity alarm


def test_item9_activity_alarm_counts_requests_reaching_the_stages_api(synth):
    stage = synth.stage.value
    (rest_api,) = synth.of_type("AWS::ApiGateway::RestApi").values()
    (api_stage,) = synth.of_type("AWS::ApiGateway::Stage").values()
    dimensions = [{"Name": "ApiName", "Value": rest_api["Properties"]["Name"]},
                  {"Name": "Stage", "Value": api_stage["Properties"]["StageName"]}]
    assert dimensions == [{"Name": "ApiName", "Value": contract.api_name(stage)},
                          {"Name": "Stage", "Value": contract.api_stage_name(stage)}]
    synth.assertions.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmName": contract.alarm_name(contract.Alarm.ACTIVITY, stage),
        "Namespace": "AWS/ApiGateway",
        "MetricName": "Count",
        "Dimensions": dimensions,
        "Statistic": "SampleCount",
        "Period": 60,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 0,
        "TreatMissingData": "notBreaching",  # no request, no data point: OK, not ALARM
        "ActionsEnabled": False,  # idle down enables them
        "AlarmActions": [{"Ref": next(iter(synth.of_type("AWS::SNS::Topic")))}],
    })


# ------------------------------------------------------------ item 10: SMPL image


def _real_stages():
    return [s for s in STAGES if STAGES[s].features.ecs]


@pytest.mark.parametrize("stage", _real_stages(), ids=lambda s: s.value)
def test_item10_default_smpl_container_is_the_labelled_placeholder_with_a_health_check(
        stage, synths):
    synth = synths[stage]
    container = _container(synth.assertions)
    assert container["Image"] == PLACEHOLDER_SMPL_IMAGE
    assert container["Command"][:3] == ["python", "-m", "http.server"]
    assert container["Command"][-4:] == ["--bind", "127.0.0.1", "--directory", "/tmp"]
    assert container["HealthCheck"]["Command"][:2] == ["CMD", "python"]
    assert container["DockerLabels"] == {PLACEHOLDER_LABEL: "true"}
    assert synth.template["Outputs"][contract.OutputKey.SMPL_PLACEHOLDER]["Value"] == "true"
    assert "Environment" not in container  # cdk-nag ECS2; the label carries the mark


def test_item10_placeholder_command_keeps_running_and_its_health_check_passes(synths):
    """Run the template's own command and health check (python -> this interpreter, its
    port -> a free one): the process is still up once the check passes."""
    container = _container(synths[Stage.DEV].assertions)
    command, check = container["Command"], container["HealthCheck"]
    port = command[3]
    mine = str(free_port())
    argv = [sys.executable, *[mine if a == port else a for a in command[1:]]]
    assert check["Command"][0] == "CMD" and check["Command"][1] == "python"
    probe = [sys.executable, *[a.replace(port, mine) for a in check["Command"][2:]]]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + check["StartPeriod"] + check["Timeout"]
        passed = False
        while time.monotonic() < deadline and not passed:
            passed = subprocess.run(probe, capture_output=True, timeout=check["Timeout"] + 5,
                                    check=False).returncode == 0
            if not passed:
                time.sleep(0.3)
        assert passed, "health check never passed within the start period"
        time.sleep(1.0)
        assert server.poll() is None, "the placeholder exited"
        assert subprocess.run(probe, capture_output=True, timeout=10,
                              check=False).returncode == 0
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_item10_a_configured_image_runs_as_it_is_and_says_it_is_not_the_placeholder(
        moved_dev):
    container = _container(moved_dev)
    assert container["Image"] == CONFIGURED_IMAGE
    assert "Command" not in container and "HealthCheck" not in container
    assert container["DockerLabels"] == {PLACEHOLDER_LABEL: "false"}
    moved_dev.has_output(contract.OutputKey.SMPL_PLACEHOLDER.value, {"Value": "false"})


# ------------------------------------------------------------ item 11: moved region


def test_item11_a_moved_stage_puts_its_subnets_in_the_named_zones(moved_dev):
    subnets = moved_dev.find_resources("AWS::EC2::Subnet")
    zones = {s["Properties"]["AvailabilityZone"] for s in subnets.values()}
    assert zones == {"eu-west-1b", "eu-west-1c"}
    text = json.dumps(moved_dev.to_json())
    assert "us-east-1" not in text


# ------------------------------------------------------------ item 12: Bedrock fallback


def _model_arn(region: str) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{BEDROCK_MODEL}"


def test_item12_render_processor_may_invoke_the_fallback_model_and_nothing_else(synth):
    arn = _model_arn(STAGES[synth.stage].region)
    render = [s for s in _statements_of(synth, contract.Function.AI_RENDER_PROCESSOR)
              if "bedrock" in json.dumps(s)]
    assert render == [{"Action": "bedrock:InvokeModel", "Effect": "Allow", "Resource": arn}]
    for fn in set(contract.Function) - {contract.Function.AI_RENDER_PROCESSOR}:
        assert "bedrock" not in json.dumps(_statements_of(synth, fn)), fn
    synth.assertions.has_resource_properties("AWS::IAM::Policy", {
        "PolicyDocument": {"Statement": Match.array_with([
            {"Action": "bedrock:InvokeModel", "Effect": "Allow", "Resource": arn}])}})


def test_item12_the_grant_is_for_the_model_the_runtime_fallback_invokes(monkeypatch):
    """The Bedrock provider the render router falls back to sends DEFAULT_MODEL."""
    import base64
    import io

    import boto3
    from botocore.response import StreamingBody
    from botocore.stub import ANY, Stubber

    from runtime.config import RuntimeConfig
    from runtime.providers import registry
    from runtime.providers.base import RenderInput

    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    body = json.dumps({"images": [base64.b64encode(b"png").decode()]}).encode()
    stubber = Stubber(client)
    stubber.add_response("invoke_model",
                         {"body": StreamingBody(io.BytesIO(body), len(body)),
                          "contentType": "application/json"},
                         {"modelId": BEDROCK_MODEL, "body": ANY, "contentType": ANY,
                          "accept": ANY})
    monkeypatch.setitem(registry._bedrock, "client", client)
    provider = registry.build_provider(
        "bedrock", RuntimeConfig(stage="DEV", version="t", params_prefix="/garmaxai/DEV/"))
    assert provider is not None
    with stubber:
        out = provider.render(RenderInput(render_id="r", user_id="u", session_id="s",
                                          quality="sd", avatar_ref="a", garment_ref="g"),
                              timeout_s=5)
        stubber.assert_no_pending_responses()
    assert out.model == BEDROCK_MODEL


def test_item12_a_moved_stage_grants_the_model_in_its_own_region(moved_dev):
    moved_dev.has_resource_properties("AWS::IAM::Policy", {
        "PolicyDocument": {"Statement": Match.array_with([
            {"Action": "bedrock:InvokeModel", "Effect": "Allow",
             "Resource": _model_arn("eu-west-1")}])}})
