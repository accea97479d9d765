"""Helpers shared by the SQS processors."""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from runtime.observability import logger

# The longest a provider call may take, and what we leave the function to finish up.
MAX_PROVIDER_TIMEOUT_S = 60.0
FINISH_MARGIN_S = 10.0


def receive_count(record: SQSRecord) -> int:
    try:
        return int(record.attributes.approximate_receive_count or 1)
    except (TypeError, ValueError):
        return 1


def provider_timeout(context: LambdaContext | None) -> float:
    """Seconds a provider call may take, bounded by the invocation's remaining time."""
    try:
        remaining = context.get_remaining_time_in_millis() / 1000 if context else None
    except Exception:
        logger.debug("context has no remaining time; using the maximum")
        remaining = None
    if remaining is None:
        return MAX_PROVIDER_TIMEOUT_S
    return max(1.0, min(MAX_PROVIDER_TIMEOUT_S, remaining - FINISH_MARGIN_S))
