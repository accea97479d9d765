"""EventBridge publishing. Sources and detail-types come only from ``garmaxctl.shared.contract``,
so the producers here and the rules the CDK app creates (``contract.RULES``) agree."""

from __future__ import annotations

import json
from typing import Any

from garmaxctl.shared.contract import (
    EVENT_SOURCE_BILLING,
    EVENT_SOURCE_RENDER,
    EVENT_SOURCE_TRYON,
    DetailType,
)
from runtime.domain.errors import ServiceUnavailable
from runtime.observability import count, logger

SOURCE_OF: dict[DetailType, str] = {
    DetailType.TRYON_SESSION_CREATED: EVENT_SOURCE_TRYON,
    DetailType.TRYON_SESSION_PROCESSED: EVENT_SOURCE_TRYON,
    DetailType.TRYON_SESSION_FAILED: EVENT_SOURCE_TRYON,
    DetailType.RENDER_REQUESTED: EVENT_SOURCE_RENDER,
    DetailType.RENDER_COMPLETED: EVENT_SOURCE_RENDER,
    DetailType.RENDER_FAILED: EVENT_SOURCE_RENDER,
    DetailType.BUDGET_THRESHOLD_CROSSED: EVENT_SOURCE_BILLING,
}


def publish(events_client: Any, bus_name: str, detail_type: DetailType,
            detail: dict[str, Any]) -> str:
    """Put one event on the stage's bus; raise ``ServiceUnavailable`` if it was not accepted."""
    response = events_client.put_events(Entries=[{
        "EventBusName": bus_name,
        "Source": SOURCE_OF[detail_type],
        "DetailType": detail_type.value,
        "Detail": json.dumps(detail, separators=(",", ":"), default=str),
    }])
    entries = response.get("Entries") or [{}]
    if response.get("FailedEntryCount") or entries[0].get("ErrorCode"):
        raise ServiceUnavailable(
            f"the event bus did not accept {detail_type.value}", code="event_publish_failed")
    return str(entries[0].get("EventId", ""))


def publish_best_effort(events_client: Any, bus_name: str | None, detail_type: DetailType,
                        detail: dict[str, Any]) -> bool:
    """For notifications nobody's correctness depends on: a failure is logged and counted."""
    if not bus_name:
        logger.warning("no event bus configured; event not published",
                       extra={"detail_type": detail_type.value})
        return False
    try:
        publish(events_client, bus_name, detail_type, detail)
        return True
    except Exception:
        logger.exception("event not published", extra={"detail_type": detail_type.value})
        count("EventPublishFailed")
        return False


def parse_envelope(body: dict[str, Any]) -> tuple[str | None, str | None, dict[str, Any]]:
    """``(source, detail_type, detail)`` of an EventBridge event delivered through SQS."""
    detail = body.get("detail")
    return body.get("source"), body.get("detail-type"), detail if isinstance(detail, dict) else {}
