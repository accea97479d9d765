"""GarmaxAi-StripeWebhook-{STAGE}: ``POST /api/webhooks/stripe``.

Its own function (and route) so that idle can stop the API while payments keep arriving.
The signature is verified with the ``stripe`` SDK against ``stripe/webhook-secret`` (read
from Parameter Store, cached), with the SDK's timestamp tolerance: an old, replayed
payload is refused. A verified event of a handled type goes to the billing queue;
other types are acknowledged and dropped.
"""

from __future__ import annotations

import json
from typing import Any

import stripe
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from garmaxctl.shared.contract import PARAMS_BY_ENV_KEY, STRIPE_WEBHOOK_PATH, Queue
from runtime.config import get_secret
from runtime.deps import Deps
from runtime.domain.billing import HANDLED_TYPES
from runtime.domain.errors import BadRequest, DomainError, ServiceUnavailable
from runtime.observability import count, logger, metrics, tracer

TOLERANCE_S = 300
WEBHOOK_SECRET_PATH = PARAMS_BY_ENV_KEY["STRIPE_WEBHOOK_SECRET"].path

app = APIGatewayRestResolver()


def verify(payload: str, signature: str | None, secret: str,
           tolerance: int = TOLERANCE_S) -> dict[str, Any]:
    """The verified event as a dict; ``BadRequest`` for a bad signature or payload."""
    if not signature:
        raise BadRequest("the Stripe-Signature header is missing", code="missing_signature")
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance)
    except stripe.SignatureVerificationError:
        raise BadRequest("the Stripe signature does not verify (or is too old)",
                         code="invalid_signature") from None
    try:
        event = json.loads(payload)
    except ValueError:
        raise BadRequest("the payload is not JSON", code="malformed_payload") from None
    if (not isinstance(event, dict) or event.get("object") != "event"
            or not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str)):
        raise BadRequest("the payload is not a Stripe event", code="malformed_payload")
    return event


@app.post(STRIPE_WEBHOOK_PATH)
def receive() -> Response:
    deps = Deps.from_env()
    current = app.current_event
    payload = current.decoded_body or ""
    signature = current.headers.get("Stripe-Signature")  # case-insensitive
    secret = get_secret(deps.config, WEBHOOK_SECRET_PATH)
    event = verify(payload, signature, secret)
    if event["type"] not in HANDLED_TYPES:
        logger.info("stripe event type ignored", extra={"type": event["type"],
                                                        "event_id": event["id"]})
        count("StripeEventsIgnored")
        return _json(200, {"received": True, "id": event["id"], "queued": False})
    try:
        deps.sqs.send_message(
            QueueUrl=deps.config.queue_url(Queue.BILLING), MessageBody=payload,
            MessageAttributes={"eventType": {"DataType": "String",
                                             "StringValue": event["type"]}})
    except Exception:
        logger.exception("stripe event not queued", extra={"event_id": event["id"]})
        raise ServiceUnavailable("the event could not be queued; Stripe will retry",
                                 code="enqueue_failed") from None
    logger.info("stripe event queued", extra={"type": event["type"], "event_id": event["id"]})
    count("StripeEventsQueued")
    return _json(200, {"received": True, "id": event["id"], "queued": True})


def _json(status: int, body: dict) -> Response:
    return Response(status_code=status, content_type="application/json", body=body)


@app.exception_handler(DomainError)
def handle_domain_error(exc: DomainError) -> Response:
    logger.warning("webhook refused", extra={"code": exc.code, "status": exc.status})
    count(f"Webhook{exc.status}")
    return _json(exc.status, exc.body())


@app.not_found
def handle_not_found(exc: NotFoundError) -> Response:
    return _json(404, {"code": "route_not_found", "message": "no such route"})


@app.exception_handler(Exception)
def handle_unexpected(exc: Exception) -> Response:
    logger.exception("unhandled webhook error")
    return _json(500, {"code": "internal_error", "message": "internal error; see the logs"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
