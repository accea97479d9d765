"""Stripe events applied to the credits ledger, exactly once per event id.

Credits table (``pk``/``sk``):

- ``USER#{user}`` / ``ACCOUNT``: ``credits``, ``plan``, ``subscriptionStatus``,
  ``customerId``, ``subscriptionId``, ``updatedAt``;
- ``USER#{user}`` / ``TXN#{created}#{eventId}``: one row per credit change (audit);
- ``CUSTOMER#{cus}`` / ``USER``: which user a Stripe customer is (written at checkout);
- ``CHECKOUT#{cs}`` / ``CHECKOUT``: one Checkout Session's payment: ``state``
  (``awaiting_payment | fulfilled | payment_failed | reversed``), ``creditsGranted``,
  ``fulfilledBy`` / ``failedBy`` (event ids);
- ``STRIPE_EVENT#{eventId}`` / ``APPLIED``: the idempotency marker.

Every event is applied with one ``TransactWriteItems`` whose first item puts the marker
with ``attribute_not_exists(pk)``: a second delivery of the same event id cancels the
whole transaction, so the credit change happens once, and never half. A checkout event
also moves its session's record, conditionally on the state it was read in (second item):
several events of one session (``completed`` + ``async_payment_succeeded``, out of order,
concurrently) credit it once, because only the move to ``fulfilled`` credits and it can
happen once.

Handled types:

- ``checkout.session.completed``: links customer -> user. Fulfils when ``payment_status``
  is ``paid`` or ``no_payment_required`` (a 100%-off coupon, a trial: Stripe's guidance is
  to fulfil whatever is not ``unpaid``); ``unpaid`` (a delayed payment method) waits, the
  record is ``awaiting_payment``. Any other or no ``payment_status``: invalid (DLQ).
- ``checkout.session.async_payment_succeeded``: fulfils a session not yet fulfilled.
- ``checkout.session.async_payment_failed``: ``payment_failed`` (final, nothing granted);
  on a session already fulfilled, takes its ``creditsGranted`` back once (``reversed``).
- Fulfilling ``mode=payment`` adds ``metadata.credits``; ``mode=subscription`` sets the
  plan and ``active`` (credits come with each paid invoice).
- ``invoice.payment_succeeded`` (adds the plan's monthly credits),
  ``customer.subscription.updated`` / ``deleted`` (plan and status),
  ``invoice.payment_failed`` (status ``past_due``). Other types are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from garmaxctl.shared.contract import PARAMS_BY_ENV_KEY
from runtime.config import RuntimeConfig, get_plain_many
from runtime.domain import ddb as d

CHECKOUT_TYPES = frozenset({
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
})
HANDLED_TYPES = CHECKOUT_TYPES | frozenset({
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

# checkout.session.completed's payment_status (Stripe: "one of paid, unpaid, or
# no_payment_required. You can use this value to decide when to fulfill").
PAYMENT_STATUSES = ("paid", "unpaid", "no_payment_required")
CHECKOUT_SK = "CHECKOUT"
CHECKOUT_RACE_RETRIES = 3


class CheckoutState(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    FULFILLED = "fulfilled"
    PAYMENT_FAILED = "payment_failed"
    REVERSED = "reversed"


def checkout_pk(session_id: str) -> str:
    return f"CHECKOUT#{session_id}"


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
    checkout_state: str | None = None  # the checkout record's new state, when it moved


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


@dataclass
class _Changes:
    """What one event does: the account update, the credit delta, the checkout transition."""

    user_id: str
    delta: int = 0
    account: dict[str, Any] = field(default_factory=dict)
    link_customer: str | None = None
    checkout: dict[str, Any] | None = None  # Update item of the checkout record, if it moves
    checkout_state: str | None = None


def _checkout_signal(event_type: str, obj: Mapping[str, Any]) -> str:
    """``paid`` (fulfil), ``unpaid`` (wait) or ``failed`` (the delayed payment failed)."""
    if event_type == "checkout.session.async_payment_succeeded":
        return "paid"
    if event_type == "checkout.session.async_payment_failed":
        return "failed"
    status = obj.get("payment_status")
    if status not in PAYMENT_STATUSES:
        raise InvalidStripeEvent(f"checkout session has no known payment_status ({status!r})")
    return "unpaid" if status == "unpaid" else "paid"


def next_checkout_state(current: str | None, signal: str) -> CheckoutState | None:
    """The checkout record's next state, or ``None`` when the event changes nothing.

    ``fulfilled`` is reached once (that is the one credit); ``payment_failed`` and
    ``reversed`` are final, so a redelivered or contradicting event never credits or
    takes back a second time.
    """
    if signal == "paid":
        return CheckoutState.FULFILLED if current in (None, CheckoutState.AWAITING_PAYMENT) \
            else None
    if signal == "unpaid":
        return CheckoutState.AWAITING_PAYMENT if current is None else None
    if current in (None, CheckoutState.AWAITING_PAYMENT):
        return CheckoutState.PAYMENT_FAILED
    if current == CheckoutState.FULFILLED:
        return CheckoutState.REVERSED
    return None


def get_checkout(ddb: Any, table: str, session_id: str) -> dict[str, Any] | None:
    """The checkout record of a Stripe Checkout Session (``None`` before its first event)."""
    return d.from_item(ddb.get_item(TableName=table, Key=d.to_item(
        {"pk": checkout_pk(session_id), "sk": CHECKOUT_SK}), ConsistentRead=True).get("Item"))


def _checkout_changes(ddb: Any, table: str, event: dict[str, Any], plans: Mapping[str, str],
                      now_iso: str) -> _Changes:
    event_id, event_type = event["id"], event["type"]
    obj = event["data"]["object"]
    user_id = obj.get("client_reference_id") or _metadata_user(obj)
    if not user_id:
        raise InvalidStripeEvent("checkout session names no user "
                                 "(client_reference_id or metadata.userId)")
    session_id = obj.get("id")
    if not isinstance(session_id, str) or not session_id:
        raise InvalidStripeEvent("checkout session has no id")
    signal = _checkout_signal(event_type, obj)
    subscription = obj.get("mode") == "subscription"
    credits = 0
    if not subscription:
        try:
            credits = int((obj.get("metadata") or {}).get("credits", 0))
        except (TypeError, ValueError):
            raise InvalidStripeEvent("metadata.credits is not a number") from None
        if credits <= 0:
            raise InvalidStripeEvent("a one-off checkout must carry metadata.credits > 0")
    customer = obj.get("customer") if isinstance(obj.get("customer"), str) else None
    changes = _Changes(user_id=str(user_id), link_customer=customer)
    if customer:
        changes.account["customerId"] = customer
    if subscription and isinstance(obj.get("subscription"), str):
        changes.account["subscriptionId"] = obj["subscription"]

    record = get_checkout(ddb, table, session_id)
    current = str(record["state"]) if record else None
    state = next_checkout_state(current, signal)
    if state is None:
        return changes
    fields: dict[str, Any] = {"state": state.value, "userId": changes.user_id,
                              "mode": "subscription" if subscription else "payment",
                              "updatedAt": now_iso, "lastEventId": event_id}
    if state is CheckoutState.FULFILLED:
        fields.update(fulfilledBy=event_id, fulfilledAt=now_iso, creditsGranted=credits)
        changes.delta = credits
        if subscription:
            plan = _plan_of(obj, plans)
            if plan:
                changes.account["plan"] = plan
            changes.account["subscriptionStatus"] = "active"
    elif state is CheckoutState.PAYMENT_FAILED:
        fields.update(failedBy=event_id, failedAt=now_iso)
    elif state is CheckoutState.REVERSED and record:  # take back what was granted, from whom
        fields.update(failedBy=event_id, failedAt=now_iso, userId=record["userId"])
        changes.user_id = str(record["userId"])
        changes.delta = -int(record.get("creditsGranted", 0))
    names = {f"#c{i}": key for i, key in enumerate(fields)}
    vals = {f":c{i}": value for i, value in enumerate(fields.values())}
    sets = [f"#c{i} = :c{i}" for i in range(len(fields))]
    if current is None:
        condition = "attribute_not_exists(pk)"
    else:  # the state this decision was made from, still
        names["#state"], vals[":prev"] = "state", current
        condition = "#state = :prev"
    changes.checkout = {
        "TableName": table,
        "Key": d.to_item({"pk": checkout_pk(session_id), "sk": CHECKOUT_SK}),
        "UpdateExpression": "SET " + ", ".join(sets),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": d.values(vals),
    }
    changes.checkout_state = state.value
    return changes


def _other_changes(ddb: Any, table: str, event: dict[str, Any],
                   plans: Mapping[str, str]) -> _Changes:
    event_type = event["type"]
    obj = event["data"]["object"]
    customer = obj.get("customer") if isinstance(obj.get("customer"), str) else None
    user_id = _metadata_user(obj) or _user_of_customer(ddb, table, customer)
    if not user_id:
        # Usually the checkout event has not been applied yet: retried via SQS.
        raise InvalidStripeEvent(f"no user known for customer {customer or '(none)'}")
    changes = _Changes(user_id=str(user_id))
    if event_type == "invoice.payment_succeeded":
        plan = _plan_of(obj, plans)
        if not plan:
            raise InvalidStripeEvent("invoice price matches no configured plan")
        changes.delta = PLAN_CREDITS[plan]
        changes.account.update(plan=plan, subscriptionStatus="active")
    elif event_type == "customer.subscription.updated":
        plan = _plan_of(obj, plans)
        if plan:
            changes.account["plan"] = plan
        changes.account["subscriptionStatus"] = str(obj.get("status") or "active")
        changes.account["subscriptionId"] = obj.get("id")
    elif event_type == "customer.subscription.deleted":
        changes.account.update(plan="none", subscriptionStatus="canceled")
    elif event_type == "invoice.payment_failed":
        changes.account["subscriptionStatus"] = "past_due"
    return changes


def _transaction(table: str, event: dict[str, Any], changes: _Changes,
                 now_iso: str) -> list[dict[str, Any]]:
    event_id, event_type = event["id"], event["type"]
    user_id, delta = changes.user_id, changes.delta
    created = int(event.get("created") or 0)
    items: list[dict[str, Any]] = [{"Put": {
        "TableName": table,
        "Item": d.to_item({"pk": f"STRIPE_EVENT#{event_id}", "sk": "APPLIED",
                           "type": event_type, "userId": user_id, "creditDelta": delta,
                           "checkoutState": changes.checkout_state, "appliedAt": now_iso}),
        "ConditionExpression": "attribute_not_exists(pk)",
    }}]
    if changes.checkout is not None:
        items.append({"Update": changes.checkout})  # index 1: see apply_event
    names: dict[str, str] = {}
    vals: dict[str, Any] = {":now": now_iso, ":delta": delta}
    sets = ["updatedAt = :now"]
    for i, (key, value) in enumerate(sorted(changes.account.items())):
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
    if changes.link_customer:
        items.append({"Put": {"TableName": table, "Item": d.to_item({
            "pk": f"CUSTOMER#{changes.link_customer}", "sk": "USER", "userId": user_id})}})
    return items


def apply_event(ddb: Any, table: str, event: dict[str, Any], plans: Mapping[str, str],
                now_iso: str) -> BillingResult:
    """Apply one parsed Stripe event. Raises ``InvalidStripeEvent`` when it cannot be."""
    event_id, event_type = event["id"], event["type"]
    if event_type not in HANDLED_TYPES:
        return BillingResult(event_id, event_type, "ignored")
    for _ in range(CHECKOUT_RACE_RETRIES):
        if event_type in CHECKOUT_TYPES:
            changes = _checkout_changes(ddb, table, event, plans, now_iso)
        else:
            changes = _other_changes(ddb, table, event, plans)
        try:
            ddb.transact_write_items(TransactItems=_transaction(table, event, changes, now_iso))
        except ClientError as exc:
            codes = d.cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                return BillingResult(event_id, event_type, "duplicate", changes.user_id)
            if changes.checkout is not None and len(codes) > 1 \
                    and codes[1] == "ConditionalCheckFailed":
                continue  # another event moved the checkout record meanwhile: decide again
            raise
        return BillingResult(event_id, event_type, "applied", changes.user_id, changes.delta,
                             changes.account, changes.checkout_state)
    raise RuntimeError(f"checkout record kept changing while applying {event_id}; retried")


def get_account(ddb: Any, table: str, user_id: str) -> dict[str, Any]:
    """The user's credits account (``credits`` 0 and ``plan`` none when never billed)."""
    item = d.from_item(ddb.get_item(TableName=table, Key=d.to_item(
        {"pk": f"USER#{user_id}", "sk": "ACCOUNT"}), ConsistentRead=True).get("Item"))
    base = {"userId": user_id, "credits": 0, "plan": "none"}
    if item:
        base.update({k: v for k, v in item.items() if k not in ("pk", "sk")})
    return base
