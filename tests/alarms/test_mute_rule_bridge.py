"""LOCAL's alarm mute rules (local/bridges/mute_rules.py).

In-process (moto's backends under ``mock_aws``, no patch installed: bridges patch moto
process-wide) with an injected clock: a rule mutes the alarm's actions while ACTIVE — the
alarm still changes state and writes its StateUpdate item, nothing is published — and
expires on its own. Against the bridged emulator (a subprocess, tests/emulator): the four
APIs answer in the botocore model's shape, through boto3.
"""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from garmaxctl.local.alarm_evaluator import AlarmEvaluator
from garmaxctl.local.bridges import alarm_history, mute_rules
from tests.emulator.conftest import bridged_emulator, emu  # noqa: F401

REGION = "us-east-1"
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def aws():
    from moto import mock_aws

    with mock_aws():
        yield


def _backend():
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends["123456789012"][REGION]


def _topic_and_inbox(client=boto3.client):
    sns, sqs = client("sns", region_name=REGION), client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, url


def _alarm(cloudwatch, topic: str, name: str = "GarmaxAI-TryonDlqNotEmpty-LOCAL") -> str:
    cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": "dlq"}], Statistic="Maximum", Period=300,
        EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching", AlarmActions=[topic])
    return name


def _rule(alarm: str, start: dt.datetime, duration: str = "PT2H", **extra) -> dict:
    return {"Name": f"garmaxctl-mute-{alarm}", "Description": "maintenance",
            "Rule": {"Schedule": {"Expression": f"at({start:%Y-%m-%dT%H:%M})",
                                  "Duration": duration}},
            "MuteTargets": {"AlarmNames": [alarm]}, **extra}


def _received(url: str) -> int:
    sqs = boto3.client("sqs", region_name=REGION)
    return len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))


@pytest.mark.usefixtures("aws")
def test_a_muted_alarm_changes_state_publishes_nothing_and_the_mute_expires() -> None:
    topic, inbox = _topic_and_inbox()
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    name = _alarm(cloudwatch, topic)
    backend = _backend()
    mute_rules.put_rule(backend, _rule(name, T0), T0)
    alarm = backend.alarms[name]

    # Muted (inside [T0, T0 + 2h)): evaluated and changed, no action, no Action item.
    assert alarm_history.transition(backend, alarm, "ALARM", "dlq", None,
                                    when=T0 + dt.timedelta(minutes=5))
    assert alarm.state_value == "ALARM"
    kinds = [i["HistoryItemType"] for i in alarm_history.history(backend)]
    assert kinds == ["StateUpdate"]
    assert _received(inbox) == 0
    assert mute_rules.muting_rules(backend, name, T0 + dt.timedelta(hours=1)) == [
        f"garmaxctl-mute-{name}"]

    # Two hours later the rule has expired on its own: the next change is published.
    later = T0 + dt.timedelta(hours=2)
    assert mute_rules.muting_rules(backend, name, later) == []
    assert mute_rules.get_rule(backend, f"garmaxctl-mute-{name}", later)["Status"] == "EXPIRED"
    alarm_history.transition(backend, alarm, "OK", "drained", None, when=later)
    alarm_history.transition(backend, alarm, "ALARM", "again", None,
                             when=later + dt.timedelta(minutes=1))
    assert [i["HistoryItemType"] for i in alarm_history.history(backend)][-1] == "Action"
    assert _received(inbox) == 1


@pytest.mark.usefixtures("aws")
def test_a_mute_ending_in_the_muted_state_runs_its_actions_once() -> None:
    """AWS ("How alarm mute rules work"): muted at t2 into ALARM, still ALARM when the
    window ends -> the ALARM actions run then; back in OK before the end -> nothing."""
    topic, inbox = _topic_and_inbox()
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    still, recovered = _alarm(cloudwatch, topic), _alarm(cloudwatch, topic, "recovered")
    backend = _backend()
    for name in (still, recovered):
        mute_rules.put_rule(backend, _rule(name, T0) | {"Name": f"mute-{name}"}, T0)
        alarm_history.transition(backend, backend.alarms[name], "ALARM", "x", None,
                                 when=T0 + dt.timedelta(minutes=5))
    alarm_history.transition(backend, backend.alarms[recovered], "OK", "y", None,
                             when=T0 + dt.timedelta(minutes=20))
    assert alarm_history.release_mutes(backend, T0 + dt.timedelta(hours=1)) == []  # muted
    assert _received(inbox) == 0

    assert alarm_history.release_mutes(backend, T0 + dt.timedelta(hours=2)) == [still]
    assert alarm_history.release_mutes(backend, T0 + dt.timedelta(hours=3)) == []  # once
    assert _received(inbox) == 1
    actions = [i for i in alarm_history.history(backend) if i["HistoryItemType"] == "Action"]
    assert [i["AlarmName"] for i in actions] == [still]


@pytest.mark.usefixtures("aws")
def test_the_evaluator_still_evaluates_a_muted_alarm() -> None:
    topic, inbox = _topic_and_inbox()
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    name = _alarm(cloudwatch, topic)
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    mute_rules.put_rule(_backend(), _rule(name, now, "PT30M"), now)
    cloudwatch.put_metric_data(Namespace="AWS/SQS", MetricData=[{
        "MetricName": "ApproximateNumberOfMessagesVisible", "Value": 3, "Timestamp": now,
        "Dimensions": [{"Name": "QueueName", "Value": "dlq"}]}])

    changed = AlarmEvaluator(clock=lambda: now + dt.timedelta(seconds=30)).evaluate_all()

    assert changed == {name: "ALARM"}
    assert _received(inbox) == 0
    # The tick after the window: still in ALARM when the mute ended -> published then.
    AlarmEvaluator().evaluate_all(at=now + dt.timedelta(minutes=31))
    assert _received(inbox) == 1


@pytest.mark.usefixtures("aws")
def test_rule_statuses_and_validation() -> None:
    backend = _backend()
    name = "GarmaxAI-QueueDepth-LOCAL"
    mute_rules.put_rule(backend, _rule(name, T0, "PT1H",
                                       ExpireDate=T0 + dt.timedelta(minutes=30)), T0)
    rule = mute_rules.rules(backend)[f"garmaxctl-mute-{name}"]
    assert mute_rules.status(rule, T0 - dt.timedelta(minutes=1)) == "SCHEDULED"
    assert mute_rules.status(rule, T0) == "ACTIVE"
    assert mute_rules.status(rule, T0 + dt.timedelta(minutes=30)) == "EXPIRED"  # ExpireDate
    recurring = _rule(name, T0) | {"Name": "nightly", "Rule": {"Schedule": {
        "Expression": "cron(0 2 * * *)", "Duration": "PT4H"}}}
    mute_rules.put_rule(backend, recurring, T0)
    assert mute_rules.get_rule(backend, "nightly", T0)["MuteType"] == "RECURRING"
    for bad in ({"Duration": "P16D"}, {"Duration": "PT0M"}, {"Expression": "tomorrow"},
                {"Timezone": "Mars/Olympus"}):
        request = _rule(name, T0)
        request["Rule"]["Schedule"].update(bad)
        with pytest.raises(Exception, match=r"Invalid|between"):
            mute_rules.put_rule(backend, request, T0)


def test_the_four_apis_answer_in_the_models_shape(emu) -> None:  # noqa: F811
    cloudwatch = emu.client("cloudwatch")
    topic, _ = _topic_and_inbox(lambda service, region_name: emu.client(service))
    name = _alarm(cloudwatch, topic)
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    cloudwatch.put_alarm_mute_rule(
        Name=f"garmaxctl-mute-{name}", Description="maintenance",
        Rule={"Schedule": {"Expression": f"at({now:%Y-%m-%dT%H:%M})", "Duration": "PT2H",
                           "Timezone": "UTC"}},
        MuteTargets={"AlarmNames": [name]}, ExpireDate=now + dt.timedelta(hours=2),
        Tags=[{"Key": "garmaxai:stage", "Value": "LOCAL"}])

    rule = cloudwatch.get_alarm_mute_rule(AlarmMuteRuleName=f"garmaxctl-mute-{name}")
    assert rule["Status"] == "ACTIVE" and rule["MuteType"] == "ONE_TIME"
    assert rule["MuteTargets"] == {"AlarmNames": [name]}
    assert rule["AlarmMuteRuleArn"] == (
        f"arn:aws:cloudwatch:us-east-1:123456789012:alarm-mute-rule:garmaxctl-mute-{name}")
    assert rule["ExpireDate"] == now + dt.timedelta(hours=2)
    (summary,) = cloudwatch.list_alarm_mute_rules(
        AlarmName=name, Statuses=["ACTIVE"])["AlarmMuteRuleSummaries"]
    assert summary["AlarmMuteRuleArn"] == rule["AlarmMuteRuleArn"]
    assert cloudwatch.list_alarm_mute_rules(
        AlarmName="another")["AlarmMuteRuleSummaries"] == []

    # Muted through the API: SetAlarmState changes the state; no Action item.
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    items = cloudwatch.describe_alarm_history(AlarmName=name)["AlarmHistoryItems"]
    assert [i["HistoryItemType"] for i in items][:1] == ["StateUpdate"]
    assert "Action" not in {i["HistoryItemType"] for i in items}

    cloudwatch.delete_alarm_mute_rule(AlarmMuteRuleName=f"garmaxctl-mute-{name}")
    # AWS: deleting the rule unmutes at once; still in ALARM, its actions run now.
    items = cloudwatch.describe_alarm_history(AlarmName=name,
                                              HistoryItemType="Action")["AlarmHistoryItems"]
    assert len(items) == 1
    cloudwatch.delete_alarm_mute_rule(AlarmMuteRuleName=f"garmaxctl-mute-{name}")  # idempotent
    with pytest.raises(ClientError) as error:
        cloudwatch.get_alarm_mute_rule(AlarmMuteRuleName=f"garmaxctl-mute-{name}")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="back")
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="again")
    items = cloudwatch.describe_alarm_history(AlarmName=name,
                                              HistoryItemType="Action")["AlarmHistoryItems"]
    assert len(items) == 2 and json.loads(items[0]["HistoryData"])["actionState"] == "Succeeded"
