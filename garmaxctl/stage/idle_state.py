"""Whether a stage is idle, for every command that must know (deploy's refusal, health,
status): the idle snapshot's and lock's parameter paths and a reader of the snapshot; and
the clocks of the queues idle parks messages in (how long the oldest message may have
waited, when it expires), which ``idle`` and ``health`` both show.

The idle engine itself is ``garmaxctl.services.idle``; this module only reads what it writes
(docs/idle.md, "The snapshot") and imports no service.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from garmaxctl.aws import error_code
from garmaxctl.shared import contract

if TYPE_CHECKING:
    from garmaxctl.aws import AwsTarget

_NOT_FOUND = ("ParameterNotFound", "ResourceNotFoundException", "ResourceNotFound",
              "ServiceNotFoundException", "ClusterNotFoundException", "DBClusterNotFoundFault",
              "ObjectNotFoundException")


def snapshot_param(stage: str) -> str:
    return contract.ops_prefix(stage) + contract.IDLE_SNAPSHOT_PARAM


def lock_param(stage: str) -> str:
    return contract.ops_prefix(stage) + contract.IDLE_LOCK_PARAM


def archive_param(stage: str, created_at: str) -> str:
    stamp = re.sub(r"[^0-9A-Za-z]", "", created_at)
    return contract.ops_prefix(stage) + contract.IDLE_ARCHIVE_PREFIX + stamp


def not_found(exc: BaseException) -> bool:
    """Whether a failed AWS call says the thing asked for does not exist."""
    code = error_code(exc) or ""
    return code in _NOT_FOUND or code.endswith("NotFound")


@dataclass
class IdleState:
    """The small summary others import (deploy's refusal, health/status)."""

    stage: str
    idle: bool
    phase: str | None
    created_at: str | None
    created_by: str | None


def read_snapshot(aws: AwsTarget, stage: str | None = None) -> dict[str, Any] | None:
    """The stage's idle snapshot document, or None when the stage is not idle."""
    stage = stage or aws.stage.stage.value
    try:
        value = aws.client("ssm").get_parameter(Name=snapshot_param(stage))["Parameter"]["Value"]
    except Exception as exc:
        if not_found(exc):
            return None
        raise
    document: dict[str, Any] | None = json.loads(value)
    return document


def idle_state(aws: AwsTarget) -> IdleState:
    stage = aws.stage.stage.value
    document = read_snapshot(aws, stage)
    if document is None:
        return IdleState(stage=stage, idle=False, phase=None, created_at=None, created_by=None)
    return IdleState(stage=stage, idle=True, phase=document.get("phase"),
                     created_at=document.get("created_at"), created_by=document.get("created_by"))


# --------------------------------------------------------------------------- queue clocks

AGE_METRIC = "ApproximateAgeOfOldestMessage"  # AWS/SQS, seconds, per QueueName
RETENTION_WARNING = dt.timedelta(days=3)  # warn from this long before messages expire
RECENT = dt.timedelta(minutes=15)  # how far back the latest age datapoint may be
HOUR = 3600


@dataclass(frozen=True)
class QueueRef:
    """A queue to time: its URL, whether it is a dead-letter queue, and (for a DLQ) the URL
    of the work queue whose messages it receives."""

    url: str
    dlq: bool = False
    source: str | None = None

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class QueueClock:
    """How long the oldest message of a queue may have waited, and when it expires.

    ``age_from`` says where the age comes from: ``metric`` (CloudWatch's
    ``ApproximateAgeOfOldestMessage``, plus the time since that datapoint),
    ``metric+source`` (a DLQ: its metric counts from the move into the DLQ, AWS keeps the
    original enqueue time for expiry, so the longest wait in its source queue since then is
    added), ``snapshot`` (no datapoint: the time since the idle snapshot, the worst case for
    messages parked while idle), ``unknown`` (no datapoint, not idle) or ``empty``."""

    queue: str
    dlq: bool
    visible: int
    in_flight: int
    delayed: int
    retention_s: int  # the queue's MessageRetentionPeriod
    oldest_age_s: int | None  # None: empty, or unknown
    age_from: str
    expires_in_s: int | None  # retention - age; None: empty, or unknown
    warning: str = ""  # why the queue needs attention ("" when it does not)

    @property
    def messages(self) -> int:
        return self.visible + self.in_flight + self.delayed


def short_duration(seconds: float) -> str:
    """``13d 4h``, ``5h 12m``, ``3m``; negative: ``-2h 5m``."""
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h" if hours else f"{sign}{days}d"
    return f"{sign}{hours}h {mins}m" if hours else f"{sign}{mins}m"


def _metric_query(qid: str, queue: str, period: int) -> dict[str, Any]:
    return {"Id": qid, "ReturnData": True, "MetricStat": {"Period": period, "Stat": "Maximum",
            "Metric": {"Namespace": "AWS/SQS", "MetricName": AGE_METRIC,
                       "Dimensions": [{"Name": "QueueName", "Value": queue}]}}}


def _age_series(cloudwatch: Any, queues: list[str], start: dt.datetime, end: dt.datetime,
                period: int) -> dict[str, list[tuple[dt.datetime, float]]]:
    """Each queue's ``ApproximateAgeOfOldestMessage`` Maximum datapoints (time, seconds);
    an unreadable metric (no permission) reads as no datapoints."""
    series: dict[str, list[tuple[dt.datetime, float]]] = {q: [] for q in queues}
    if not queues:
        return series
    ids = {f"q{i}": queue for i, queue in enumerate(queues)}
    queries = [_metric_query(qid, queue, period) for qid, queue in ids.items()]
    try:
        for page in cloudwatch.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries, StartTime=start, EndTime=end):
            for result in page.get("MetricDataResults", []):
                points = zip(result.get("Timestamps", []), result.get("Values", []),
                             strict=False)
                series[ids[result["Id"]]] += [(t.astimezone(dt.UTC), float(v))
                                              for t, v in points]
    except Exception:
        return {q: [] for q in queues}
    return series


def queue_clocks(client: Callable[[str], Any], queues: Sequence[QueueRef], *,
                 now: dt.datetime, idle_since: dt.datetime | None = None) -> list[QueueClock]:
    """The clock of each queue (docs/idle.md, "Queues while idle"): its retention from its
    ``MessageRetentionPeriod`` attribute, the age of its oldest message from CloudWatch
    where AWS publishes it, else the time since ``idle_since`` (the idle snapshot)."""
    sqs, cloudwatch = client("sqs"), client("cloudwatch")
    attributes = {ref.url: sqs.get_queue_attributes(QueueUrl=ref.url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed", "MessageRetentionPeriod"])["Attributes"]
        for ref in queues}

    def count(ref: QueueRef) -> int:
        a = attributes[ref.url]
        return sum(int(a.get(k, 0)) for k in ("ApproximateNumberOfMessages",
                                              "ApproximateNumberOfMessagesNotVisible",
                                              "ApproximateNumberOfMessagesDelayed"))

    busy = [ref for ref in queues if count(ref)]
    recent = _age_series(cloudwatch, [ref.name for ref in busy], now - RECENT, now, 60)
    dlq_sources = sorted({QueueRef(ref.source).name for ref in busy if ref.dlq and ref.source})
    longest = max((int(attributes[ref.url].get("MessageRetentionPeriod", 0)) for ref in busy),
                  default=0)
    history = _age_series(cloudwatch, dlq_sources, now - dt.timedelta(seconds=longest + HOUR),
                          now, HOUR)
    clocks = []
    for ref in queues:
        a = attributes[ref.url]
        retention = int(a.get("MessageRetentionPeriod", 0))
        age: float | int | None = None
        source = "empty"
        if count(ref):
            points = recent.get(ref.name) or []
            if points:
                at, value = max(points)
                age, source = value + max(0.0, (now - at).total_seconds()), "metric"
                if ref.dlq and ref.source:
                    # Hourly buckets (their start times) from before the oldest message's
                    # move on: a bucket that ends after it, with an hour's margin.
                    since = now - dt.timedelta(seconds=age + 2 * HOUR)
                    waited = [v for t, v in history.get(QueueRef(ref.source).name, [])
                              if t >= since]
                    if waited:
                        age, source = age + max(waited), "metric+source"
            elif idle_since is not None:
                age, source = max(0.0, (now - idle_since).total_seconds()), "snapshot"
            else:
                source = "unknown"
        age = round(age) if age is not None else None  # whole seconds
        left = retention - age if age is not None else None
        clock = QueueClock(queue=ref.name, dlq=ref.dlq,
                           visible=int(a.get("ApproximateNumberOfMessages", 0)),
                           in_flight=int(a.get("ApproximateNumberOfMessagesNotVisible", 0)),
                           delayed=int(a.get("ApproximateNumberOfMessagesDelayed", 0)),
                           retention_s=retention, oldest_age_s=age, age_from=source,
                           expires_in_s=left)
        if left is not None and left < RETENTION_WARNING.total_seconds():
            assert age is not None
            clock.warning = (
                f"{'DLQ' if ref.dlq else 'queue'} {ref.name}: the oldest message may have "
                f"waited {short_duration(age)} of its {short_duration(retention)} retention; "
                + (f"it expires in {short_duration(left)}" if left > 0 else
                   "it may already have expired"))
        clocks.append(clock)
    return clocks


def idle_limit(clocks: Sequence[QueueClock]) -> tuple[float, str] | None:
    """How much longer the stage may stay idle before a message parked in a work queue
    expires (seconds, and the queue): an empty queue allows its whole retention (a message
    sent now expires then). DLQs do not count: idle does not change their clocks (their
    messages expire whatever the stage does; they warn on their own). None: no work queue,
    or an age unknown."""
    limits = []
    for clock in clocks:
        if clock.dlq:
            continue
        if clock.messages == 0:
            limits.append((float(clock.retention_s), clock.queue))
        elif clock.expires_in_s is not None:
            limits.append((clock.expires_in_s, clock.queue))
    return min(limits) if limits else None
