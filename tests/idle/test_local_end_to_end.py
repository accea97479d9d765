"""Acceptance 4, end to end on the deployed LOCAL stack (the session's ``local_stack``):
while idle, messages sent to the try-on and billing queues stay queued (none burnt into a
DLQ) and a signed Stripe event is accepted by the StripeWebhook through the local gateway;
after ``idle up`` all of them are processed and applied. The stack is restored before the
test ends, whatever happens (other tests use it)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid

import pytest
import stripe

from garmaxctl.shared import contract
from tests.conftest import wait_for

pytestmark = pytest.mark.slow
STAGE = "LOCAL"
SECRET_PATH = contract.PARAMS_BY_ENV_KEY["STRIPE_WEBHOOK_SECRET"].full_path(STAGE)


def _http(local_stack, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(f"{local_stack.api_url}{path}", data=body, method=method,
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _counts(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + \
        int(attrs["ApproximateNumberOfMessagesNotVisible"])


def _checkout_event(user: str, credits: int) -> dict:
    return {"object": "event", "id": f"evt_{uuid.uuid4().hex}",
            "type": "checkout.session.completed", "created": int(time.time()),
            "data": {"object": {"id": f"cs_{uuid.uuid4().hex}", "mode": "payment",
                                "payment_status": "paid", "client_reference_id": user,
                                "customer": f"cus_{user}",
                                "metadata": {"credits": str(credits)}}}}


def _signature(payload: str, secret: str) -> str:
    """A Stripe-Signature header, computed with the stripe SDK's own scheme."""
    timestamp = int(time.time())
    mac = stripe.WebhookSignature._compute_signature(f"{timestamp}.{payload}", secret)
    return f"t={timestamp},{stripe.WebhookSignature.EXPECTED_SCHEME}={mac}"


@pytest.fixture
def webhook_secret(local_stack):
    """The webhook secret in Parameter Store (SecureString) for the test, removed after
    (an existing one is used as it is and left alone)."""
    ssm = local_stack.client("ssm")
    try:
        existing = ssm.get_parameter(Name=SECRET_PATH, WithDecryption=True)["Parameter"]
    except ssm.exceptions.ParameterNotFound:
        existing = None
    if existing is not None:
        yield existing["Value"]
        return
    secret = local_stack.WEBHOOK_SECRET
    ssm.put_parameter(Name=SECRET_PATH, Value=secret, Type="SecureString")
    try:
        yield secret
    finally:
        ssm.delete_parameter(Name=SECRET_PATH)


def test_messages_and_stripe_events_while_idle_are_processed_after_up(local_stack,
                                                                      webhook_secret) -> None:
    outputs = local_stack.outputs
    sqs, ddb = local_stack.client("sqs"), local_stack.client("dynamodb")
    lam = local_stack.client("lambda")
    tryon_q, tryon_dlq = (outputs[k] for k in contract.QUEUE_OUTPUTS[contract.Queue.TRYON])
    billing_q, billing_dlq = (outputs[k] for k in
                              contract.QUEUE_OUTPUTS[contract.Queue.BILLING])
    sessions_table = outputs[contract.OutputKey.SESSIONS_TABLE]
    credits_table = outputs[contract.OutputKey.CREDITS_TABLE]
    api = contract.function_name(contract.Function.API, STAGE)
    before = {f: lam.get_function_concurrency(FunctionName=contract.function_name(f, STAGE))
              .get("ReservedConcurrentExecutions") for f in contract.Function}

    down = local_stack.garmaxctl("-o", "json", "idle", "down")
    try:
        assert json.loads(down.stdout)["data"]["outcome"] == "idle"
        assert lam.get_function_concurrency(FunctionName=api)["ReservedConcurrentExecutions"] == 0
        status, answer = _http(local_stack, "GET", "/api/health")
        # Ingress stopped, answered as API Gateway answers a throttled proxy function.
        assert (status, answer) == (500, {"message": "Internal server error"})
        # A local worker's receive that started before its mapping was disabled may still
        # return within its 1 s long poll (as an in-flight Lambda poller may on AWS): let it
        # end, so that what follows is sent while every consumer is paused.
        time.sleep(2)

        # While idle: try-on sessions queued, billing events queued directly ...
        user = f"idle-{uuid.uuid4().hex[:8]}"
        from runtime.domain.tryon import session_pk

        sessions = [uuid.uuid4().hex for _ in range(3)]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for session_id in sessions:
            ddb.put_item(TableName=sessions_table, Item={
                "pk": {"S": session_pk(session_id)}, "sessionId": {"S": session_id},
                "userId": {"S": user}, "status": {"S": "queued"}, "quality": {"S": "sd"},
                "avatarUrl": {"S": "https://example.com/a.png"},
                "garmentUrl": {"S": "https://example.com/g.png"},
                "createdAt": {"S": now}, "updatedAt": {"S": now},
                "expiresAt": {"N": str(int(time.time()) + 86400)}})
            sqs.send_message(QueueUrl=tryon_q, MessageBody=json.dumps(
                {"sessionId": session_id, "userId": user}))
        buyers = [f"buyer-{uuid.uuid4().hex[:8]}" for _ in range(3)]
        for buyer in buyers:
            sqs.send_message(QueueUrl=billing_q,
                             MessageBody=json.dumps(_checkout_event(buyer, 10)))
        # ... and a signed Stripe event, accepted by the webhook that idle keeps running.
        payer = f"payer-{uuid.uuid4().hex[:8]}"
        payload = json.dumps(_checkout_event(payer, 25))
        status, answer = _http(local_stack, "POST", contract.STRIPE_WEBHOOK_PATH,
                               payload.encode(), {"Content-Type": "application/json",
                                                  "Stripe-Signature": _signature(
                                                      payload, webhook_secret)})
        assert status == 200 and answer["queued"] is True, answer

        time.sleep(3)  # the local workers poll every second: nothing may be consumed
        assert _counts(sqs, tryon_q) == len(sessions)
        assert _counts(sqs, billing_q) == len(buyers) + 1
        assert _counts(sqs, tryon_dlq) == 0 and _counts(sqs, billing_dlq) == 0

        status_doc = json.loads(local_stack.garmaxctl("-o", "json", "idle", "status").stdout)
        assert status_doc["data"]["idle"] is True and status_doc["data"]["drift"] == []
        # The parked messages' clock: the stack's 14-day retention, read from the queue; no
        # AWS/SQS metric on LOCAL, so the age is the time since the snapshot (item 5).
        clocks = {c["queue"]: c for c in status_doc["data"]["queues"]}
        tryon_clock = clocks[tryon_q.rsplit("/", 1)[-1]]
        assert tryon_clock["visible"] + tryon_clock["in_flight"] == len(sessions)
        assert tryon_clock["retention_s"] == contract.QUEUE_RETENTION_SECONDS
        assert tryon_clock["age_from"] == "snapshot" and not tryon_clock["warning"]
        assert clocks[tryon_dlq.rsplit("/", 1)[-1]]["dlq"] is True
        assert 0 < status_doc["data"]["idle_limit_s"] <= contract.QUEUE_RETENTION_SECONDS
        refused = local_stack.garmaxctl("-o", "json", "deploy", check=False)
        assert refused.returncode == 2
        assert json.loads(refused.stdout)["error"]["code"] == "stage_idle"
    finally:
        up = local_stack.garmaxctl("-o", "json", "idle", "up", check=False)
    document = json.loads(up.stdout)
    assert up.returncode == 0, up.stdout + up.stderr
    assert document["data"]["outcome"] == "restored"
    checks = {c["name"]: c["status"] for c in document["data"]["checks"]}
    assert checks["/api/health"] == "ok" and checks["read back"] == "ok"
    assert checks["warm"] == "skipped"  # nothing to warm: the handlers run in-process
    after = {f: lam.get_function_concurrency(FunctionName=contract.function_name(f, STAGE))
             .get("ReservedConcurrentExecutions") for f in contract.Function}
    assert after == before

    # After up: everything queued while idle is processed, nothing in a DLQ.
    wait_for(lambda: _counts(sqs, tryon_q) == 0 and _counts(sqs, billing_q) == 0,
             timeout=90.0)
    assert _counts(sqs, tryon_dlq) == 0 and _counts(sqs, billing_dlq) == 0
    for session_id in sessions:
        item = ddb.get_item(TableName=sessions_table,
                            Key={"pk": {"S": session_pk(session_id)}})["Item"]
        assert item["status"]["S"] == "preview_ready", item
    from runtime.domain.billing import get_account

    for buyer in buyers:
        assert get_account(ddb, credits_table, buyer)["credits"] == 10
    assert get_account(ddb, credits_table, payer)["credits"] == 25  # the Stripe event applied
