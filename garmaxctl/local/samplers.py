"""SQS queue metrics, sampled: what SQS publishes to CloudWatch every minute.

For every queue in the emulator's region: ``AWS/SQS`` ``ApproximateNumberOfMessagesVisible``,
``ApproximateNumberOfMessagesNotVisible`` and ``ApproximateNumberOfMessagesDelayed``,
dimension ``QueueName``, read from moto's SQS backend in this process at the sampler's
clock time. The platform calls :func:`sample_queues` on its telemetry tick (60 s by
default, as SQS's one-minute metrics; a test calls it directly with its own clock).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from garmaxctl.local.telemetry import Sink, dimensions


def sample_queues(sink: Sink, at: dt.datetime | None = None) -> int:
    """One sample of every queue; returns how many queues were sampled."""
    from moto.sqs.models import sqs_backends

    at = at or sink.clock()
    backend = sqs_backends[sink.account][sink.region]
    data: list[dict[str, Any]] = []
    for name, queue in list(backend.queues.items()):
        dims = dimensions(QueueName=name)
        for metric, value in (
                ("ApproximateNumberOfMessagesVisible", queue.approximate_number_of_messages),
                ("ApproximateNumberOfMessagesNotVisible",
                 queue.approximate_number_of_messages_not_visible),
                ("ApproximateNumberOfMessagesDelayed",
                 queue.approximate_number_of_messages_delayed)):
            data.append({"MetricName": metric, "Dimensions": dims, "Value": float(value),
                         "Unit": "Count", "Timestamp": at})
    if data:
        sink.put_metrics("AWS/SQS", data)
    return len(data) // 3
