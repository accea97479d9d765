"""Issue 11 item 5: idle parks messages in the SQS queues with no time limit of its own, and
SQS deletes a message when its queue's retention runs out. ``idle down`` says how long the
stage may stay idle, ``idle status`` shows each queue's clock and warns from 3 days before a
message expires — for the DLQs too, whose clock counts from the original enqueue.

AWS publishes ``AWS/SQS ApproximateAgeOfOldestMessage`` every minute; moto publishes no
``AWS/*`` metric, so the tests put the datapoints AWS would have published. Retention is read
from each queue's ``MessageRetentionPeriod``: one test gives a queue 4 days."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.idle import builder

DAY = 86400


def _url(name: str) -> str:
    return str(builder.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def _send(name: str, count: int = 1) -> None:
    for i in range(count):
        builder.client("sqs").send_message(QueueUrl=_url(name), MessageBody=f'{{"n": {i}}}')


def _age(queue: str, seconds: float, at: dt.datetime) -> None:
    """The datapoint AWS publishes for the queue (moto publishes none)."""
    builder.client("cloudwatch").put_metric_data(Namespace="AWS/SQS", MetricData=[{
        "MetricName": "ApproximateAgeOfOldestMessage", "Timestamp": at, "Value": seconds,
        "Unit": "Seconds", "Dimensions": [{"Name": "QueueName", "Value": queue}]}])


def _clock(clocks: list[Any], queue: str) -> Any:
    (found,) = [c for c in clocks if c.queue == queue]
    return found


def test_idle_down_says_how_long_the_stage_may_stay_idle(dev) -> None:
    dev.build()
    _send("BillingProcessor-DEV", 2)  # verified Stripe events, waiting 5 days already
    _age("BillingProcessor-DEV", 5 * DAY, dev.now - dt.timedelta(minutes=2))

    report = dev.engine().down()

    assert report.ok, report
    billing = _clock(report.queues, "BillingProcessor-DEV")
    assert (billing.visible, billing.retention_s, billing.age_from) == (2, 14 * DAY, "metric")
    # the datapoint's value plus the time since it (moto, like AWS, stamps the minute)
    assert billing.oldest_age_s == pytest.approx(5 * DAY + 150, abs=150)
    assert report.idle_limit_s == pytest.approx(9 * DAY - 150, abs=150)
    assert report.idle_until.startswith((dev.now + dt.timedelta(days=9)).strftime("%Y-%m-%d"))
    assert _clock(report.queues, "TryonProcessor-DEV").age_from == "empty"
    assert _clock(report.queues, "TryonProcessor-DEV-dlq").dlq
    (note,) = [n for n in report.notes if "may stay idle until" in n]
    assert "8d 23h" in note and "BillingProcessor-DEV" in note
    # A second down says it again, from the same clocks.
    again = dev.engine().down()
    assert again.outcome == "already idle"
    assert again.idle_limit_s == pytest.approx(report.idle_limit_s, abs=5)


def test_idle_status_warns_from_three_days_before_a_parked_message_expires(dev) -> None:
    """No CloudWatch datapoint: the time since the snapshot is the worst case."""
    dev.build()
    assert dev.engine().down().ok
    _send("TryonProcessor-DEV", 3)

    calm = dev.engine(clock=lambda: dev.now + dt.timedelta(days=10, hours=23)).status()
    tryon = _clock(calm.queues, "TryonProcessor-DEV")
    assert tryon.age_from == "snapshot" and not tryon.warning
    assert calm.idle_limit_s == pytest.approx(3 * DAY + 3600, abs=5)
    assert "queue TryonProcessor-DEV: 3 message(s), the oldest may have waited 10d 23h of " \
           "its 14d retention" in calm.notes  # what the table shows

    later = dev.now + dt.timedelta(days=11, hours=12)
    status = dev.engine(clock=lambda: later).status()
    tryon = _clock(status.queues, "TryonProcessor-DEV")
    assert tryon.oldest_age_s == pytest.approx(11.5 * DAY, abs=5)
    assert tryon.expires_in_s == pytest.approx(2.5 * DAY, abs=5)
    assert "waited 11d 12h of its 14d retention; it expires in 2d 1" in tryon.warning
    assert tryon.warning in status.notes
    assert not _clock(status.queues, "AiRenderProcessor-DEV").warning  # empty


def test_retention_is_read_from_the_queue_not_assumed(dev) -> None:
    dev.build()
    builder.client("sqs").set_queue_attributes(QueueUrl=_url("AiRenderProcessor-DEV"),
                                               Attributes={"MessageRetentionPeriod": str(
                                                   4 * DAY)})
    assert dev.engine().down().ok
    _send("AiRenderProcessor-DEV")
    status = dev.engine(clock=lambda: dev.now + dt.timedelta(days=2)).status()
    render = _clock(status.queues, "AiRenderProcessor-DEV")
    assert render.retention_s == 4 * DAY
    assert render.expires_in_s == pytest.approx(2 * DAY, abs=5)  # 14 days would leave 12
    assert "of its 4d retention; it expires in" in render.warning
    assert status.idle_limit_s == pytest.approx(2 * DAY, abs=5)


def test_a_dlq_message_counts_from_its_original_enqueue(dev) -> None:
    """A try-on message parked 12 days while idle, then failed 3 times after ``up`` and moved
    to the DLQ a day ago: the DLQ's metric counts from the move (AWS documents it), but the
    message expires 14 days after it was first sent — in about a day."""
    dev.build()
    assert dev.engine().down().ok
    now = dev.now
    _send("TryonProcessor-DEV-dlq")
    _age("TryonProcessor-DEV-dlq", 1 * DAY, now - dt.timedelta(minutes=1))
    _age("TryonProcessor-DEV", 12 * DAY, now - dt.timedelta(days=1, minutes=10))  # source

    status = dev.engine().status()

    dlq = _clock(status.queues, "TryonProcessor-DEV-dlq")
    assert dlq.age_from == "metric+source"
    assert dlq.oldest_age_s == pytest.approx(13 * DAY, abs=300)
    assert dlq.warning.startswith("DLQ TryonProcessor-DEV-dlq") and "expires in 23h" in \
        dlq.warning
    assert status.idle_limit_s == pytest.approx(14 * DAY, abs=5)  # DLQs do not limit idle
