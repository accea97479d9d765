"""StripeWebhook (signature, tolerance, replay) and BillingProcessor (exactly once)."""

from __future__ import annotations

import json
import time

import pytest
from rt_helpers import CANARIES, USER, drain, load_event, sign

from garmaxctl.contract import STRIPE_WEBHOOK_PATH
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
