"""LOCAL's alert inbox: what the stack's alert topic delivered, readable by the commands.

On AWS the alert topic (``AlertTopicArn``) e-mails the team; an emulator sends no
e-mail (moto records an e-mail subscription as pending confirmation, and LOCAL does not
pretend it was delivered). So that an alarm's notification can be seen arriving on
LOCAL, the platform subscribes an SQS queue to the topic — a real SNS -> SQS delivery
in the emulator — and drains it into a file:

- queue ``garmaxctl-alert-inbox-LOCAL`` (created by the platform when it sees the stack,
  subscribed to the topic with protocol ``sqs``, raw delivery off: each message is SNS's
  JSON envelope, ``Type: Notification``);
- file ``{state dir}/local/alert-inbox.jsonl``: one JSON object per delivered message,
  ``{"received_at", "message_id", "topic_arn", "subject", "timestamp", "message"}``
  (``message`` parsed from JSON when it is JSON, as CloudWatch's alarm messages are).

:func:`garmaxctl.local.supervisor.inbox_messages` reads the file (standard library only);
the file survives the emulator stopping and ``local reset`` (it is the inbox's history,
not the emulator's state).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from garmaxctl.shared import contract

if TYPE_CHECKING:
    from garmaxctl.local.platform import Platform

log = logging.getLogger(__name__)

STAGE = "LOCAL"
QUEUE_NAME = f"garmaxctl-alert-inbox-{STAGE}"
INBOX_FILE = "alert-inbox.jsonl"  # beside emulator.json (supervisor.INBOX_FILE)
POLL_S = 1.0


def subscribe(platform: Platform, topic_arn: str) -> str:
    """Create the inbox queue and subscribe it to the topic (idempotent); its URL."""
    sqs, sns = platform.client("sqs"), platform.client("sns")
    url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    existing = [s for page in sns.get_paginator("list_subscriptions_by_topic").paginate(
        TopicArn=topic_arn) for s in page.get("Subscriptions", []) if s["Endpoint"] == arn]
    if not existing:
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
        log.info("alert inbox %s subscribed to %s", QUEUE_NAME, topic_arn)
    return str(url)


def entry(body: str, received_at: dt.datetime) -> dict[str, Any]:
    """One delivered SNS envelope as an inbox entry."""
    envelope = json.loads(body)
    message: Any = envelope.get("Message")
    with contextlib.suppress(TypeError, ValueError):
        message = json.loads(message)
    return {"received_at": received_at.isoformat(), "message_id": envelope.get("MessageId"),
            "topic_arn": envelope.get("TopicArn"), "subject": envelope.get("Subject"),
            "timestamp": envelope.get("Timestamp"), "message": message}


def append(path: Path, entries: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for item in entries:
            handle.write(json.dumps(item) + "\n")


def drain(platform: Platform, stop: threading.Event) -> None:
    """Move what the topic delivered into the inbox file until ``stop`` is set."""
    if platform.state_dir is None:
        return
    path = platform.state_dir / INBOX_FILE
    subscribed_for: str | None = None
    url = ""
    while not stop.is_set():
        view = platform.view
        topic = view.outputs.get(contract.OutputKey.ALERT_TOPIC_ARN) if view else None
        if not topic or view is None:
            stop.wait(POLL_S)
            continue
        try:
            if subscribed_for != view.stack_id:
                url = subscribe(platform, topic)
                subscribed_for = view.stack_id
            sqs = platform.client("sqs")
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1).get("Messages", [])
            if not messages:
                continue
            now = dt.datetime.now(dt.UTC)
            append(path, [entry(m["Body"], now) for m in messages])
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages)])
        except Exception as exc:  # the emulator was reset, the stack is redeploying ...
            log.warning("alert inbox: %s: %s", type(exc).__name__, exc)
            subscribed_for = None
            stop.wait(POLL_S)
