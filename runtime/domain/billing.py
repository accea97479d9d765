"""Stripe events applied to the credits ledger, exactly once per event id.

Credits table (``pk``/``sk``):

- ``USER#{user}`` / ``ACCOUNT``: ``credits``, ``plan``, ``subscriptionStatus``,
  ``customerId``, ``subscriptionId``, ``updatedAt``;
- ``USER#{user}`` / ``TXN#{created}#{eventId}``: one row per credit change (audit);
- ``CUSTOMER#{cus}`` / ``USER``: which user a Stripe customer is (written at checkout);
- ``STRIPE_EVENT#{eventId}`` / ``APPLIED``: the idempotency marker.

Every event is applied with one ``TransactWriteItems`` whose first item puts the marker
with ``attribute_not_exists(pk)``: a second delivery of the same event id cancels the
whole transaction, so the credit change happens once, and never half.

Handled types: ``checkout.session.completed`` (links customer -> user; ``mode=payment``
adds ``metadata.credits``; ``mode=subscription`` sets the plan), ``invoice.payment_succeeded``
(adds the plan's monthly credits), ``customer.subscription.updated`` / ``deleted`` (plan and
status), ``invoice.payment_failed`` (status ``past_due``). Other types are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from garmaxctl.contract import PARAMS_BY_ENV_KEY
from runtime.config import RuntimeConfig, get_plain_many
from runtime.domain import ddb as d

HANDLED_TYPES = frozenset({
    "checkout.session.completed",
    "invoice.payment_succeeded",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.payment_failed",
})

# Monthly credits per plan (granted on each paid invoice).
PLAN_CREDITS: dict[str, int] = {"starter": 20, "basic": 100, "pro": 500, "unlimited": 100_000}
PRICE_PARAMS: dict[str, str] = {
    "starter": PARAMS_BY_ENV_KEY["STRIPE_STARTER_PRICE_ID"].path,
    "basic": PARAMS_BY_ENV_KEY["STRIPE_PRICE_BASIC_MONTHLY"].path,
    "pro": PARAMS_BY_ENV_KEY["STRIPE_PRICE_PRO_MONTHLY"].path,
    "unlimited": PARAMS_BY_ENV_KEY["STRIPE_PRICE_UNLIMITED_MONTHLY"].path,
}


class InvalidStripeEvent(ValueError):
    """The message cannot be applied as it is (malformed, or missing what it needs)."""


@dataclass(frozen=True)
class BillingResult:
    event_id: str
    event_type: str
    outcome: str  # applied | duplicate | ignored
    user_id: str | None = None
    credit_delta: int = 0
    changes: dict[str, Any] = field(default_factory=dict)


def price_plans(config: RuntimeConfig) -> dict[str, str]:
    """``{price_id: plan}`` from Parameter Store (``stripe/price-*``)."""
    return {price: plan for plan, price in get_plain_many(config, PRICE_PARAMS).items()}


def parse_event(body: str) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except (TypeError, ValueError):
        raise InvalidStripeEvent("message body is not JSON") from None
    if not isinstance(event, dict) or event.get("object") != "event":
        raise InvalidStripeEvent("message is not a Stripe event")
    if not isinstance(event.get("id"), str) or not event["id"].startswith("evt_"):
        raise InvalidStripeEvent("event has no id")
    if not isinstance(event.get("type"), str):
        raise InvalidStripeEvent("event has no type")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise InvalidStripeEvent("event has no data.object")
    return event


def _user_of_customer(ddb: Any, table: str, customer: str | None) -> str | None:
    if not customer:
        return None
    item = d.from_item(ddb.get_item(TableName=table, Key=d.to_item(
        {"pk": f"CUSTOMER#{customer}", "sk": "USER"}), ConsistentRead=True).get("Item"))
    return str(item["userId"]) if item else None


def _metadata_user(obj: Mapping[str, Any]) -> str | None:
    for meta in (obj.get("metadata"), (obj.get("subscription_details") or {}).get("metadata")):
        if isinstance(meta, dict) and meta.get("userId"):
            return str(meta["userId"])
    return None


def _price_ids(obj: Mapping[str, Any]) -> list[str]:
    prices: list[str] = []
    for line in ((obj.get("lines") or obj.get("items") or {}).get("data") or []):
        price = line.get("price")
        if isinstance(price, dict) and price.get("id"):
            prices.append(price["id"])
        pricing = ((line.get("pricing") or {}).get("price_details") or {}).get("price")
        if isinstance(pricing, str):
            prices.append(pricing)
    return prices


def _plan_of(obj: Mapping[str, Any], plans: Mapping[str, str]) -> str | None:
    meta = obj.get("metadata") or {}
    if isinstance(meta, dict) and meta.get("plan") in PLAN_CREDITS:
        return str(meta["plan"])
    for price in _price_ids(obj):
        if price in plans:
            return plans[price]
    return None


def apply_event(ddb: Any, table: str, event: dict[str, Any], plans: Mapping[str, str],
                now_iso: str) -> BillingResult:
    """Apply one parsed Stripe event. Raises ``InvalidStripeEvent`` when it cannot be."""
    event_id, event_type = event["id"], event["type"]
    if event_type not in HANDLED_TYPES:
        return BillingResult(event_id, event_type, "ignored")
    obj = event["data"]["object"]
    customer = obj.get("customer") if isinstance(obj.get("customer"), str) else None
    delta = 0
    account: dict[str, Any] = {}
    link_customer = False

    if event_type == "checkout.session.completed":
        user_id = obj.get("client_reference_id") or _metadata_user(obj)
        if not user_id:
            raise InvalidStripeEvent("checkout session names no user "
                                     "(client_reference_id or metadata.userId)")
        link_customer = bool(customer)
        if customer:
            account["customerId"] = customer
        if obj.get("mode") == "subscription":
            plan = _plan_of(obj, plans)
            if plan:
                account["plan"] = plan
            account["subscriptionStatus"] = "active"
            if isinstance(obj.get("subscription"), str):
                account["subscriptionId"] = obj["subscription"]
        else:
            try:
                delta = int((obj.get("metadata") or {}).get("credits", 0))
            except (TypeError, ValueError):
                raise InvalidStripeEvent("metadata.credits is not a number") from None
            if delta <= 0:
                raise InvalidStripeEvent("a one-off checkout must carry metadata.credits > 0")
    else:
        user_id = _metadata_user(obj) or _user_of_customer(ddb, table, customer)
        if not user_id:
            # Usually the checkout event has not been applied yet: retried via SQS.
            raise InvalidStripeEvent(f"no user known for customer {customer or '(none)'}")
        if event_type == "invoice.payment_succeeded":
            plan = _plan_of(obj, plans)
            if not plan:
                raise InvalidStripeEvent("invoice price matches no configured plan")
            delta = PLAN_CREDITS[plan]
            account.update(plan=plan, subscriptionStatus="active")
        elif event_type == "customer.subscription.updated":
            plan = _plan_of(obj, plans)
            if plan:
                account["plan"] = plan
            account["subscriptionStatus"] = str(obj.get("status") or "active")
            account["subscriptionId"] = obj.get("id")
        elif event_type == "customer.subscription.deleted":
            account.update(plan="none", subscriptionStatus="canceled")
        elif event_type == "invoice.payment_failed":
            account["subscriptionStatus"] = "past_due"

    user_id = str(user_id)
    created = int(event.get("created") or 0)
    items: list[dict[str, Any]] = [{"Put": {
        "TableName": table,
        "Item": d.to_item({"pk": f"STRIPE_EVENT#{event_id}", "sk": "APPLIED",
                           "type": event_type, "userId": user_id, "creditDelta": delta,
                           "appliedAt": now_iso}),
        "ConditionExpression": "attribute_not_exists(pk)",
    }}]
    names: dict[str, str] = {}
    vals: dict[str, Any] = {":now": now_iso, ":delta": delta}
    sets = ["updatedAt = :now"]
    for i, (key, value) in enumerate(sorted(account.items())):
        if value is None:
            continue
        names[f"#a{i}"] = key
        vals[f":a{i}"] = value
        sets.append(f"#a{i} = :a{i}")
    update: dict[str, Any] = {
        "TableName": table,
        "Key": d.to_item({"pk": f"USER#{user_id}", "sk": "ACCOUNT"}),
        "UpdateExpression": "SET " + ", ".join(sets) + " ADD credits :delta",
        "ExpressionAttributeValues": d.values(vals),
    }
    if names:
        update["ExpressionAttributeNames"] = names
    items.append({"Update": update})
    if delta:
        items.append({"Put": {"TableName": table, "Item": d.to_item({
            "pk": f"USER#{user_id}", "sk": f"TXN#{created:012d}#{event_id}",
            "eventId": event_id, "type": event_type, "creditDelta": delta,
            "appliedAt": now_iso})}})
    if link_customer:
        items.append({"Put": {"TableName": table, "Item": d.to_item({
            "pk": f"CUSTOMER#{customer}", "sk": "USER", "userId": user_id})}})
    try:
        ddb.transact_write_items(TransactItems=items)
    except ClientError as exc:
        codes = d.cancellation_codes(exc)
        if codes and codes[0] == "ConditionalCheckFailed":
            return BillingResult(event_id, event_type, "duplicate", user_id)
        raise
    return BillingResult(event_id, event_type, "applied", user_id, delta, account)


def get_account(ddb: Any, table: str, user_id: str) -> dict[str, Any]:
    """The user's credits account (``credits`` 0 and ``plan`` none when never billed)."""
    item = d.from_item(ddb.get_item(TableName=table, Key=d.to_item(
        {"pk": f"USER#{user_id}", "sk": "ACCOUNT"}), ConsistentRead=True).get("Item"))
    base = {"userId": user_id, "credits": 0, "plan": "none"}
    if item:
        base.update({k: v for k, v in item.items() if k not in ("pk", "sk")})
    return base
