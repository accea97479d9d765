"""GarmaxAi-AiRenderProcessor-{STAGE}: render queue consumer (partial batch failures).

Messages are ``RenderRequested`` events routed by the ``RenderRequested`` rule.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from runtime.deps import Deps
from runtime.domain import renders
from runtime.handlers._sqs import provider_timeout, receive_count
from runtime.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@tracer.capture_method
def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> str:
    outcome = renders.process_message(
        Deps.from_env(), record.body, receive_count(record),
        timeout_s=provider_timeout(lambda_context))
    logger.info("render message processed", extra={"message_id": record.message_id,
                                                   "outcome": outcome})
    return outcome


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=processor, context=context)
