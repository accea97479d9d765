"""GarmaxAi-BillingProcessor-{STAGE}: billing queue consumer (partial batch failures).

Each message is a verified Stripe event (from the StripeWebhook function), applied to the
credits ledger exactly once per event id, and a Checkout Session credited at most once
whatever events it sends (``runtime.domain.billing``).
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
from runtime.domain import billing
from runtime.domain.clock import iso
from runtime.observability import count, logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@tracer.capture_method
def record_handler(record: SQSRecord) -> str:
    deps = Deps.from_env()
    event = billing.parse_event(record.body)  # malformed -> this record fails alone
    plans = billing.price_plans(deps.config) if event["type"] in billing.HANDLED_TYPES else {}
    result = billing.apply_event(deps.ddb, deps.config.table("Credits"), event, plans,
                                 iso(deps.clock()))
    logger.info("stripe event processed", extra={
        "message_id": record.message_id, "event_id": result.event_id,
        "type": result.event_type, "outcome": result.outcome,
        "credit_delta": result.credit_delta, "checkout_state": result.checkout_state})
    count(f"BillingEvents{result.outcome.title()}")
    if result.checkout_state:  # CheckoutFulfilled, CheckoutAwaitingPayment, ...
        count("Checkout" + result.checkout_state.title().replace("_", ""))
    return result.outcome


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=processor, context=context)
