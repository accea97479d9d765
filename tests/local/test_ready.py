"""`local up` returns only once LOCAL is ready: its API healthy and its alert inbox subscribed."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws

from garmaxctl.aws import AwsTarget
from garmaxctl.local import inbox, workflow
from garmaxctl.shared import contract
from garmaxctl.shared.errors import EmulatorError
from garmaxctl.shared.stages import get_stage_config


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        # moto in-process answers only AWS's own endpoints: a DEV target stands in for
        # LOCAL's (the function reads the LOCAL stack by name whatever the target).
        yield AwsTarget(stage=get_stage_config("DEV"))


def _stack_with_topic(region: str) -> str:
    template = {"Resources": {"Alerts": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {contract.OutputKey.ALERT_TOPIC_ARN: {"Value": {"Ref": "Alerts"}}}}
    cfn = boto3.client("cloudformation", region_name=region)
    cfn.create_stack(StackName=contract.stack_name("LOCAL"), TemplateBody=json.dumps(template))
    outputs = cfn.describe_stacks(StackName=contract.stack_name("LOCAL"))["Stacks"][0]["Outputs"]
    return outputs[0]["OutputValue"]


def test_waits_for_the_inbox_subscription(aws) -> None:
    topic = _stack_with_topic(aws.region)
    started = time.monotonic()
    with pytest.raises(EmulatorError, match="alert inbox was not subscribed"):
        workflow.wait_for_inbox(aws, timeout=0.3, poll=0.05)
    assert time.monotonic() - started < 5

    sqs = boto3.client("sqs", region_name=aws.region)
    url = sqs.create_queue(QueueName=inbox.QUEUE_NAME)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    boto3.client("sns", region_name=aws.region).subscribe(TopicArn=topic, Protocol="sqs",
                                                         Endpoint=arn)
    workflow.wait_for_inbox(aws, timeout=0.3, poll=0.05)  # returns: subscribed
