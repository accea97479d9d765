"""``GET /api/health`` and ``GET /api/health/storage`` (no caller needed)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from garmaxctl.shared import contract
from runtime.deps import Deps
from runtime.domain.clock import iso
from runtime.domain.ddb import error_code

router = Router()


@router.get("/api/health")
def health() -> dict[str, Any]:
    deps = Deps.from_env()
    return {"status": "ok", "stage": deps.config.stage, "version": deps.config.version,
            "timestamp": iso(deps.clock())}


def _probe(kind: str, name: str, resource: str | None, call: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "kind": kind, "resource": resource}
    if not resource:
        return {**entry, "ok": False, "latencyMs": None, "error": "not_configured"}
    started = time.perf_counter()
    try:
        call(resource)
        entry.update(ok=True, error=None)
    except Exception as exc:  # report, never raise: this is a health check
        code = error_code(exc) if hasattr(exc, "response") else type(exc).__name__
        entry.update(ok=False, error=code or type(exc).__name__)
    entry["latencyMs"] = round((time.perf_counter() - started) * 1000, 2)
    return entry


def storage_report(deps: Deps) -> dict[str, Any]:
    config = deps.config
    checks: list[dict[str, Any]] = []
    for table in contract.TABLES:
        checks.append(_probe("table", table.name, config.tables.get(table.name),
                             lambda n: deps.ddb.describe_table(TableName=n)))
    for bucket in contract.BUCKETS:
        if bucket.env_var is None:
            continue
        checks.append(_probe("bucket", bucket.name, config.buckets.get(bucket.name),
                             lambda n: deps.s3.head_bucket(Bucket=n)))
    for queue, url in ((contract.Queue.TRYON, config.tryon_queue_url),
                       (contract.Queue.RENDER, config.render_queue_url),
                       (contract.Queue.BILLING, config.billing_queue_url)):
        checks.append(_probe("queue", str(queue), url, lambda u: deps.sqs.get_queue_attributes(
            QueueUrl=u, AttributeNames=["ApproximateNumberOfMessages"])))
    checks.append(_probe("bus", "Tryon", config.event_bus_name,
                         lambda n: deps.events.describe_event_bus(Name=n)))
    healthy = all(c["ok"] for c in checks)
    return {"status": "ok" if healthy else "degraded", "stage": config.stage,
            "timestamp": iso(deps.clock()), "checks": checks}


@router.get("/api/health/storage")
def health_storage() -> Response:
    report = storage_report(Deps.from_env())
    return Response(status_code=200 if report["status"] == "ok" else 503,
                    content_type="application/json", body=report)
