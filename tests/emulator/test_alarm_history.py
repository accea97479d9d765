"""Alarm state, history and actions in the bridged emulator (bridges/alarm_history.py).

What AWS does and moto 5.2.5 does not: a new alarm starts in INSUFFICIENT_DATA;
``SetAlarmState`` writes a StateUpdate history item and runs the new state's SNS actions
(with an Action item saying the publish succeeded); ``DescribeAlarmHistory`` answers in
the botocore model's shape, filtered and paged.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from botocore.exceptions import ClientError


def _topic_with_queue(emu):
    sns, sqs = emu.client("sns"), emu.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url,
                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, queue_url


def _alarm(cloudwatch, name: str, topic: str, **extra) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name, Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": "dlq"}], Statistic="Maximum", Period=300,
        EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching", AlarmActions=[topic], **extra)


def test_new_alarm_starts_in_insufficient_data_and_an_update_keeps_its_state(emu):
    cloudwatch = emu.client("cloudwatch")
    topic, _ = _topic_with_queue(emu)
    _alarm(cloudwatch, "a", topic)
    alarm = cloudwatch.describe_alarms(AlarmNames=["a"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Unchecked: Initial alarm creation"
    cloudwatch.set_alarm_state(AlarmName="a", StateValue="OK", StateReason="test")
    _alarm(cloudwatch, "a", topic, AlarmDescription="changed")
    alarm = cloudwatch.describe_alarms(AlarmNames=["a"])["MetricAlarms"][0]
    assert (alarm["StateValue"], alarm["AlarmDescription"]) == ("OK", "changed")
    config = cloudwatch.describe_alarm_history(
        AlarmName="a", HistoryItemType="ConfigurationUpdate",
        ScanBy="TimestampAscending")["AlarmHistoryItems"]
    assert [i["HistorySummary"] for i in config] == ['Alarm "a" created', 'Alarm "a" updated']


def test_set_alarm_state_writes_history_and_publishes_to_the_topic(emu):
    cloudwatch, sqs = emu.client("cloudwatch"), emu.client("sqs")
    topic, queue_url = _topic_with_queue(emu)
    _alarm(cloudwatch, "dlq-alarm", topic)
    cloudwatch.set_alarm_state(AlarmName="dlq-alarm", StateValue="ALARM",
                               StateReason="testing the notification")

    items = cloudwatch.describe_alarm_history(AlarmName="dlq-alarm")["AlarmHistoryItems"]
    kinds = [i["HistoryItemType"] for i in items]  # newest first (TimestampDescending)
    assert kinds[:2] == ["Action", "StateUpdate"] and kinds[-1] == "ConfigurationUpdate"
    action, update = items[0], items[1]
    assert update["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    data = json.loads(update["HistoryData"])
    assert data["oldState"]["stateValue"] == "INSUFFICIENT_DATA"
    assert data["newState"] == {"stateValue": "ALARM", "stateReason": "testing the notification"}
    assert action["HistorySummary"] == f"Successfully executed action {topic}"
    assert json.loads(action["HistoryData"])["actionState"] == "Succeeded"
    assert all(i["AlarmType"] == "MetricAlarm" for i in items)

    received = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    envelope = json.loads(received[0]["Body"])
    assert envelope["Subject"] == 'ALARM: "dlq-alarm" in US East (N. Virginia)'
    message = json.loads(envelope["Message"])
    assert (message["AlarmName"], message["NewStateValue"], message["OldStateValue"]) == \
        ("dlq-alarm", "ALARM", "INSUFFICIENT_DATA")
    assert message["Trigger"]["MetricName"] == "ApproximateNumberOfMessagesVisible"

    # The same state again is no transition: no history item, no second notification.
    cloudwatch.set_alarm_state(AlarmName="dlq-alarm", StateValue="ALARM", StateReason="again")
    assert len(cloudwatch.describe_alarm_history(
        AlarmName="dlq-alarm")["AlarmHistoryItems"]) == len(items)
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)


def test_disabled_actions_change_state_without_publishing(emu):
    cloudwatch, sqs = emu.client("cloudwatch"), emu.client("sqs")
    topic, queue_url = _topic_with_queue(emu)
    _alarm(cloudwatch, "muted", topic, ActionsEnabled=False)
    cloudwatch.set_alarm_state(AlarmName="muted", StateValue="ALARM", StateReason="x")
    kinds = [i["HistoryItemType"] for i in cloudwatch.describe_alarm_history(
        AlarmName="muted")["AlarmHistoryItems"]]
    assert kinds == ["StateUpdate", "ConfigurationUpdate"]
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)


def test_history_filters_pages_and_outlives_the_alarm(emu):
    cloudwatch = emu.client("cloudwatch")
    topic, _ = _topic_with_queue(emu)
    _alarm(cloudwatch, "paged", topic, ActionsEnabled=False)
    _alarm(cloudwatch, "other", topic, ActionsEnabled=False)
    for state in ("OK", "ALARM", "OK", "ALARM", "OK"):
        cloudwatch.set_alarm_state(AlarmName="paged", StateValue=state, StateReason=state)
    pages = cloudwatch.get_paginator("describe_alarm_history").paginate(
        AlarmName="paged", HistoryItemType="StateUpdate", ScanBy="TimestampAscending",
        PaginationConfig={"PageSize": 2})
    summaries = [i["HistorySummary"] for page in pages for i in page["AlarmHistoryItems"]]
    assert summaries == ["Alarm updated from INSUFFICIENT_DATA to OK",
                         "Alarm updated from OK to ALARM", "Alarm updated from ALARM to OK",
                         "Alarm updated from OK to ALARM", "Alarm updated from ALARM to OK"]
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert cloudwatch.describe_alarm_history(StartDate=future)["AlarmHistoryItems"] == []
    assert cloudwatch.describe_alarm_history(
        AlarmTypes=["CompositeAlarm"])["AlarmHistoryItems"] == []
    cloudwatch.delete_alarms(AlarmNames=["paged"])
    names = {i["AlarmName"] for i in cloudwatch.describe_alarm_history()["AlarmHistoryItems"]}
    assert names == {"paged", "other"}  # CloudWatch keeps a deleted alarm's history
    with pytest.raises(ClientError) as error:
        cloudwatch.describe_alarm_history(NextToken="not-a-token")
    assert error.value.response["Error"]["Code"] == "InvalidNextToken"
