"""Try-on sessions: creation (API), processing (TryonProcessor) and reads.

Sessions table item ``pk=SESSION#{id}``: ``sessionId``, ``userId``, ``status``
(``queued -> processing -> preview_ready | failed``), ``quality``, the avatar and garment
(``avatarUrl``/``avatarKey``, ``garmentUrl``/``garmentKey``; keys are full keys in the
uploads bucket), ``previewKey`` (renders bucket), ``poseFit``, ``error``, timestamps and
``expiresAt`` (TTL). Every status change is a conditional update on the current status.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from botocore.exceptions import ClientError

from garmaxctl.shared.contract import DLQ_MAX_RECEIVE_COUNT, DetailType, Queue
from runtime.config import load_quotas
from runtime.deps import Deps
from runtime.domain import ddb as d
from runtime.domain import events, quotas
from runtime.domain.clock import day_of, epoch_after, iso
from runtime.domain.errors import DomainError, NotFound, ServiceUnavailable
from runtime.domain.images import seeded_png
from runtime.domain.models import CreateSessionRequest, SessionStatus, TryonMessage
from runtime.domain.pose import PlaceholderPoseEstimator, PoseEstimator
from runtime.observability import count, logger

SESSION_TTL_DAYS = 30
PREVIEW_SIZE = 96


def session_pk(session_id: str) -> str:
    return f"SESSION#{session_id}"


def upload_key(user_id: str, key: str) -> str:
    """Where a caller's relative upload key lives in the uploads bucket."""
    return f"users/{user_id}/{key}"


def preview_key(user_id: str, session_id: str) -> str:
    return f"previews/{user_id}/{session_id}.png"


def public_view(item: dict[str, Any]) -> dict[str, Any]:
    """What the API returns for a session (no internal keys)."""
    view = {
        "sessionId": item["sessionId"],
        "status": item["status"],
        "quality": item.get("quality"),
        "createdAt": item.get("createdAt"),
        "updatedAt": item.get("updatedAt"),
    }
    if item.get("previewKey"):
        view["previewKey"] = item["previewKey"]
    if item.get("poseFit"):
        view["poseFit"] = item["poseFit"]
    if item.get("error"):
        view["error"] = item["error"]
    return view


def get_session(deps: Deps, session_id: str) -> dict[str, Any] | None:
    found = deps.ddb.get_item(TableName=deps.config.table("Sessions"),
                              Key={"pk": {"S": session_pk(session_id)}}, ConsistentRead=True)
    return d.from_item(found.get("Item"))


def get_owned_session(deps: Deps, user_id: str, session_id: str) -> dict[str, Any]:
    """The caller's session; another user's session is reported as not found."""
    item = get_session(deps, session_id)
    if not item or item.get("userId") != user_id:
        raise NotFound(f"no try-on session {session_id}", code="session_not_found")
    return item


def create_session(deps: Deps, user_id: str, request: CreateSessionRequest) -> dict[str, Any]:
    """Count the session against the daily quota, store it, enqueue it; all or nothing."""
    config = deps.config
    now = deps.clock()
    day = day_of(now)
    sessions_table, quotas_table = config.table("Sessions"), config.table("Quotas")
    queue_url = config.queue_url(Queue.TRYON)
    limits = load_quotas(config)
    quotas.acquire_tryon(deps.ddb, quotas_table, user_id, day,
                         limits.max_tryons_per_user_daily,
                         epoch_after(now, quotas.DAILY_TTL_DAYS))
    session_id = uuid.uuid4().hex
    item = {
        "pk": session_pk(session_id),
        "sessionId": session_id,
        "userId": user_id,
        "status": SessionStatus.QUEUED.value,
        "quality": request.quality,
        "avatarUrl": str(request.avatarUrl) if request.avatarUrl else None,
        "avatarKey": upload_key(user_id, request.avatarKey) if request.avatarKey else None,
        "garmentUrl": str(request.garmentUrl) if request.garmentUrl else None,
        "garmentKey": upload_key(user_id, request.garmentKey) if request.garmentKey else None,
        "createdAt": iso(now),
        "updatedAt": iso(now),
        "expiresAt": epoch_after(now, SESSION_TTL_DAYS),
    }
    stored = False
    try:
        deps.ddb.put_item(TableName=sessions_table, Item=d.to_item(item),
                          ConditionExpression="attribute_not_exists(pk)")
        stored = True
        deps.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(
            {"sessionId": session_id, "userId": user_id}))
    except ClientError:
        logger.exception("try-on session not enqueued; rolling back",
                         extra={"session_id": session_id})
        if stored:
            deps.ddb.delete_item(TableName=sessions_table, Key={"pk": {"S": item["pk"]}})
        quotas.release_tryon(deps.ddb, quotas_table, user_id, day)
        raise ServiceUnavailable("the try-on session could not be queued; try again",
                                 code="enqueue_failed") from None
    count("TryonSessionsCreated")
    return item


def _transition(deps: Deps, session_id: str, allowed: tuple[SessionStatus, ...],
                status: SessionStatus, fields: dict[str, Any]) -> bool:
    """Move a session to ``status`` if it is in one of ``allowed``; False if it was not."""
    now = iso(deps.clock())
    names = {"#s": "status"}
    sets = ["#s = :to", "updatedAt = :now"]
    vals: dict[str, Any] = {":to": status.value, ":now": now}
    for i, (key, value) in enumerate(fields.items()):
        names[f"#f{i}"] = key
        vals[f":f{i}"] = value
        sets.append(f"#f{i} = :f{i}")
    allowed_names = []
    for i, state in enumerate(allowed):
        vals[f":a{i}"] = state.value
        allowed_names.append(f":a{i}")
    try:
        deps.ddb.update_item(
            TableName=deps.config.table("Sessions"),
            Key={"pk": {"S": session_pk(session_id)}},
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression=f"attribute_exists(pk) AND #s IN ({', '.join(allowed_names)})",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=d.values(vals),
        )
    except ClientError as exc:
        if d.is_condition_failure(exc):
            return False
        raise
    return True


class PermanentTryonError(DomainError):
    permanent = True
    code = "tryon_failed"


def process_message(deps: Deps, body: str, receive_count: int = 1,
                    estimator: PoseEstimator | None = None) -> str:
    """Process one try-on queue message; returns the outcome (for logs and tests).

    Raises on anything that should be retried: the message returns to the queue and, after
    ``DLQ_MAX_RECEIVE_COUNT`` receives, lands in the DLQ. On the last receive the session
    is marked ``failed`` first, so no session stays ``processing`` for ever.
    """
    message = TryonMessage.model_validate(json.loads(body))  # malformed -> batch item failure
    session = get_session(deps, message.sessionId)
    if session is None or session.get("userId") != message.userId:
        raise LookupError(f"try-on session {message.sessionId} not found")
    status = SessionStatus(session["status"])
    if status in (SessionStatus.PREVIEW_READY, SessionStatus.FAILED):
        logger.info("session already final; message skipped",
                    extra={"session_id": message.sessionId, "status": status.value})
        return "skipped"
    if not _transition(deps, message.sessionId,
                       (SessionStatus.QUEUED, SessionStatus.PROCESSING),
                       SessionStatus.PROCESSING, {}):
        return "skipped"
    try:
        return _fit_and_preview(deps, session, estimator or PlaceholderPoseEstimator())
    except PermanentTryonError as exc:
        _fail(deps, session, exc.code, exc.message)
        return "failed"
    except Exception as exc:
        if receive_count >= DLQ_MAX_RECEIVE_COUNT:
            _fail(deps, session, "tryon_failed", "processing failed repeatedly")
        logger.warning("try-on attempt failed", extra={
            "session_id": message.sessionId, "attempt": receive_count,
            "error": type(exc).__name__})
        raise


def _fit_and_preview(deps: Deps, session: dict[str, Any], estimator: PoseEstimator) -> str:
    config = deps.config
    uploads = config.bucket("Uploads") if (session.get("avatarKey")
                                           or session.get("garmentKey")) else None
    for field_name in ("avatarKey", "garmentKey"):
        key = session.get(field_name)
        if key:
            try:
                deps.s3.head_object(Bucket=uploads, Key=key)
            except ClientError as exc:
                if d.error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                    raise PermanentTryonError(
                        f"{field_name} does not name an uploaded object",
                        code="upload_not_found") from None
                raise
    avatar_ref = session.get("avatarKey") or session.get("avatarUrl") or ""
    garment_ref = session.get("garmentKey") or session.get("garmentUrl") or ""
    fit = estimator.estimate(avatar_ref=avatar_ref, garment_ref=garment_ref)
    key = preview_key(session["userId"], session["sessionId"])
    deps.s3.put_object(
        Bucket=config.bucket("Renders"), Key=key, ContentType="image/png",
        Body=seeded_png(f"preview|{avatar_ref}|{garment_ref}", PREVIEW_SIZE),
        Metadata={"session-id": session["sessionId"], "pose-estimator": fit.estimator},
    )
    if not _transition(deps, session["sessionId"], (SessionStatus.PROCESSING,),
                       SessionStatus.PREVIEW_READY,
                       {"previewKey": key, "poseFit": fit.to_dict()}):
        return "skipped"
    count("TryonPreviewsReady")
    events.publish_best_effort(deps.events, config.event_bus_name,
                               DetailType.TRYON_SESSION_PROCESSED, {
                                   "sessionId": session["sessionId"],
                                   "userId": session["userId"],
                                   "status": SessionStatus.PREVIEW_READY.value,
                                   "previewKey": key,
                                   "placeholderPose": fit.placeholder,
                               })
    return "preview_ready"


def _fail(deps: Deps, session: dict[str, Any], code: str, message: str) -> None:
    if _transition(deps, session["sessionId"],
                   (SessionStatus.QUEUED, SessionStatus.PROCESSING), SessionStatus.FAILED,
                   {"error": {"code": code, "message": message}}):
        count("TryonSessionsFailed")
        events.publish_best_effort(deps.events, deps.config.event_bus_name,
                                   DetailType.TRYON_SESSION_FAILED, {
                                       "sessionId": session["sessionId"],
                                       "userId": session["userId"],
                                       "status": SessionStatus.FAILED.value,
                                       "error": code,
                                   })
