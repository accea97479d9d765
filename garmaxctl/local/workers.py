"""The LOCAL SQS workers: one consumer per queue, calling the processor as Lambda would.

moto runs no Lambda code without Docker (and the ``sqs-lambda-delivery-off`` bridge
keeps messages in their queues), so each worker receives messages and calls the
consuming function's handler with an SQS event, deleting what the handler did not report
in ``batchItemFailures``. It consumes only while the function's event source mapping is
enabled and its reserved concurrency is not 0: idle pauses it exactly as it pauses Lambda.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from garmaxctl.shared import contract

if TYPE_CHECKING:
    from garmaxctl.local.platform import Platform

log = logging.getLogger(__name__)

STAGE = "LOCAL"
POLL_S = 1.0


def mapping_enabled(platform: Platform, function: contract.Function, queue_arn: str) -> bool:
    name = contract.function_name(function, STAGE)
    mappings = platform.client("lambda").list_event_source_mappings(
        FunctionName=name, EventSourceArn=queue_arn)["EventSourceMappings"]
    return any(m.get("State") in ("Enabled", "Enabling", "Updating") for m in mappings)


def pause_reason(platform: Platform, function: contract.Function, queue_arn: str) -> str | None:
    """Why the consumer of ``queue_arn`` is paused (as Lambda would be), or None."""
    if not mapping_enabled(platform, function, queue_arn):
        return "its event source mapping is disabled"
    if not platform.function_enabled(function):
        return "its reserved concurrency is 0"
    return None


def work(platform: Platform, queue: contract.Queue, stop: threading.Event) -> None:
    """Consume ``queue`` for its function until ``stop`` is set."""
    function = contract.CONSUMERS[queue]
    name = contract.function_name(function, STAGE)
    paused: str | None = ""  # "" = not known yet; logged on every change only
    while not stop.is_set():
        view = platform.view
        if view is None:
            stop.wait(POLL_S)
            continue
        queue_url = view.outputs.get(contract.QUEUE_OUTPUTS[queue][0])
        if not queue_url:
            stop.wait(POLL_S)
            continue
        try:
            sqs = platform.client("sqs")
            arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            reason = pause_reason(platform, function, arn)
            if reason != paused:
                log.info("%s consumer %s", name,
                         f"paused: {reason}" if reason else "consuming")
                paused = reason
            if reason:
                stop.wait(POLL_S)  # paused, as idle pauses Lambda: messages stay
                continue
            received = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
            if not received:
                continue
            deliver(platform, queue, function, sqs, queue_url, arn, received)
        except Exception as exc:
            log.warning("worker %s: %s: %s", queue, type(exc).__name__, exc)
            stop.wait(POLL_S)


def deliver(platform: Platform, queue: contract.Queue, function: contract.Function, sqs: Any,
            queue_url: str, arn: str, messages: list[dict[str, Any]]) -> None:
    """One batch to the handler; delete what it processed, leave its failures visible."""
    records = [sqs_record(m, arn, platform.region) for m in messages]
    name = contract.function_name(function, STAGE)
    try:
        result = platform.invoke(function, {"Records": records}) or {}
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
    except Exception:
        log.exception("%s raised: the whole batch returns to the queue", name)
        return  # like Lambda: the messages become visible again and are retried
    done = [m for m in messages if m["MessageId"] not in failed]
    for start in range(0, len(done), 10):
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(done[start:start + 10])])
    log.info("%s processed %d message(s), %d failed", name, len(done), len(failed))


def sqs_record(message: dict[str, Any], arn: str, region: str) -> dict[str, Any]:
    """A received SQS message as Lambda's event source mapping delivers it."""
    attributes = {k: str(v) for k, v in message.get("Attributes", {}).items()}
    message_attributes = {
        k: {"stringValue": v.get("StringValue"), "binaryValue": v.get("BinaryValue"),
            "dataType": v.get("DataType"), "stringListValues": [], "binaryListValues": []}
        for k, v in message.get("MessageAttributes", {}).items()}
    return {
        "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"], "attributes": attributes,
        "messageAttributes": message_attributes, "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": region,
    }
