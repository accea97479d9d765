"""Renders: submission (API ``POST /api/render``) and processing (AiRenderProcessor).

RenderJobs table item ``pk=RENDER#{id}``: ``renderId``, ``sessionId``, ``userId``,
``quality``, ``status`` (``queued -> processing -> completed | failed``), ``quotaDay``
(the UTC day whose quota it counts against), ``provider``, ``costUsd``, ``renderKey``
(renders bucket), ``attempts``, ``error``, ``providerResult`` (the paid provider call:
provider, model, cost, spend day, content type, size, SHA-256), timestamps,
``expiresAt`` (TTL).

Submission refuses, in this order: unknown session (404), session not ``preview_ready``
(409), breaker open (503), daily or concurrent quota (429). Then the job is stored and
``RenderRequested`` published (the ``RenderRequested`` rule routes it to the render
queue); if publishing fails, the job is deleted and the quota given back.

A finished or failed job releases its concurrent slot in the same transaction as its
status change; a failed job also gives back its daily slot.

Processing pays a provider at most once per job. A provider call's reservation is
refunded when the call fails; once it returns an image the call is paid: the spend stays
on the ledger and ``providerResult`` is written on the job (conditionally, once) before
the image is stored. A later delivery of the message sees ``providerResult`` and never
calls a provider: it completes the job from the stored image, or, if the image was
never stored, fails it (``render_not_stored``). An image that cannot be stored fails the
job at once (a retry could not store it without paying again). Any other error is
retried; on the last receive (``DLQ_MAX_RECEIVE_COUNT``) it fails the job first
(``render_failed``), freeing its slots, and the message still goes to the DLQ.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from garmaxctl.shared.contract import DLQ_MAX_RECEIVE_COUNT, EVENT_SOURCE_RENDER, DetailType
from runtime.config import RuntimeConfig, load_budgets, load_quotas
from runtime.deps import Deps
from runtime.domain import budget, events, quotas, tryon
from runtime.domain import ddb as d
from runtime.domain.clock import day_of, epoch_after, iso
from runtime.domain.errors import (
    BudgetExhausted,
    Conflict,
    NotFound,
    ServiceUnavailable,
)
from runtime.domain.models import RenderMessage, RenderRequest, RenderStatus, SessionStatus
from runtime.observability import count, gauge_percent, logger
from runtime.providers.base import (
    PermanentProviderError,
    RenderInput,
    RenderProvider,
    TransientProviderError,
)
from runtime.providers.registry import build_provider
from runtime.providers.router import provider_order

JOB_TTL_DAYS = 90
ProviderFactory = Callable[[str, RuntimeConfig], RenderProvider | None]


class UnexpectedMessage(Exception):
    """A render queue message that is not a ``RenderRequested`` event: a routing bug."""


class RetryLater(Exception):
    """Every provider failed transiently: the message goes back to the queue."""


def job_pk(render_id: str) -> str:
    return f"RENDER#{render_id}"


def render_key(user_id: str, render_id: str) -> str:
    return f"renders/{user_id}/{render_id}.png"


def public_view(job: dict[str, Any]) -> dict[str, Any]:
    view = {k: job.get(k) for k in ("renderId", "sessionId", "status", "quality", "provider",
                                    "costUsd", "renderKey", "error", "createdAt", "updatedAt")}
    return {k: v for k, v in view.items() if v is not None}


def get_job(deps: Deps, render_id: str) -> dict[str, Any] | None:
    found = deps.ddb.get_item(TableName=deps.config.table("RenderJobs"),
                              Key={"pk": {"S": job_pk(render_id)}}, ConsistentRead=True)
    return d.from_item(found.get("Item"))


def get_owned_job(deps: Deps, user_id: str, render_id: str) -> dict[str, Any]:
    job = get_job(deps, render_id)
    if not job or job.get("userId") != user_id:
        raise NotFound(f"no render {render_id}", code="render_not_found")
    return job


# --------------------------------------------------------------------------- submit

def submit_render(deps: Deps, user_id: str, request: RenderRequest) -> dict[str, Any]:
    config = deps.config
    now = deps.clock()
    day = day_of(now)
    session = tryon.get_owned_session(deps, user_id, request.sessionId)
    if session["status"] != SessionStatus.PREVIEW_READY.value:
        raise Conflict(f"session {request.sessionId} is {session['status']}, not preview_ready",
                       code="session_not_ready")
    jobs_table, quotas_table = config.table("RenderJobs"), config.table("Quotas")
    bus = config.bus()
    state = budget.breaker_state(config.table("BudgetLedger"), config.stage, day, deps.ddb,
                                 load_budgets(config))
    if not state.rendering_enabled:
        count("RendersRefusedBudget")
        raise BudgetExhausted(
            f"today's AI spend reached the daily budget (${state.budget_usd:g}); "
            "rendering is off until tomorrow (UTC)")
    limits = load_quotas(config)
    quotas.acquire_render(deps.ddb, quotas_table, user_id, day, limits,
                          epoch_after(now, quotas.DAILY_TTL_DAYS),
                          epoch_after(now, quotas.ACTIVE_TTL_DAYS))
    render_id = uuid.uuid4().hex
    job = {
        "pk": job_pk(render_id), "renderId": render_id, "sessionId": request.sessionId,
        "userId": user_id, "quality": request.quality, "status": RenderStatus.QUEUED.value,
        "quotaDay": day, "attempts": 0, "createdAt": iso(now), "updatedAt": iso(now),
        "expiresAt": epoch_after(now, JOB_TTL_DAYS),
    }
    stored = False
    try:
        deps.ddb.put_item(TableName=jobs_table, Item=d.to_item(job),
                          ConditionExpression="attribute_not_exists(pk)")
        stored = True
        events.publish(deps.events, bus, DetailType.RENDER_REQUESTED, {
            "renderId": render_id, "sessionId": request.sessionId, "userId": user_id,
            "quality": request.quality})
    except (ClientError, ServiceUnavailable):
        logger.exception("render not queued; rolling back", extra={"render_id": render_id})
        if stored:
            deps.ddb.delete_item(TableName=jobs_table, Key={"pk": {"S": job["pk"]}})
        quotas.release_render(deps.ddb, quotas_table, user_id, day, refund_daily=True)
        raise ServiceUnavailable("the render could not be queued; try again",
                                 code="enqueue_failed") from None
    count("RendersAccepted")
    return job


# --------------------------------------------------------------------------- process

def parse_message(body: str) -> RenderMessage:
    """A ``RenderRequested`` event (as the rule delivers it) or a bare job message."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise UnexpectedMessage("render message is not a JSON object")
    if "detail-type" in data or "source" in data:
        source, detail_type, detail = events.parse_envelope(data)
        if source != EVENT_SOURCE_RENDER or detail_type != DetailType.RENDER_REQUESTED.value:
            raise UnexpectedMessage(f"unexpected event {source}/{detail_type}")
        data = detail
    return RenderMessage.model_validate(data)


def _update_job(deps: Deps, render_id: str, allowed: tuple[RenderStatus, ...],
                status: RenderStatus, fields: dict[str, Any], *, add_attempt: bool = False
                ) -> dict[str, Any]:
    names = {"#s": "status"}
    vals: dict[str, Any] = {":to": status.value, ":now": iso(deps.clock())}
    sets = ["#s = :to", "updatedAt = :now"]
    for i, (key, value) in enumerate(fields.items()):
        names[f"#f{i}"] = key
        vals[f":f{i}"] = value
        sets.append(f"#f{i} = :f{i}")
    expression = "SET " + ", ".join(sets)
    if add_attempt:
        vals[":one"] = 1
        expression += " ADD attempts :one"
    placeholders = []
    for i, state in enumerate(allowed):
        vals[f":a{i}"] = state.value
        placeholders.append(f":a{i}")
    return {
        "TableName": deps.config.table("RenderJobs"),
        "Key": {"pk": {"S": job_pk(render_id)}},
        "UpdateExpression": expression,
        "ConditionExpression": f"attribute_exists(pk) AND #s IN ({', '.join(placeholders)})",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": d.values(vals),
    }


_OPEN = (RenderStatus.QUEUED, RenderStatus.PROCESSING)


def _finish(deps: Deps, job: dict[str, Any], status: RenderStatus,
            fields: dict[str, Any]) -> bool:
    """Final status + quota release in one transaction. False if the job was already final."""
    refund = status is RenderStatus.FAILED
    update = _update_job(deps, job["renderId"], _OPEN, status, fields)
    release = quotas.render_release_ops(deps.config.table("Quotas"), job["userId"],
                                        job["quotaDay"], refund_daily=refund)
    try:
        deps.ddb.transact_write_items(TransactItems=[{"Update": update}, *release])
        return True
    except ClientError as exc:
        codes = d.cancellation_codes(exc)
        if not codes:
            raise
        if codes[0] == "ConditionalCheckFailed":
            return False
    # A quota counter was already 0 (expired TTL): finish the job, release what is left.
    try:
        deps.ddb.update_item(**update)
    except ClientError as exc:
        if d.is_condition_failure(exc):
            return False
        raise
    quotas.release_render(deps.ddb, deps.config.table("Quotas"), job["userId"],
                          job["quotaDay"], refund_daily=refund)
    return True


def _fail(deps: Deps, job: dict[str, Any], code: str, message: str,
          fields: dict[str, Any] | None = None) -> str:
    if _finish(deps, job, RenderStatus.FAILED,
               {**(fields or {}), "error": {"code": code, "message": message}}):
        count("RendersFailed")
        events.publish_best_effort(deps.events, deps.config.event_bus_name,
                                   DetailType.RENDER_FAILED, {
                                       "renderId": job["renderId"], "sessionId": job["sessionId"],
                                       "userId": job["userId"], "error": code})
    return "failed"


def process_message(deps: Deps, body: str, receive_count: int = 1, *,
                    provider_factory: ProviderFactory | None = None,
                    timeout_s: float = 60.0) -> str:
    """Process one render queue message; returns the outcome.

    Raises (so the record is reported as a batch item failure) for messages that are not
    ``RenderRequested`` events, malformed bodies, unknown renders, before the last
    receive when every provider failed transiently, and on any unexpected error. On the
    last receive (``DLQ_MAX_RECEIVE_COUNT``) an unexpected error first fails the job, so
    none stays ``processing`` with its concurrent slot held.
    """
    message = parse_message(body)
    job = get_job(deps, message.renderId)
    if job is None or job.get("userId") != message.userId:
        raise LookupError(f"render {message.renderId} not found")
    if job["status"] in (RenderStatus.COMPLETED.value, RenderStatus.FAILED.value):
        logger.info("render already final; message skipped",
                    extra={"render_id": message.renderId, "status": job["status"]})
        return "skipped"
    try:
        claimed = deps.ddb.update_item(**_update_job(deps, message.renderId, _OPEN,
                                                     RenderStatus.PROCESSING, {},
                                                     add_attempt=True),
                                       ReturnValues="ALL_NEW")
    except ClientError as exc:
        if d.is_condition_failure(exc):
            return "skipped"
        raise
    job = d.from_item(claimed.get("Attributes")) or job
    try:
        if job.get("providerResult"):  # an earlier attempt paid the provider: never again
            return _resume(deps, job)
        session = tryon.get_session(deps, job["sessionId"])
        if not session or session.get("status") != SessionStatus.PREVIEW_READY.value:
            return _fail(deps, job, "session_not_ready", "the session has no preview")
        return _render(deps, job, session, receive_count, provider_factory or build_provider,
                       timeout_s)
    except RetryLater:
        raise
    except Exception as exc:
        logger.warning("render attempt failed", extra={
            "render_id": job["renderId"], "attempt": receive_count,
            "error": type(exc).__name__})
        if receive_count >= DLQ_MAX_RECEIVE_COUNT:
            try:
                _fail(deps, job, "render_failed",
                      "the render failed repeatedly; request it again")
            except Exception:
                logger.exception("render could not be marked failed",
                                 extra={"render_id": job["renderId"]})
        raise


def _render(deps: Deps, job: dict[str, Any], session: dict[str, Any], receive_count: int,
            provider_factory: ProviderFactory, timeout_s: float) -> str:
    config = deps.config
    day = day_of(deps.clock())
    ledger = config.table("BudgetLedger")
    budgets = load_budgets(config)
    state = budget.breaker_state(ledger, config.stage, day, deps.ddb, budgets)
    gauge_percent("BudgetUtilizationPercent", state.percent)
    if state.warn:
        logger.warning("daily AI budget above warning threshold",
                       extra={"percent": state.percent, "level": state.level.value})
    if not state.rendering_enabled:
        count("RendersRefusedBudget")
        return _fail(deps, job, "budget_breaker_open", "today's AI budget is spent")
    order = provider_order(config.render_provider, config.gemini_traffic_percent,
                           job["userId"], state)
    request = _render_input(deps, job, session, order)
    transient: list[str] = []
    for name in order:
        provider = provider_factory(name, config)
        if provider is None:
            continue
        cost = provider.estimate_cost(job["quality"])
        try:
            micros = budget.reserve_spend(deps.ddb, ledger, config.stage, day, name, cost,
                                          budgets)
        except budget.ProviderBudgetExhausted:
            logger.info("provider over its daily budget; trying the next",
                        extra={"provider": name})
            continue
        except BudgetExhausted:
            count("RendersRefusedBudget")
            return _fail(deps, job, "budget_breaker_open", "today's AI budget is spent")
        _alert_if_crossed(deps, state, micros)
        try:
            output = provider.render(request, timeout_s=timeout_s)
        except TransientProviderError as exc:
            budget.refund_spend(deps.ddb, ledger, config.stage, day, name, micros)
            logger.warning("provider failed transiently; failing over",
                           extra={"provider": name, "error": str(exc)})
            count("ProviderTransientErrors")
            transient.append(name)
            continue
        except PermanentProviderError as exc:
            budget.refund_spend(deps.ddb, ledger, config.stage, day, name, micros)
            logger.warning("provider refused the render", extra={"provider": name,
                                                                  "error": str(exc)})
            return _fail(deps, job, "provider_error", str(exc))
        except Exception:
            budget.refund_spend(deps.ddb, ledger, config.stage, day, name, micros)
            raise
        # Paid from here on: the spend stays on the ledger and no retry calls again.
        result = {"provider": output.provider, "model": output.model,
                  "costUsd": budget.to_usd(micros), "spendDay": day,
                  "contentType": output.content_type, "bytes": len(output.image),
                  "sha256": hashlib.sha256(output.image).hexdigest()}
        if not _record_result(deps, job, result):
            return "skipped"
        return _store(deps, {**job, "providerResult": result}, output.image)
    if transient:
        if receive_count < DLQ_MAX_RECEIVE_COUNT:
            raise RetryLater(f"all providers failed transiently: {', '.join(transient)}")
        return _fail(deps, job, "providers_unavailable",
                     f"providers failed repeatedly: {', '.join(transient)}")
    return _fail(deps, job, "no_provider_available",
                 "no render provider is configured or within its budget")


def _render_input(deps: Deps, job: dict[str, Any], session: dict[str, Any],
                  order: list[str]) -> RenderInput:
    preview_png: bytes | None = None
    preview_url: str | None = None
    key = session.get("previewKey")
    if key and any(name != "local" for name in order):
        bucket = deps.config.bucket("Renders")
        preview_png = deps.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        preview_url = deps.s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=900)
    return RenderInput(
        render_id=job["renderId"], user_id=job["userId"], session_id=job["sessionId"],
        quality=job["quality"],
        avatar_ref=session.get("avatarKey") or session.get("avatarUrl") or "",
        garment_ref=session.get("garmentKey") or session.get("garmentUrl") or "",
        preview_png=preview_png, preview_url=preview_url,
    )


def _record_result(deps: Deps, job: dict[str, Any], result: dict[str, Any]) -> bool:
    """Keep the paid provider call on the job, once. False: another delivery got there
    first (it stores its own render) or the job is final."""
    update = _update_job(deps, job["renderId"], (RenderStatus.PROCESSING,),
                         RenderStatus.PROCESSING, {"providerResult": result})
    update["ConditionExpression"] += " AND attribute_not_exists(providerResult)"
    try:
        deps.ddb.update_item(**update)
        return True
    except ClientError as exc:
        if not d.is_condition_failure(exc):
            raise
    logger.warning("provider result already recorded or job final; this render is dropped",
                   extra={"render_id": job["renderId"], "provider": result["provider"]})
    count("RendersDuplicateProviderCalls")
    return False


def _store(deps: Deps, job: dict[str, Any], image: bytes) -> str:
    """Put the paid render in the renders bucket, then complete the job.

    A render that cannot be stored fails the job at once: no retry could store it
    without paying the provider again (the bytes live only in this invocation).
    """
    result = job["providerResult"]
    key = render_key(job["userId"], job["renderId"])
    try:
        deps.s3.put_object(Bucket=deps.config.bucket("Renders"), Key=key, Body=image,
                           ContentType=result["contentType"],
                           Metadata={"render-id": job["renderId"],
                                     "provider": result["provider"]})
    except Exception as exc:
        logger.exception("render made but not stored", extra={"render_id": job["renderId"]})
        return _not_stored(deps, job, type(exc).__name__)
    return _complete(deps, job, key)


def _resume(deps: Deps, job: dict[str, Any]) -> str:
    """A retry after the provider was paid: complete from the stored render, or fail."""
    key = render_key(job["userId"], job["renderId"])
    try:
        deps.s3.head_object(Bucket=deps.config.bucket("Renders"), Key=key)
    except ClientError as exc:
        if d.error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return _not_stored(deps, job, "missing")
        raise
    logger.info("render resumed from its stored result", extra={"render_id": job["renderId"]})
    count("RendersResumed")
    return _complete(deps, job, key)


def _not_stored(deps: Deps, job: dict[str, Any], why: str) -> str:
    result = job["providerResult"]
    return _fail(deps, job, "render_not_stored",
                 f"the render was made but could not be stored ({why}); request it again",
                 {"provider": result["provider"], "costUsd": result["costUsd"]})


def _complete(deps: Deps, job: dict[str, Any], key: str) -> str:
    result = job["providerResult"]
    provider, cost_usd = result["provider"], result["costUsd"]
    if not _finish(deps, job, RenderStatus.COMPLETED,
                   {"provider": provider, "costUsd": cost_usd, "renderKey": key}):
        return "skipped"
    count("RendersCompleted")
    events.publish_best_effort(deps.events, deps.config.event_bus_name,
                               DetailType.RENDER_COMPLETED, {
                                   "renderId": job["renderId"], "sessionId": job["sessionId"],
                                   "userId": job["userId"], "provider": provider,
                                   "renderKey": key, "costUsd": cost_usd})
    return "completed"


def _alert_if_crossed(deps: Deps, before: budget.BreakerState, micros: int) -> None:
    level = budget.crossed_level(before, micros)
    if level is None:
        return
    percent = (budget.to_micros(before.spent_usd) + micros) * 100 / max(
        1, budget.to_micros(before.budget_usd))
    logger.warning("budget threshold crossed", extra={"level": level.value,
                                                      "percent": round(percent, 2)})
    count(f"BudgetThreshold{level.value.title().replace('_', '')}")
    events.publish_best_effort(deps.events, deps.config.event_bus_name,
                               DetailType.BUDGET_THRESHOLD_CROSSED, {
                                   "stage": before.stage, "day": before.day,
                                   "level": level.value, "percent": round(percent, 2),
                                   "budgetUsd": before.budget_usd})
