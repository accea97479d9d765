"""CloudWatch's alarm evaluation on LOCAL (local/alarm_evaluator.py) against in-process
moto, with an injected clock: no test waits for a 5-minute period."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest

from garmaxctl.local.alarm_evaluator import AlarmEvaluator, expression_series, period_starts
from garmaxctl.local.bridges import alarm_history
from garmaxctl.local.samplers import sample_queues
from garmaxctl.local.telemetry import LambdaTelemetry, Sink

pytestmark = pytest.mark.usefixtures("aws")
REGION = "us-east-1"


def cw():
    return boto3.client("cloudwatch", region_name=REGION)


def _state(name: str) -> dict:
    return cw().describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def _inbox(topic_name: str = "alerts"):
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name=topic_name)["TopicArn"]
    url = sqs.create_queue(QueueName=f"{topic_name}-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return topic, url


def _dlq_alarm(topic: str, queue: str = "tryon-dlq", **extra) -> str:
    name = f"{queue}-alarm"
    cw().put_metric_alarm(**{
        "AlarmName": name, "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": queue}], "Statistic": "Maximum",
        "Period": 300, "EvaluationPeriods": 1, "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [topic], **extra})
    return name


def test_a_message_in_a_dlq_alarms_publishes_and_clears(clock) -> None:
    topic, inbox = _inbox()
    name = _dlq_alarm(topic)
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName="tryon-dlq")["QueueUrl"]
    sink, evaluator = Sink(clock=clock), AlarmEvaluator(clock=clock)

    sample_queues(sink)
    evaluator.evaluate_all()
    assert _state(name)["StateValue"] == "OK"  # an empty queue: 0 is not > 0
    assert "Messages" not in sqs.receive_message(QueueUrl=inbox)  # OK has no action here

    sqs.send_message(QueueUrl=dlq, MessageBody="poison")
    clock.advance(minutes=1)
    sample_queues(sink)
    assert evaluator.evaluate_all() == {name: "ALARM"}
    alarm = _state(name)
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].startswith(
        "Threshold Crossed: 1 out of the last 1 datapoints [1.0 (")
    assert alarm["StateReason"].endswith(
        "was greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM "
        "transition).")
    reason_data = json.loads(alarm["StateReasonData"])
    assert reason_data["statistic"] == "Maximum" and reason_data["period"] == 300
    assert reason_data["recentDatapoints"] == [1.0]
    envelope = json.loads(sqs.receive_message(QueueUrl=inbox)["Messages"][0]["Body"])
    message = json.loads(envelope["Message"])
    assert (message["NewStateValue"], message["OldStateValue"]) == ("ALARM", "OK")
    assert message["NewStateReason"] == alarm["StateReason"]

    # Still in the same period, the queue drained: Maximum of the period is still 1.
    sqs.purge_queue(QueueUrl=dlq)
    clock.advance(minutes=1)
    sample_queues(sink)
    assert evaluator.evaluate_all() == {}
    # The next period has only zeros: back to OK, with CloudWatch's wording.
    clock.advance(minutes=5)
    sample_queues(sink)
    assert evaluator.evaluate_all() == {name: "OK"}
    assert "was not greater than the threshold (0.0) (minimum 1 datapoint for ALARM -> OK" \
        in _state(name)["StateReason"]

    history = alarm_history.describe_alarm_history(
        _backend(), alarm_name=name, history_item_type="StateUpdate",
        scan_by="TimestampAscending")["AlarmHistoryItems"]
    assert [i["HistorySummary"] for i in history] == [
        "Alarm updated from OK to ALARM", "Alarm updated from ALARM to OK"]
    assert history[-1]["Timestamp"] == clock.now  # the evaluator's clock, not the wall's


def _backend():
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends["123456789012"][REGION]


def test_missing_data_treatments(clock) -> None:
    topic, _ = _inbox()
    for treat in ("missing", "ignore", "breaching", "notBreaching"):
        _dlq_alarm(topic, queue=f"q-{treat}", TreatMissingData=treat)
    changed = AlarmEvaluator(clock=clock).evaluate_all()  # no data at all
    # moto starts alarms in OK (the bridge, not installed here, starts them in
    # INSUFFICIENT_DATA): "ignore" keeps OK, "notBreaching" stays OK.
    assert changed == {"q-missing-alarm": "INSUFFICIENT_DATA", "q-breaching-alarm": "ALARM"}
    assert _state("q-missing-alarm")["StateReason"] == "Insufficient Data: 1 datapoint was unknown."
    assert _state("q-breaching-alarm")["StateReason"] == (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing "
        "datapoint was treated as [Breaching].")


def test_datapoints_to_alarm_m_of_n(clock) -> None:
    topic, _ = _inbox()
    cw().put_metric_alarm(
        AlarmName="errors", Namespace="AWS/Lambda", MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": "F"}], Statistic="Sum", Period=60,
        EvaluationPeriods=3, DatapointsToAlarm=2, Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold", TreatMissingData="notBreaching",
        AlarmActions=[topic])
    evaluator = AlarmEvaluator(clock=clock)
    sink = Sink(clock=clock)

    def errors(count: int) -> None:
        sink.put_metrics("AWS/Lambda", [{"MetricName": "Errors", "Value": 1, "Unit": "Count",
                                         "Dimensions": [{"Name": "FunctionName",
                                                         "Value": "F"}]}] * count)

    errors(1)
    assert evaluator.evaluate_all() == {}  # 1 of 3 breaching: stays OK (moto's start)
    clock.advance(minutes=1)
    errors(2)
    assert evaluator.evaluate_all() == {"errors": "ALARM"}  # 2 of the last 3
    clock.advance(minutes=2)
    assert evaluator.evaluate_all() == {"errors": "OK"}  # [1, 2 -> out of range] [-, -]


def test_stack_style_metric_math_over_lambda_metrics(clock) -> None:
    """The stack's LambdaErrors (SUM([m0, m1])) and LambdaDuration (MAX([m0, m1])) alarms,
    and why LambdaErrors is no longer m0 + m1."""
    topic, _ = _inbox()

    def query(i: int, fn: str, metric: str, stat: str) -> dict:
        return {"Id": f"m{i}", "ReturnData": False, "MetricStat": {
            "Metric": {"Namespace": "AWS/Lambda", "MetricName": metric,
                       "Dimensions": [{"Name": "FunctionName", "Value": fn}]},
            "Period": 300, "Stat": stat}}

    for name, expression, metric, stat, threshold in (
            ("plus", "m0 + m1", "Errors", "Sum", 1),
            ("errors", "SUM([m0, m1])", "Errors", "Sum", 1),
            ("duration", "MAX([m0, m1])", "Duration", "Average", 100)):
        cw().put_metric_alarm(
            AlarmName=name, EvaluationPeriods=1, Threshold=threshold,
            ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching",
            AlarmActions=[topic], Metrics=[
                {"Id": "expr", "Expression": expression, "Label": name},
                query(0, "A", metric, stat), query(1, "B", metric, stat)])
    telemetry = LambdaTelemetry(Sink(clock=clock))
    for _ in range(2):
        with pytest.raises(ValueError), telemetry.invocation("A", 512):
            raise ValueError("boom")
    evaluator = AlarmEvaluator(clock=clock)
    # Errors of A = 2 but B has no datapoint: m0 + m1 has none either (CloudWatch's
    # arithmetic on time series) -> missing -> notBreaching; SUM([m0, m1]) counts A's.
    assert evaluator.evaluate_all() == {"errors": "ALARM"}  # SUM: 2 > 1
    with telemetry.invocation("B", 512):
        pass
    assert evaluator.evaluate_all() == {"plus": "ALARM"}  # 2 + 0 > 1, only now
    sink = Sink(clock=clock)
    sink.put_metrics("AWS/Lambda", [{"MetricName": "Duration", "Value": 250,
                                     "Unit": "Milliseconds",
                                     "Dimensions": [{"Name": "FunctionName", "Value": "B"}]}])
    assert evaluator.evaluate_all() == {"duration": "ALARM"}  # MAX of the averages > 100


def test_expressions_and_period_alignment() -> None:
    t0, t1 = dt.datetime(2024, 1, 1, 10, 0), dt.datetime(2024, 1, 1, 10, 5)
    a, b = {t0: 1.0, t1: 5.0}, {t1: 2.0}
    assert expression_series("a + b", {"a": a, "b": b}) == {t1: 7.0}
    assert expression_series("MAX([a, b])", {"a": a, "b": b}) == {t0: 1.0, t1: 5.0}
    # SUM over an array adds the operands present at each time ("+" needs them all).
    assert expression_series("SUM([a, b])", {"a": a, "b": b}) == {t0: 1.0, t1: 7.0}
    with pytest.raises(Exception, match="LOCAL evaluates"):
        expression_series("AVG([a, b])", {"a": a, "b": b})
    assert period_starts(dt.datetime(2024, 1, 1, 10, 7, 30, tzinfo=dt.UTC), 300, 2) == [t0, t1]


def test_unsupported_alarms_are_left_alone(clock) -> None:
    topic, _ = _inbox()
    cw().put_metric_alarm(
        AlarmName="p99", Namespace="AWS/Lambda", MetricName="Duration",
        ExtendedStatistic="p99", Period=60, EvaluationPeriods=1, Threshold=1,
        ComparisonOperator="GreaterThanThreshold", AlarmActions=[topic])
    assert AlarmEvaluator(clock=clock).evaluate_all() == {}
    assert _state("p99")["StateValue"] == "OK"
