"""SQS: a work queue with its dead-letter queue, sized to its consumer.

Visibility timeout is 6x the consumer's timeout (AWS's guidance for Lambda consumers, so a
batch that is retried inside the function never reappears while it is still being worked
on), DLQ after ``contract.DLQ_MAX_RECEIVE_COUNT`` receives, SSE with SQS-managed keys and a
TLS-only queue policy on both queues. Both keep messages for SQS's maximum, 14 days
(``contract.QUEUE_RETENTION_SECONDS``): ``idle`` parks messages in the work queue for as
long as the stage is idle, and SQS counts a dead-lettered message's age from its original
enqueue time, so the DLQ must keep messages at least as long as its source queue.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from garmaxctl.shared import contract
from infra.components import acknowledge

VISIBILITY_MULTIPLIER = 6
RETENTION = cdk.Duration.seconds(contract.QUEUE_RETENTION_SECONDS)


class WorkQueue(Construct):
    def __init__(self, scope: Construct, construct_id: str, *,
                 consumer_timeout: cdk.Duration) -> None:
        super().__init__(scope, construct_id)
        self.dlq = sqs.Queue(
            self,
            "Dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=RETENTION,
        )
        acknowledge(
            self.dlq, "AwsSolutions-SQS3",
            "This queue is itself a dead-letter queue; its messages are inspected and "
            "redriven by operators, and its depth is alarmed (GarmaxAI-*DlqNotEmpty).",
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=RETENTION,
            visibility_timeout=cdk.Duration.seconds(
                consumer_timeout.to_seconds() * VISIBILITY_MULTIPLIER
            ),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dlq, max_receive_count=contract.DLQ_MAX_RECEIVE_COUNT
            ),
        )
