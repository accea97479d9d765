"""StripeWebhook (signature, tolerance, replay) and BillingProcessor (exactly once)."""

from __future__ import annotations

import json
import time

import pytest
from rt_helpers import CANARIES, USER, drain, load_event, sign

from garmaxctl.shared.contract import STRIPE_WEBHOOK_PATH
from runtime.testing import LambdaContext, api_gateway_event, sqs_event, sqs_record

SECRET = CANARIES["stripe/webhook-secret"]


def post_webhook(payload: str, signature: str | None, *, base64_body: bool = False):
    from runtime.handlers import stripe_webhook

    headers = {"Stripe-Signature": signature} if signature is not None else {}
    event = api_gateway_event("POST", STRIPE_WEBHOOK_PATH, body=payload, user=None,
                              headers=headers, base64_body=base64_body)
    response = stripe_webhook.lambda_handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def payload_of(name: str) -> str:
    return json.dumps(load_event(name))


def test_verified_event_is_queued_for_billing(stack):
    payload = payload_of("stripe_checkout_payment.json")
    status, body = post_webhook(payload, sign(payload, SECRET))
    assert (status, body) == (200, {"received": True, "id": "evt_1CheckoutPayment0001",
                                    "queued": True})
    [message] = stack.receive("Billing")
    assert message["Body"] == payload


def test_base64_encoded_body_verifies_too(stack):
    payload = payload_of("stripe_checkout_payment.json")
    status, _ = post_webhook(payload, sign(payload, SECRET), base64_body=True)
    assert status == 200 and len(stack.receive("Billing")) == 1


@pytest.mark.parametrize(("signature", "code"), [
    (None, "missing_signature"),
    ("t=1,v1=deadbeef", "invalid_signature"),
    ("garbage", "invalid_signature"),
])
def test_bad_signatures_are_400_and_queue_nothing(stack, signature, code):
    status, body = post_webhook(payload_of("stripe_checkout_payment.json"), signature)
    assert (status, body["code"]) == (400, code)
    assert stack.receive("Billing") == []


def test_signature_with_another_secret_is_refused(stack):
    payload = payload_of("stripe_checkout_payment.json")
    status, body = post_webhook(payload, sign(payload, "whsec_someone_else"))
    assert (status, body["code"]) == (400, "invalid_signature")


def test_tampered_payload_is_refused(stack):
    payload = payload_of("stripe_checkout_payment.json")
    signature = sign(payload, SECRET)
    status, body = post_webhook(payload.replace('"25"', '"2500"'), signature)
    assert (status, body["code"]) == (400, "invalid_signature")
    assert stack.receive("Billing") == []


def test_replayed_old_signature_is_refused(stack):
    payload = payload_of("stripe_checkout_payment.json")
    old = sign(payload, SECRET, timestamp=int(time.time()) - 301)
    status, body = post_webhook(payload, old)
    assert (status, body["code"]) == (400, "invalid_signature")
    assert stack.receive("Billing") == []


def test_signed_non_json_payload_is_400_malformed(stack):
    payload = "not json at all"
    status, body = post_webhook(payload, sign(payload, SECRET))
    assert (status, body["code"]) == (400, "malformed_payload")


def test_unknown_event_type_is_acknowledged_and_not_queued(stack):
    payload = payload_of("stripe_unknown_type.json")
    status, body = post_webhook(payload, sign(payload, SECRET))
    assert (status, body["queued"]) == (200, False)
    assert stack.receive("Billing") == []


def test_missing_webhook_secret_is_500_so_stripe_retries(stack):
    stack.ssm.delete_parameter(Name="/garmaxai/LOCAL/stripe/webhook-secret")
    payload = payload_of("stripe_checkout_payment.json")
    status, body = post_webhook(payload, sign(payload, SECRET))
    assert (status, body["code"]) == (500, "not_configured")
    assert stack.receive("Billing") == []


def test_queue_failure_is_503_so_stripe_retries(stack, monkeypatch):
    monkeypatch.setenv("BILLING_QUEUE_URL", stack.queues["Billing"] + "-gone")
    payload = payload_of("stripe_checkout_payment.json")
    status, body = post_webhook(payload, sign(payload, SECRET))
    assert (status, body["code"]) == (503, "enqueue_failed")


# --------------------------------------------------------------------------- billing

def billing(*bodies):
    from runtime.handlers import billing_processor

    event = sqs_event(*bodies)
    return event, billing_processor.lambda_handler(event, LambdaContext())


def account(stack, user=USER):
    from runtime.domain.billing import get_account

    return get_account(stack.ddb, stack.table("Credits"), user)


def test_event_delivered_twice_changes_credits_once(stack):
    payload = payload_of("stripe_checkout_payment.json")
    for _ in range(2):  # two webhook deliveries of one Stripe event
        assert post_webhook(payload, sign(payload, SECRET))[0] == 200
    from runtime.handlers import billing_processor

    assert drain(stack, "Billing", billing_processor.lambda_handler) == []
    assert account(stack)["credits"] == 25
    txns = [i for i in stack.scan("Credits") if i["sk"].startswith("TXN#")]
    assert len(txns) == 1
    # ...and a third delivery in a later batch still changes nothing.
    _, result = billing(payload)
    assert result == {"batchItemFailures": []}
    assert account(stack)["credits"] == 25


def test_duplicate_within_one_batch_is_applied_once(stack):
    payload = payload_of("stripe_checkout_payment.json")
    _, result = billing(payload, payload)
    assert result == {"batchItemFailures": []}
    assert account(stack)["credits"] == 25


def test_poison_message_alone_is_reported_as_a_batch_item_failure(stack):
    good = payload_of("stripe_checkout_payment.json")
    event, result = billing(good, "{this is not json", payload_of("stripe_unknown_type.json"))
    poison_id = event["Records"][1]["messageId"]
    assert result == {"batchItemFailures": [{"itemIdentifier": poison_id}]}
    assert account(stack)["credits"] == 25


def test_batch_of_only_poison_is_reported_not_raised(stack):
    event, result = billing('{"object": "event"}')
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert stack.scan("Credits") == []


def test_unknown_event_type_is_ignored_without_failure(stack):
    _, result = billing(payload_of("stripe_unknown_type.json"))
    assert result == {"batchItemFailures": []}
    assert stack.scan("Credits") == []


def test_subscription_lifecycle_grants_plan_credits_per_paid_invoice(stack):
    _, result = billing(payload_of("stripe_checkout_subscription.json"),
                        payload_of("stripe_invoice_payment_succeeded.json"))
    assert result == {"batchItemFailures": []}
    acct = account(stack)
    assert (acct["credits"], acct["plan"], acct["subscriptionStatus"]) == (500, "pro", "active")
    billing(payload_of("stripe_invoice_payment_failed.json"))
    assert account(stack)["subscriptionStatus"] == "past_due"
    billing(payload_of("stripe_subscription_deleted.json"))
    acct = account(stack)
    assert (acct["plan"], acct["subscriptionStatus"], acct["credits"]) == (
        "none", "canceled", 500)


def test_invoice_for_an_unknown_customer_fails_and_is_retried(stack):
    event, result = billing(payload_of("stripe_invoice_payment_succeeded.json"))
    assert result["batchItemFailures"] == [{"itemIdentifier": event["Records"][0]["messageId"]}]
    assert stack.scan("Credits") == []  # nothing half-written, not even the marker


def test_invoice_with_an_unconfigured_price_fails(stack):
    billing(payload_of("stripe_checkout_subscription.json"))
    invoice = load_event("stripe_invoice_payment_succeeded.json")
    invoice["data"]["object"]["lines"]["data"][0]["price"]["id"] = "price_unknown"
    _, result = billing(json.dumps(invoice))
    assert len(result["batchItemFailures"]) == 1
    assert account(stack)["credits"] == 0


def test_checkout_without_user_is_poison(stack):
    checkout = load_event("stripe_checkout_payment.json")
    del checkout["data"]["object"]["client_reference_id"]
    _, result = billing(json.dumps(checkout))
    assert len(result["batchItemFailures"]) == 1
    assert stack.scan("Credits") == []


def test_record_shape_matches_what_the_local_worker_sends(stack):
    """A record with every SQS field, as the worker builds from ReceiveMessage."""
    template = load_event("sqs_event.json")
    record = template["Records"][0] | {"body": payload_of("stripe_checkout_payment.json")}
    from runtime.handlers import billing_processor

    assert billing_processor.lambda_handler({"Records": [record]}, LambdaContext()) == {
        "batchItemFailures": []}
    assert sqs_record("x")["eventSource"] == record["eventSource"]


# --------------------------------------------------------------------------- payment status
# Stripe: checkout.session.completed carries payment_status paid | unpaid |
# no_payment_required; a delayed method (ACH, SEPA...) completes `unpaid` and later sends
# checkout.session.async_payment_succeeded or checkout.session.async_payment_failed.

SESSION = "cs_test_a1b2c3"


def checkout(event_id, payment_status="paid", *, kind="completed", session=SESSION,
             mode="payment"):
    """A checkout-session event of the payment fixture's shape (25 credits, user-0001)."""
    event = load_event("stripe_checkout_payment.json")
    event["id"] = event_id
    event["type"] = {"completed": "checkout.session.completed",
                     "succeeded": "checkout.session.async_payment_succeeded",
                     "failed": "checkout.session.async_payment_failed"}[kind]
    obj = event["data"]["object"]
    obj.update(id=session, mode=mode)
    if payment_status is None:
        del obj["payment_status"]
    else:
        obj["payment_status"] = payment_status
    if mode == "subscription":
        obj.update(subscription="sub_Test0001", metadata={"plan": "pro"})
    return json.dumps(event)


def checkout_record(stack, session=SESSION):
    from runtime.domain.billing import get_checkout

    return get_checkout(stack.ddb, stack.table("Credits"), session)


def txn_deltas(stack):
    return sorted(i["creditDelta"] for i in stack.scan("Credits") if i["sk"].startswith("TXN#"))


def test_unpaid_checkout_grants_nothing_until_the_async_payment_succeeds(stack):
    _, result = billing(checkout("evt_unpaid_completed", "unpaid"))
    assert result == {"batchItemFailures": []}
    assert account(stack)["credits"] == 0
    assert checkout_record(stack)["state"] == "awaiting_payment"
    assert account(stack)["customerId"] == "cus_Test0001"  # the customer is linked anyway

    succeeded = checkout("evt_async_succeeded", "paid", kind="succeeded")
    _, result = billing(succeeded)
    assert result == {"batchItemFailures": []}
    assert account(stack)["credits"] == 25
    # Redeliveries, a late copy of the unpaid completion, or another success event for
    # the same session: still credited once.
    billing(succeeded, checkout("evt_unpaid_completed", "unpaid"))
    billing(checkout("evt_async_succeeded_again", "paid", kind="succeeded"))
    assert account(stack)["credits"] == 25
    assert txn_deltas(stack) == [25]
    record = checkout_record(stack)
    assert (record["state"], record["fulfilledBy"]) == ("fulfilled", "evt_async_succeeded")


def test_async_payment_failed_after_unpaid_grants_nothing_and_records_the_failure(stack):
    _, result = billing(checkout("evt_unpaid_completed", "unpaid"),
                        checkout("evt_async_failed", "unpaid", kind="failed"))
    assert result == {"batchItemFailures": []}
    assert account(stack)["credits"] == 0 and txn_deltas(stack) == []
    record = checkout_record(stack)
    assert (record["state"], record["failedBy"]) == ("payment_failed", "evt_async_failed")
    # The failure is final for this session: a redelivery or a contradicting success
    # event changes nothing.
    billing(checkout("evt_async_failed", "unpaid", kind="failed"),
            checkout("evt_async_succeeded", "paid", kind="succeeded"))
    assert account(stack)["credits"] == 0 and checkout_record(stack)["state"] == "payment_failed"


def test_async_success_delivered_before_the_unpaid_completion_credits_once(stack):
    billing(checkout("evt_async_succeeded", "paid", kind="succeeded"))
    billing(checkout("evt_unpaid_completed", "unpaid"))
    assert account(stack)["credits"] == 25
    assert checkout_record(stack)["state"] == "fulfilled"


def test_no_payment_required_checkout_is_fulfilled(stack):
    """A 100%-off coupon or a trial: Stripe's guidance is to fulfil unless `unpaid`."""
    _, result = billing(checkout("evt_free_completed", "no_payment_required"))
    assert result == {"batchItemFailures": []}
    assert account(stack)["credits"] == 25
    assert checkout_record(stack)["state"] == "fulfilled"


def test_paid_checkout_and_a_later_success_event_credit_once(stack):
    billing(checkout("evt_paid_completed", "paid"),
            checkout("evt_async_succeeded", "paid", kind="succeeded"))
    assert account(stack)["credits"] == 25 and txn_deltas(stack) == [25]


def test_payment_failure_after_fulfilment_takes_the_credits_back_once(stack):
    billing(checkout("evt_paid_completed", "paid"))
    assert account(stack)["credits"] == 25
    failed = checkout("evt_async_failed", "unpaid", kind="failed")
    billing(failed)
    assert account(stack)["credits"] == 0
    billing(failed, checkout("evt_async_failed_again", "unpaid", kind="failed"))
    billing(checkout("evt_paid_completed", "paid"))  # a late redelivery grants nothing
    assert account(stack)["credits"] == 0
    assert txn_deltas(stack) == [-25, 25]
    assert checkout_record(stack)["state"] == "reversed"


def test_unpaid_subscription_checkout_does_not_activate_the_plan(stack):
    billing(checkout("evt_sub_unpaid", "unpaid", mode="subscription"))
    acct = account(stack)
    assert acct["plan"] == "none" and "subscriptionStatus" not in acct
    assert acct["subscriptionId"] == "sub_Test0001"
    billing(checkout("evt_sub_async_ok", "paid", kind="succeeded", mode="subscription"))
    acct = account(stack)
    assert (acct["plan"], acct["subscriptionStatus"], acct["credits"]) == ("pro", "active", 0)


@pytest.mark.parametrize("payment_status", [None, "pending", ""])
def test_checkout_without_a_known_payment_status_is_poison(stack, payment_status):
    event, result = billing(checkout("evt_odd_status", payment_status))
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert stack.scan("Credits") == []


@pytest.mark.parametrize("kind", ["succeeded", "failed"])
def test_async_payment_events_are_queued_by_the_webhook(stack, kind):
    payload = checkout(f"evt_async_{kind}", "paid", kind=kind)
    status, body = post_webhook(payload, sign(payload, SECRET))
    assert (status, body["queued"]) == (200, True)
    assert len(stack.receive("Billing")) == 1


def test_events_of_one_session_racing_each_other_credit_once(stack):
    """The success event lands between the paid completion's read and its write."""
    from runtime.domain import billing as b

    table = stack.table("Credits")
    late = json.loads(checkout("evt_async_succeeded", "paid", kind="succeeded"))
    first_call = []

    def interleave(**kwargs):
        if not first_call:
            first_call.append(True)
            assert b.apply_event(stack.ddb, table, late, {}, "t1").credit_delta == 25

    stack.ddb.meta.events.register("before-call.dynamodb.TransactWriteItems", interleave)
    try:
        result = b.apply_event(stack.ddb, table, json.loads(checkout("evt_paid", "paid")), {},
                               "t2")
    finally:
        stack.ddb.meta.events.unregister("before-call.dynamodb.TransactWriteItems",
                                         interleave)
    assert (result.outcome, result.credit_delta, result.checkout_state) == ("applied", 0, None)
    assert account(stack)["credits"] == 25 and txn_deltas(stack) == [25]
    assert checkout_record(stack)["fulfilledBy"] == "evt_async_succeeded"
