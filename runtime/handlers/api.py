"""GarmaxAi-Api-{STAGE}: the REST API (API Gateway proxy events).

Routes live on one ``Router`` per module in ``runtime.api``; every error becomes
``{"code": ..., "message": ...}`` here, in one place.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from runtime.api import health, render, tryon
from runtime.domain.errors import DomainError
from runtime.observability import count, logger, metrics, tracer

app = APIGatewayRestResolver()
app.include_router(health.router)
app.include_router(tryon.router)
app.include_router(render.router)


def _error(status: int, body: dict) -> Response:
    return Response(status_code=status, content_type="application/json", body=body)


@app.exception_handler(DomainError)
def handle_domain_error(exc: DomainError) -> Response:
    if exc.status >= 500:
        logger.warning("request failed", extra={"code": exc.code, "status": exc.status})
    else:
        logger.info("request refused", extra={"code": exc.code, "status": exc.status})
    count(f"Api{exc.status}")
    return _error(exc.status, exc.body())


@app.not_found
def handle_not_found(exc: NotFoundError) -> Response:
    return _error(404, {"code": "route_not_found",
                        "message": f"no route {app.current_event.http_method} "
                                   f"{app.current_event.path}"})


@app.exception_handler(Exception)
def handle_unexpected(exc: Exception) -> Response:
    logger.exception("unhandled error")
    count("Api500")
    return _error(500, {"code": "internal_error", "message": "internal error; see the logs"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
