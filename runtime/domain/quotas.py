"""Per-user quotas, enforced atomically with DynamoDB conditional writes.

Items in the Quotas table (partition key ``pk``, TTL ``expiresAt``):

- ``TRYON#{user}#{day}``  ``used``: try-on sessions created that UTC day;
- ``RENDER#{user}#{day}`` ``used``: renders accepted that UTC day;
- ``ACTIVE#{user}``       ``used``: renders accepted and not yet finished or failed.

An increment is one ``UpdateItem`` whose condition is ``used < limit``; a render takes
its daily and its concurrent slot in one ``TransactWriteItems``, so both or neither.
DynamoDB serialises writes to one item, so under any concurrency no limit is exceeded.
The concurrent counter carries a TTL refreshed on every acquire: a slot leaked by a
crash frees itself a day after the user's last render request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from garmaxctl.shared.stages import Quotas
from runtime.domain import ddb as d
from runtime.domain.errors import QuotaExceeded

DAILY_TTL_DAYS = 2
ACTIVE_TTL_DAYS = 1


def tryon_key(user_id: str, day: str) -> str:
    return f"TRYON#{user_id}#{day}"


def render_key(user_id: str, day: str) -> str:
    return f"RENDER#{user_id}#{day}"


def active_key(user_id: str) -> str:
    return f"ACTIVE#{user_id}"


@dataclass(frozen=True)
class QuotaUsage:
    user_id: str
    day: str
    tryons_today: int
    renders_today: int
    concurrent_renders: int
    limits: Quotas


def _increment(table: str, pk: str, limit: int, ttl: int, *, refresh_ttl: bool) -> dict:
    ttl_expr = "expiresAt = :ttl" if refresh_ttl else "expiresAt = if_not_exists(expiresAt, :ttl)"
    return {
        "TableName": table,
        "Key": {"pk": {"S": pk}},
        "UpdateExpression": f"SET {ttl_expr} ADD used :one",
        "ConditionExpression": "attribute_not_exists(used) OR used < :limit",
        "ExpressionAttributeValues": d.values({":one": 1, ":limit": limit, ":ttl": ttl}),
    }


def _decrement(table: str, pk: str) -> dict:
    return {
        "TableName": table,
        "Key": {"pk": {"S": pk}},
        "UpdateExpression": "ADD used :minus",
        "ConditionExpression": "used > :zero",
        "ExpressionAttributeValues": d.values({":minus": -1, ":zero": 0}),
    }


def acquire_tryon(ddb: Any, table: str, user_id: str, day: str, limit: int, ttl: int) -> None:
    """Count one try-on session against today's limit, or raise ``QuotaExceeded``."""
    if limit <= 0:
        raise QuotaExceeded("try-on sessions are disabled for this stage", code="quota_exceeded")
    try:
        ddb.update_item(**_increment(table, tryon_key(user_id, day), limit, ttl,
                                     refresh_ttl=False))
    except ClientError as exc:
        if d.is_condition_failure(exc):
            raise QuotaExceeded(
                f"daily try-on limit reached ({limit} per day)", code="quota_exceeded",
                details={"quota": "MAX_TRYONS_PER_USER_DAILY", "limit": limit}) from None
        raise


def release_tryon(ddb: Any, table: str, user_id: str, day: str) -> None:
    """Give back a try-on slot (the session could not be enqueued)."""
    _release(ddb, _decrement(table, tryon_key(user_id, day)))


def acquire_render(ddb: Any, table: str, user_id: str, day: str, quotas: Quotas,
                   daily_ttl: int, active_ttl: int) -> None:
    """Take one daily and one concurrent render slot atomically, or raise ``QuotaExceeded``."""
    daily, concurrent = quotas.max_renders_per_user_daily, quotas.max_concurrent_renders_per_user
    if daily <= 0 or concurrent <= 0:
        raise QuotaExceeded("rendering is disabled for this stage", code="quota_exceeded")
    items = [
        {"Update": _increment(table, render_key(user_id, day), daily, daily_ttl,
                              refresh_ttl=False)},
        {"Update": _increment(table, active_key(user_id), concurrent, active_ttl,
                              refresh_ttl=True)},
    ]
    try:
        ddb.transact_write_items(TransactItems=items)
    except ClientError as exc:
        codes = d.cancellation_codes(exc)
        if not codes:
            raise
        if codes[0] == "ConditionalCheckFailed":
            raise QuotaExceeded(
                f"daily render limit reached ({daily} per day)", code="quota_exceeded",
                details={"quota": "MAX_RENDERS_PER_USER_DAILY", "limit": daily}) from None
        if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
            raise QuotaExceeded(
                f"too many renders in progress ({concurrent} at a time)",
                code="concurrent_limit",
                details={"quota": "MAX_CONCURRENT_RENDERS_PER_USER",
                         "limit": concurrent}) from None
        raise


def render_release_ops(table: str, user_id: str, day: str, *, refund_daily: bool) -> list[dict]:
    """Transaction items that free a render's concurrent slot (and its daily slot on failure)."""
    ops = [{"Update": _decrement(table, active_key(user_id))}]
    if refund_daily:
        ops.append({"Update": _decrement(table, render_key(user_id, day))})
    return ops


def release_render(ddb: Any, table: str, user_id: str, day: str, *, refund_daily: bool) -> None:
    for op in render_release_ops(table, user_id, day, refund_daily=refund_daily):
        _release(ddb, op["Update"])


def _release(ddb: Any, update: dict) -> None:
    try:
        ddb.update_item(**update)
    except ClientError as exc:
        if not d.is_condition_failure(exc):  # already 0 (or expired): nothing to give back
            raise


def usage(ddb: Any, table: str, user_id: str, day: str, limits: Quotas) -> QuotaUsage:
    def used(pk: str) -> int:
        item = d.from_item(ddb.get_item(TableName=table, Key={"pk": {"S": pk}},
                                        ConsistentRead=True).get("Item"))
        return int(item.get("used", 0)) if item else 0

    return QuotaUsage(
        user_id=user_id, day=day,
        tryons_today=used(tryon_key(user_id, day)),
        renders_today=used(render_key(user_id, day)),
        concurrent_renders=used(active_key(user_id)),
        limits=limits,
    )
