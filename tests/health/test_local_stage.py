"""health, verify, smoke and status against the deployed LOCAL stack (``local_stack``).

Every test that breaks the shared stack (a DLQ message, an alarm state, a function's
concurrency, a bucket's public access, the webhook secret, an idle snapshot) puts it
back in a ``finally``: other tests use the same stack.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from garmaxctl.shared import contract
from tests.health.conftest import assert_envelope

pytestmark = pytest.mark.slow
STAGE = "LOCAL"
VERIFY_ITEMS = {
    "API health checks pass", "try-on workflow end to end", "AI render end to end",
    "Stripe webhook: signed event accepted, bad signature refused",
    "TLS certificates of custom domains", "S3 buckets block public access",
    "S3 buckets deny insecure transport", "secrets are SecureString",
    "no function role allows * on *", "CloudWatch alarms exist and have actions",
    "budget notifications", "log groups have retention", "SMPL processor runs a real image",
}


@pytest.fixture
def local(local_stack, monkeypatch):
    local_stack.use(monkeypatch)
    return local_stack


def checks_of(document: dict) -> dict[str, dict]:
    return {c["name"]: c for c in document["data"]["checks"]}


def drain(sqs, url: str) -> None:
    for _ in range(20):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@contextmanager
def idle_snapshot(local) -> Iterator[None]:
    ssm = local.client("ssm")
    name = contract.ops_prefix(STAGE) + contract.IDLE_SNAPSHOT_PARAM
    ssm.put_parameter(Name=name, Type="String", Overwrite=True, Value=json.dumps({
        "schema": 1, "stage": STAGE, "phase": "down", "created_at": "2026-01-01T00:00:00Z",
        "created_by": "tests/health"}))
    try:
        yield
    finally:
        ssm.delete_parameter(Name=name)


# --------------------------------------------------------------------------- health

def test_health_on_a_fresh_local_stack_is_healthy(local, cli) -> None:
    result, document = cli.json("health")
    assert result.exit_code == 0, result.stdout
    assert_envelope(document, exit_code=0, command="health")
    data = document["data"]
    assert data["status"] == "healthy" and data["api_url"] == local.api_url + "/"
    checks = checks_of(document)
    assert checks["aurora"]["status"] == checks["redis"]["status"] == "skipped"
    assert checks["parameters"]["status"] == "ok"
    assert {c["status"] for c in data["checks"]} <= {"ok", "skipped"}
    assert len(data["checks"]) == 25


def test_health_table_has_check_status_latency_detail(local, cli) -> None:
    result = cli("health")
    assert result.exit_code == 0
    header = next(line for line in result.stdout.splitlines() if "check" in line)
    assert header.split() == ["check", "status", "latency", "detail"]
    assert "LOCAL: healthy" in result.stdout


def test_health_with_the_local_api_down_exits_1(local, cli, monkeypatch) -> None:
    from tests.conftest import free_port

    dead = f"http://localhost:{free_port()}/"
    monkeypatch.setattr("garmaxctl.stage.local.api_url", lambda: (dead, ""))
    result, document = cli.json("health")
    assert result.exit_code == 1
    assert_envelope(document, exit_code=1, command="health")
    assert document["error"]["code"] == "unhealthy"
    checks = checks_of(document)
    assert checks["api /api/health"]["status"] == "fail"
    assert checks["api /api/health/storage"]["status"] == "fail"
    assert checks["table Sessions"]["status"] == "ok"  # the rest still reported


def test_health_uses_the_local_gateway_not_the_stack_api_url(local, cli) -> None:
    _, document = cli.json("health")
    url = checks_of(document)["api /api/health"]["data"]["url"]
    assert url == f"{local.api_url}/api/health"
    assert "execute-api" in local.outputs["ApiUrl"]


def test_health_fails_while_a_dlq_holds_a_message(local, cli) -> None:
    sqs = local.client("sqs")
    dlq = local.outputs[str(contract.OutputKey.BILLING_DLQ_URL)]
    sqs.send_message(QueueUrl=dlq, MessageBody="poison from tests/health")
    try:
        result, document = cli.json("health")
        assert result.exit_code == 1
        assert checks_of(document)["queue Billing"]["status"] == "fail"
        assert "in the DLQ" in checks_of(document)["queue Billing"]["detail"]
    finally:
        drain(sqs, dlq)
    assert cli("health").exit_code == 0


def test_health_reports_alarms_in_alarm(local, cli) -> None:
    cloudwatch = local.client("cloudwatch")
    name = contract.alarm_name(contract.Alarm.API_5XX, STAGE)
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    try:
        result, document = cli.json("health")
        assert result.exit_code == 1
        assert document["data"]["status"] == "degraded"
        assert name in checks_of(document)["alarms"]["detail"]
    finally:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="restored")


def test_the_activity_alarm_outside_idle_is_no_fault_nor_news(local, cli) -> None:
    """After any API traffic the activity alarm is in ALARM (its actions off): health and
    status say nothing of it unless the stage is idle (then: traffic while idle)."""
    cloudwatch = local.client("cloudwatch")
    name = contract.alarm_name(contract.Alarm.ACTIVITY, STAGE)
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="traffic")
    try:
        _, document = cli.json("health")
        alarms = checks_of(document)["alarms"]
        assert alarms["status"] == "ok" and alarms["detail"] == "none in ALARM"
        _, document = cli.json("status")
        assert document["data"]["alarms_in_alarm"] == []
    finally:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="restored")


def test_paused_function_is_broken_unless_an_idle_snapshot_exists(local, cli) -> None:
    lambda_client = local.client("lambda")
    name = contract.function_name(contract.Function.BILLING_PROCESSOR, STAGE)
    before = lambda_client.get_function_concurrency(FunctionName=name).get(
        "ReservedConcurrentExecutions")
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    try:
        result, document = cli.json("health")
        assert result.exit_code == 1
        assert checks_of(document)["function BillingProcessor"]["status"] == "fail"
        with idle_snapshot(local):
            result, document = cli.json("health")
            assert result.exit_code == 0, document
            assert checks_of(document)["function BillingProcessor"]["status"] == "idle"
            assert document["data"]["idle"] is True
    finally:
        if before is None:
            lambda_client.delete_function_concurrency(FunctionName=name)
        else:
            lambda_client.put_function_concurrency(FunctionName=name,
                                                   ReservedConcurrentExecutions=before)


def test_health_watch_reruns_and_json_watch_is_a_stream(local, cli, monkeypatch) -> None:
    # --watch under -o json was refused (one document); it is a stream now (issue 12).
    from garmaxctl.commands import health as health_command

    pauses: list[float] = []
    monkeypatch.setattr(health_command, "sleep", pauses.append)  # never wait the interval
    result = cli("health", "--watch", "30", "--count", "2")
    assert result.exit_code == 0
    assert result.stdout.count("LOCAL: healthy") == 2 and pauses == [30]
    result = cli("health", "--watch", "30", "--count", "2", "-o", "json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in events] == ["report", "report", "end"]
    assert all(e["data"]["status"] == "healthy" for e in events[:2])
    assert result.exit_code == 0 and events[-1]["exit_code"] == 0


# --------------------------------------------------------------------------- verify

def test_verify_json_is_one_document_with_every_row_and_a_summary(local, cli) -> None:
    result, document = cli.json("verify")
    assert result.exit_code == 0, result.stdout
    assert_envelope(document, exit_code=0, command="verify")
    rows = document["data"]["rows"]
    assert {r["item"] for r in rows} == VERIFY_ITEMS
    summary = document["data"]["summary"]
    assert summary["total"] == len(rows) == sum(summary[k] for k in
                                                ("pass", "fail", "warn", "skipped"))
    status = {r["item"]: r["status"] for r in rows}
    assert status["try-on workflow end to end"] == "pass"
    assert status["AI render end to end"] == "pass"  # the LOCAL provider, no spend flag
    # What LOCAL cannot have is skipped with its reason, never failed.
    for item in ("TLS certificates of custom domains", "budget notifications",
                 "SMPL processor runs a real image", "secrets are SecureString"):
        assert status[item] == "skipped"
    assert all(r["detail"] for r in rows if r["status"] == "skipped")
    assert summary["fail"] == 0


def test_verify_fails_on_an_expired_certificate(local, cli, tls_server) -> None:
    server = tls_server(days_left=-2)
    result, document = cli.json("verify", "--domain", server.spec,
                                env={"SSL_CERT_FILE": server.cafile})
    assert result.exit_code == 1
    assert_envelope(document, exit_code=1, command="verify")
    assert document["error"]["code"] == "verify_failed"
    [row] = [r for r in document["data"]["rows"] if r["item"].startswith("TLS certificate")]
    assert row["status"] == "fail" and "expired 2 day(s) ago" in row["detail"]


def test_verify_warns_on_a_near_expiry_certificate_without_failing(local, cli,
                                                                     tls_server) -> None:
    server = tls_server(days_left=12)
    result, document = cli.json("verify", "--domain", server.spec,
                                env={"SSL_CERT_FILE": server.cafile})
    [row] = [r for r in document["data"]["rows"] if r["item"].startswith("TLS certificate")]
    assert row["status"] == "warn" and "under 30" in row["detail"]
    assert result.exit_code == 0 and document["data"]["summary"]["warn"] == 1


def test_verify_fails_on_a_public_bucket(local, cli) -> None:
    s3 = local.client("s3")
    bucket = local.outputs[str(contract.OutputKey.GUIDANCE_BUCKET)]
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False})
    try:
        result, document = cli.json("verify")
        assert result.exit_code == 1
        [row] = [r for r in document["data"]["rows"]
                 if r["item"] == "S3 buckets block public access"]
        assert row["status"] == "fail" and "Guidance" in row["detail"] and row["fix"]
    finally:
        s3.delete_public_access_block(Bucket=bucket)


def test_verify_checks_the_stripe_webhook_when_a_secret_is_set(local, cli) -> None:
    ssm = local.client("ssm")
    path = contract.PARAMS_BY_ENV_KEY["STRIPE_WEBHOOK_SECRET"].full_path(STAGE)
    ssm.put_parameter(Name=path, Value=local.WEBHOOK_SECRET, Type="SecureString",
                      Overwrite=True)
    try:
        result, document = cli.json("verify")
        [row] = [r for r in document["data"]["rows"] if r["item"].startswith("Stripe")]
        assert row["status"] == "pass", row
        assert "bad signature: HTTP 400 invalid_signature" in row["detail"]
        assert local.WEBHOOK_SECRET not in result.stdout
    finally:
        ssm.delete_parameter(Name=path)
    _, document = cli.json("verify")
    [row] = [r for r in document["data"]["rows"] if r["item"].startswith("Stripe")]
    assert row["status"] == "skipped"


# --------------------------------------------------------------------------- smoke

def leftovers(local, user: str, ids: list[str]) -> list[str]:
    """Everything that could still name the smoke user or its ids."""
    s3, ddb, sqs = local.client("s3"), local.client("dynamodb"), local.client("sqs")
    found: list[str] = []
    for bucket_key in (contract.OutputKey.UPLOADS_BUCKET, contract.OutputKey.RENDERS_BUCKET):
        bucket = local.outputs[str(bucket_key)]
        for key in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]:
            if user in key:
                found.append(f"s3://{bucket}/{key}")
    for table_key in (contract.OutputKey.SESSIONS_TABLE, contract.OutputKey.RENDER_JOBS_TABLE,
                      contract.OutputKey.QUOTAS_TABLE):
        for item in ddb.scan(TableName=local.outputs[str(table_key)])["Items"]:
            text = json.dumps(item)
            if user in text or any(i in text for i in ids):
                found.append(f"{table_key}: {item['pk']['S']}")
    for queue_key, dlq_key in contract.QUEUE_OUTPUTS.values():
        for url in (local.outputs[str(queue_key)], local.outputs[str(dlq_key)]):
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                               VisibilityTimeout=0).get("Messages", []):
                if user in message["Body"] or any(i in message["Body"] for i in ids):
                    found.append(f"message in {url}")
    return found


def test_smoke_round_trip_leaves_nothing_behind(local, cli) -> None:
    result, document = cli.json("smoke")
    assert result.exit_code == 0, result.stdout
    assert_envelope(document, exit_code=0, command="smoke")
    data = document["data"]
    assert [s["status"] for s in data["steps"]] == ["pass"] * 5
    assert data["session_id"] and data["render_id"] and data["left_behind"] == []
    assert len(data["created"]["objects"]) == 4  # avatar, garment, preview, render
    assert leftovers(local, data["user"], [data["session_id"], data["render_id"]]) == []


def test_failed_smoke_still_cleans_up_its_queued_message(local, cli) -> None:
    """The try-on processor is paused: the session stays queued, smoke times out, and
    its message, item, uploads and quota counter are removed all the same."""
    lambda_client = local.client("lambda")
    name = contract.function_name(contract.Function.TRYON_PROCESSOR, STAGE)
    before = lambda_client.get_function_concurrency(FunctionName=name).get(
        "ReservedConcurrentExecutions")
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    time.sleep(1.5)  # the local worker notices the pause on its next poll
    try:
        result, document = cli.json("smoke", "--timeout", "3")
        data = document["data"]
        assert result.exit_code == 1
        assert document["error"]["code"] == "smoke_failed"
        assert data["steps"][-1]["name"] == "preview ready"
        assert data["steps"][-1]["status"] == "fail"
        assert any("queue message" in c for c in data["cleaned"]), data["cleaned"]
        assert data["left_behind"] == []
        assert leftovers(local, data["user"], [data["session_id"]]) == []
    finally:
        if before is None:
            lambda_client.delete_function_concurrency(FunctionName=name)
        else:
            lambda_client.put_function_concurrency(FunctionName=name,
                                                   ReservedConcurrentExecutions=before)


def test_smoke_refuses_an_idle_stage(local, cli) -> None:
    with idle_snapshot(local):
        result, document = cli.json("smoke")
    assert result.exit_code == 1 and document["error"]["code"] == "stage_idle"


# --------------------------------------------------------------------------- status

def test_status_shows_version_health_idle_and_spend(local, cli) -> None:
    result, document = cli.json("status")
    assert result.exit_code == 0, result.stdout
    assert_envelope(document, exit_code=0, command="status")
    data = document["data"]
    marker = json.loads(local.client("ssm").get_parameter(
        Name=contract.ops_prefix(STAGE) + contract.DEPLOY_MARKER_PARAM)["Parameter"]["Value"])
    assert data["version"] == marker["git_sha"]
    assert data["health"] == "healthy" and data["idle"] is False
    assert data["alarms_in_alarm"] == []
    assert data["spend"]["budget_usd"] == 200.0 and data["spend"]["level"] in ("closed",
                                                                               "warn")
    with idle_snapshot(local):
        _, document = cli.json("status")
    assert document["data"]["idle"] is True
    assert document["data"]["idle_since"] == "2026-01-01T00:00:00Z"
