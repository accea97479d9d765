"""AiRenderProcessor and the budget breaker: thresholds at their edges, provider fallback."""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from rt_helpers import USER, call_api, drain, load_event, ready_session

from runtime.domain import budget
from runtime.domain.budget import BreakerLevel
from runtime.domain.ddb import to_item
from runtime.handlers import render_processor
from runtime.providers.base import (
    PermanentProviderError,
    RenderOutput,
    TransientProviderError,
)
from runtime.testing import LambdaContext, sqs_event

TODAY_BUDGET = 200.0  # LOCAL's DAILY_BUDGET_USD default


@dataclass
class FakeProvider:
    name: str
    outcomes: list = field(default_factory=lambda: ["ok"])
    cost: float = 0.5
    calls: int = 0

    def estimate_cost(self, quality):
        return self.cost

    def render(self, request, *, timeout_s):
        self.calls += 1
        outcome = self.outcomes[min(self.calls - 1, len(self.outcomes) - 1)]
        if outcome == "transient":
            raise TransientProviderError(self.name, "HTTP 503", status=503)
        if outcome == "permanent":
            raise PermanentProviderError(self.name, "HTTP 400", status=400)
        if outcome == "crash":
            raise RuntimeError("an SDK bug, neither transient nor permanent")
        return RenderOutput(self.name, b"\x89PNG-" + self.name.encode(), "image/png", self.cost)


@pytest.fixture
def fakes(monkeypatch):
    """Every provider replaced by a fake; ``fakes[name]`` to script it."""
    from runtime.domain import renders

    made = {n: FakeProvider(n) for n in ("replicate", "gemini", "bedrock", "local")}
    monkeypatch.setattr(renders, "build_provider", lambda name, config: made.get(name))
    return made


def seed_spend(stack, usd, provider=None):
    """Put today's ledger at ``usd`` (total, and one provider's if named)."""
    from runtime.domain.clock import day_of, utcnow

    pk = budget.ledger_pk("LOCAL", day_of(utcnow()))
    micros = budget.to_micros(usd)
    stack.ddb.put_item(TableName=stack.table("BudgetLedger"),
                       Item=to_item({"pk": pk, "sk": "TOTAL", "spentMicros": micros}))
    if provider:
        stack.ddb.put_item(TableName=stack.table("BudgetLedger"), Item=to_item(
            {"pk": pk, "sk": f"PROVIDER#{provider}", "spentMicros": micros}))


def state(stack):
    from runtime.domain.clock import day_of, utcnow

    return budget.breaker_state(stack.table("BudgetLedger"), "LOCAL", day_of(utcnow()),
                                stack.ddb)


def submit(stack, quality="hd"):
    session_id = ready_session(stack)
    status, body = call_api("POST", "/api/render", {"sessionId": session_id, "quality": quality})
    assert status == 202, body
    return body["renderId"]


def job(stack, render_id):
    return stack.item("RenderJobs", pk=f"RENDER#{render_id}")


def quota(stack, pk):
    item = stack.item("Quotas", pk=pk)
    return item["used"] if item else 0


def process(stack):
    return drain(stack, "Render", render_processor.lambda_handler)


# --------------------------------------------------------------------------- thresholds

@pytest.mark.parametrize(("percent", "level"), [
    ("0", BreakerLevel.CLOSED),
    ("79.9", BreakerLevel.CLOSED),
    ("79.9999995", BreakerLevel.CLOSED),  # 159.999999 USD: one micro-dollar below 80%
    ("80", BreakerLevel.WARN),
    ("89.9", BreakerLevel.WARN),
    ("90", BreakerLevel.BEDROCK_OFF),
    ("99.9", BreakerLevel.BEDROCK_OFF),
    ("100", BreakerLevel.OPEN),
    ("130", BreakerLevel.OPEN),
])
def test_breaker_levels_at_their_edges(stack, percent, level):
    from decimal import Decimal

    seed_spend(stack, Decimal(percent) * 2)  # budget 200: 1% = 2 USD
    got = state(stack)
    assert got.level is level
    assert got.warn is (level is not BreakerLevel.CLOSED)
    assert got.bedrock_enabled is (level in (BreakerLevel.CLOSED, BreakerLevel.WARN))
    assert got.rendering_enabled is (level is not BreakerLevel.OPEN)


def test_breaker_state_reads_budgets_from_parameter_store(stack):
    from runtime.config import load_budgets, load_config

    stack.put_param("budget/daily-usd", "10")
    seed_spend(stack, 8)
    budgets = load_budgets(load_config())
    assert budgets.daily_usd == 10.0 and budgets.bedrock_daily_usd == 50.0  # default kept
    from runtime.domain.clock import day_of, utcnow

    got = budget.breaker_state(stack.table("BudgetLedger"), "LOCAL", day_of(utcnow()),
                               stack.ddb, budgets)
    assert got.level is BreakerLevel.WARN and got.percent == 80.0
    assert got.to_dict()["level"] == "warn"


@pytest.mark.parametrize(("percent", "expected"), [
    ("89.99", "bedrock"),
    ("90", "replicate"),
])
def test_bedrock_is_replaced_by_replicate_from_90_percent(stack, fakes, monkeypatch,
                                                         percent, expected):
    from decimal import Decimal

    monkeypatch.setenv("RENDER_PROVIDER", "bedrock")
    render_id = submit(stack)
    seed_spend(stack, Decimal(percent) * 2)
    assert process(stack) == []
    assert job(stack, render_id)["provider"] == expected
    assert fakes["bedrock"].calls == (1 if expected == "bedrock" else 0)


def test_at_100_percent_api_refuses_and_nothing_is_written(stack, fakes):
    session_id = ready_session(stack)
    seed_spend(stack, TODAY_BUDGET)
    status, body = call_api("POST", "/api/render", {"sessionId": session_id, "quality": "sd"})
    assert (status, body["code"]) == (503, "budget_breaker_open")
    assert stack.scan("RenderJobs") == []
    assert [q for q in stack.scan("Quotas") if not q["pk"].startswith("TRYON#")] == []


def test_at_100_percent_a_queued_render_fails_and_gives_its_quota_back(stack, fakes):
    from runtime.domain.clock import day_of, utcnow

    render_id = submit(stack)
    day = day_of(utcnow())
    assert quota(stack, f"RENDER#{USER}#{day}") == 1 and quota(stack, f"ACTIVE#{USER}") == 1
    seed_spend(stack, TODAY_BUDGET)
    assert process(stack) == []
    got = job(stack, render_id)
    assert got["status"] == "failed" and got["error"]["code"] == "budget_breaker_open"
    assert quota(stack, f"RENDER#{USER}#{day}") == 0 and quota(stack, f"ACTIVE#{USER}") == 0
    assert all(f.calls == 0 for f in fakes.values())


def test_crossing_80_percent_warns_with_an_event(stack, fakes, monkeypatch, caplog):
    monkeypatch.setenv("RENDER_PROVIDER", "replicate")
    arn = stack.sqs.get_queue_attributes(
        QueueUrl=stack.sqs.create_queue(QueueName="alerts")["QueueUrl"],
        AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.events.put_targets(Rule="GarmaxAi-BudgetAlerts-LOCAL",
                             EventBusName="GarmaxAi-Tryon-LOCAL",
                             Targets=[{"Id": "alerts", "Arn": arn}])
    submit(stack)
    seed_spend(stack, 159.8)  # 79.9%: + 0.5 USD -> 80.15%
    assert process(stack) == []
    url = stack.sqs.get_queue_url(QueueName="alerts")["QueueUrl"]
    [message] = stack.sqs.receive_message(QueueUrl=url).get("Messages", [])
    event = json.loads(message["Body"])
    assert (event["source"], event["detail-type"]) == ("garmaxai.billing",
                                                       "BudgetThresholdCrossed")
    assert event["detail"]["level"] == "warn"
    assert state(stack).level is BreakerLevel.WARN


def test_below_80_percent_no_threshold_event(stack, fakes, monkeypatch):
    monkeypatch.setenv("RENDER_PROVIDER", "replicate")
    arn = stack.sqs.get_queue_attributes(
        QueueUrl=stack.sqs.create_queue(QueueName="alerts")["QueueUrl"],
        AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.events.put_targets(Rule="GarmaxAi-BudgetAlerts-LOCAL",
                             EventBusName="GarmaxAi-Tryon-LOCAL",
                             Targets=[{"Id": "alerts", "Arn": arn}])
    submit(stack)
    seed_spend(stack, 159.0)  # 79.5% + 0.5 USD = 79.75%
    assert process(stack) == []
    url = stack.sqs.get_queue_url(QueueName="alerts")["QueueUrl"]
    assert stack.sqs.receive_message(QueueUrl=url).get("Messages", []) == []


# --------------------------------------------------------------------------- failover

def test_transient_error_fails_over_and_only_the_winner_is_charged(stack, fakes, monkeypatch):
    monkeypatch.setenv("RENDER_PROVIDER", "bedrock")
    fakes["bedrock"].outcomes = ["transient"]
    render_id = submit(stack)
    assert process(stack) == []
    got = job(stack, render_id)
    assert (got["status"], got["provider"]) == ("completed", "replicate")
    now = state(stack)
    assert now.provider("bedrock").spent_usd == 0 and now.provider("replicate").spent_usd == 0.5
    assert now.spent_usd == 0.5 and now.renders == 1


def test_provider_over_its_own_budget_is_skipped(stack, fakes, monkeypatch):
    monkeypatch.setenv("RENDER_PROVIDER", "replicate")
    seed_spend(stack, 150.0, provider="replicate")  # REPLICATE_DAILY_BUDGET_USD reached
    render_id = submit(stack)
    assert process(stack) == []
    assert job(stack, render_id)["provider"] == "gemini"
    assert fakes["replicate"].calls == 0


def test_permanent_error_fails_without_failover_and_refunds(stack, fakes, monkeypatch):
    from runtime.domain.clock import day_of, utcnow

    monkeypatch.setenv("RENDER_PROVIDER", "replicate")
    fakes["replicate"].outcomes = ["permanent"]
    render_id = submit(stack)
    assert process(stack) == []
    got = job(stack, render_id)
    assert got["status"] == "failed" and got["error"]["code"] == "provider_error"
    assert fakes["gemini"].calls == 0 and state(stack).spent_usd == 0
    assert quota(stack, f"RENDER#{USER}#{day_of(utcnow())}") == 0


def test_all_providers_transient_retries_then_fails_on_the_last_receive(stack, fakes,
                                                                         monkeypatch):
    from runtime.domain.clock import day_of, utcnow

    monkeypatch.setenv("RENDER_PROVIDER", "replicate")
    for fake in fakes.values():
        fake.outcomes = ["transient"]
    render_id = submit(stack)
    [message] = stack.receive("Render")
    event = sqs_event(message["Body"], receive_count=1)
    result = render_processor.lambda_handler(event, LambdaContext())
    assert len(result["batchItemFailures"]) == 1
    assert job(stack, render_id)["status"] == "processing"
    assert quota(stack, f"ACTIVE#{USER}") == 1 and state(stack).spent_usd == 0
    event = sqs_event(message["Body"], receive_count=3)
    result = render_processor.lambda_handler(event, LambdaContext())
    assert result == {"batchItemFailures": []}
    got = job(stack, render_id)
    assert got["status"] == "failed" and got["error"]["code"] == "providers_unavailable"
    assert quota(stack, f"ACTIVE#{USER}") == 0
    assert quota(stack, f"RENDER#{USER}#{day_of(utcnow())}") == 0


def test_gemini_traffic_percent_routes_by_stable_user_hash(stack, fakes, monkeypatch):
    from runtime.providers.router import traffic_bucket

    monkeypatch.setenv("RENDER_PROVIDER", "replicate")
    monkeypatch.setenv("GEMINI_TRAFFIC_PERCENT", str(traffic_bucket(USER) + 1))
    render_id = submit(stack)
    assert process(stack) == []
    assert job(stack, render_id)["provider"] == "gemini"
    monkeypatch.setenv("GEMINI_TRAFFIC_PERCENT", str(traffic_bucket(USER)))
    render_id = submit(stack)
    assert process(stack) == []
    assert job(stack, render_id)["provider"] == "replicate"


def test_unconfigured_provider_secret_is_skipped(stack, monkeypatch):
    """Real registry: Replicate's key missing -> Gemini, which the fake transport answers."""
    from runtime.providers import registry

    monkeypatch.setenv("RENDER_PROVIDER", "replicate")
    stack.ssm.delete_parameter(Name="/garmaxai/LOCAL/replicate/api-key")
    built = []

    def factory(name, config):
        provider = registry.build_provider(name, config)
        built.append((name, provider is not None))
        return FakeProvider(name) if provider is not None else None

    from runtime.domain import renders

    monkeypatch.setattr(renders, "build_provider", factory)
    render_id = submit(stack)
    assert process(stack) == []
    assert built[:2] == [("replicate", False), ("gemini", True)]
    assert job(stack, render_id)["provider"] == "gemini"


# --------------------------------------------------------------------------- messages

def test_unknown_detail_type_and_malformed_bodies_are_batch_failures(stack, fakes):
    render_id = submit(stack)
    [message] = stack.receive("Render")
    wrong = load_event("render_requested_event.json") | {"detail-type": "RenderCompleted"}
    other_source = load_event("render_requested_event.json") | {"source": "evil.source"}
    event = sqs_event(json.dumps(wrong), "{bad", json.dumps(other_source), message["Body"],
                      json.dumps({"renderId": "x"}))
    result = render_processor.lambda_handler(event, LambdaContext())
    ids = [r["messageId"] for r in event["Records"]]
    assert result["batchItemFailures"] == [{"itemIdentifier": ids[i]} for i in (0, 1, 2, 4)]
    assert job(stack, render_id)["status"] == "completed"


def test_render_event_for_an_unknown_job_fails(stack, fakes):
    body = json.dumps(load_event("render_requested_event.json"))
    result = render_processor.lambda_handler(sqs_event(body), LambdaContext())
    assert len(result["batchItemFailures"]) == 1


def test_redelivery_of_a_completed_render_does_not_charge_twice(stack, fakes):
    render_id = submit(stack)
    [message] = stack.receive("Render")
    for _ in range(2):
        result = render_processor.lambda_handler(sqs_event(message["Body"]), LambdaContext())
        assert result == {"batchItemFailures": []}
    assert job(stack, render_id)["status"] == "completed"
    assert fakes["local"].calls == 1 and state(stack).renders == 1


def test_breaker_state_accepts_a_boto3_resource_for_the_cli(stack):
    from runtime import aws
    from runtime.domain.clock import day_of, utcnow

    seed_spend(stack, 181)
    resource = aws.session().resource("dynamodb", region_name="us-east-1")
    got = budget.breaker_state(stack.table("BudgetLedger"), "LOCAL", day_of(utcnow()), resource)
    assert got.level is BreakerLevel.BEDROCK_OFF and got.percent == 90.5
    assert got.to_dict()["bedrock_enabled"] is False


# --------------------------------------------------------------------------- after the provider
# Failures the SQS retries cannot repair by calling the paid provider again. An error is
# injected as AWS answers it, through a botocore ``before-call`` hook on the runtime's client.

@contextmanager
def aws_error(client, operation, code, status, *, when=lambda params: True, times=None):
    """``operation`` answers ``code``/``status`` (``times`` times, if given) while inside."""
    from botocore.awsrequest import AWSResponse

    left = [times]

    def answer(params, **kwargs):
        if left[0] == 0 or not when(params):
            return None
        if left[0] is not None:
            left[0] -= 1
        return (AWSResponse(params.get("url", ""), status, {}, None),
                {"Error": {"Code": code, "Message": f"injected {code}"},
                 "ResponseMetadata": {"HTTPStatusCode": status}})

    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    client.meta.events.register(event, answer)
    try:
        yield
    finally:
        client.meta.events.unregister(event, answer)


def deliver(body, receive_count):
    return render_processor.lambda_handler(sqs_event(body, receive_count=receive_count),
                                           LambdaContext())


def slots(stack):
    from runtime.domain.clock import day_of, utcnow

    return (quota(stack, f"ACTIVE#{USER}"), quota(stack, f"RENDER#{USER}#{day_of(utcnow())}"))


def test_store_failure_after_a_paid_render_never_pays_twice_and_frees_the_job(
        stack, fakes, monkeypatch):
    monkeypatch.setenv("RENDER_PROVIDER", "replicate")
    render_id = submit(stack)
    [message] = stack.receive("Render")
    with aws_error(stack.s3, "PutObject", "AccessDenied", 403):
        for attempt in (1, 2, 3):  # a retry, a duplicate: none may call the provider again
            deliver(message["Body"], attempt)
    assert fakes["replicate"].calls == 1
    got = job(stack, render_id)
    assert (got["status"], got["error"]["code"]) == ("failed", "render_not_stored")
    assert got["providerResult"]["costUsd"] == 0.5  # what the lost render cost
    assert slots(stack) == (0, 0)
    now = state(stack)  # the one paid call stays on the ledger, once
    assert (now.spent_usd, now.renders) == (0.5, 1)
    assert now.provider("replicate").spent_usd == 0.5


def test_retry_after_a_paid_render_resumes_from_the_stored_result(stack, fakes, monkeypatch):
    monkeypatch.setenv("RENDER_PROVIDER", "replicate")
    render_id = submit(stack)
    [message] = stack.receive("Render")
    completing = lambda params: b'"completed"' in params.get("body", b"")  # noqa: E731
    with aws_error(stack.ddb, "TransactWriteItems", "InternalServerError", 500,
                   when=completing, times=1):
        first = deliver(message["Body"], 1)
    assert len(first["batchItemFailures"]) == 1
    assert job(stack, render_id)["status"] == "processing"
    assert deliver(message["Body"], 2) == {"batchItemFailures": []}
    got = job(stack, render_id)
    assert (got["status"], got["provider"], got["costUsd"]) == ("completed", "replicate", 0.5)
    assert fakes["replicate"].calls == 1
    assert (state(stack).spent_usd, state(stack).renders) == (0.5, 1)
    assert slots(stack) == (0, 1)
    stored = stack.s3.get_object(Bucket=stack.bucket("Renders"), Key=got["renderKey"])
    assert stored["Body"].read() == b"\x89PNG-replicate"


def test_last_attempt_failure_before_the_provider_fails_the_job_and_frees_the_slot(
        stack, fakes, monkeypatch):
    monkeypatch.setenv("RENDER_PROVIDER", "replicate")  # reads the preview from S3
    render_id = submit(stack)
    [message] = stack.receive("Render")
    with aws_error(stack.s3, "GetObject", "AccessDenied", 403):
        for attempt in (1, 2):
            assert len(deliver(message["Body"], attempt)["batchItemFailures"]) == 1
            assert job(stack, render_id)["status"] == "processing"
            assert slots(stack) == (1, 1)
        last = deliver(message["Body"], 3)
    assert len(last["batchItemFailures"]) == 1  # still reported: the DLQ keeps the evidence
    got = job(stack, render_id)
    assert (got["status"], got["error"]["code"]) == ("failed", "render_failed")
    assert slots(stack) == (0, 0)
    assert deliver(message["Body"], 3) == {"batchItemFailures": []}  # a duplicate: skipped
    assert slots(stack) == (0, 0)
    assert fakes["replicate"].calls == 0 and state(stack).spent_usd == 0


def test_unexpected_provider_error_is_refunded_and_fails_on_the_last_attempt(
        stack, fakes, monkeypatch):
    monkeypatch.setenv("RENDER_PROVIDER", "replicate")
    fakes["replicate"].outcomes = ["crash"]
    render_id = submit(stack)
    [message] = stack.receive("Render")
    for attempt in (1, 2, 3):
        assert len(deliver(message["Body"], attempt)["batchItemFailures"]) == 1
    got = job(stack, render_id)
    assert (got["status"], got["error"]["code"]) == ("failed", "render_failed")
    assert fakes["replicate"].calls == 3  # nothing was delivered, so each retry may try
    now = state(stack)  # each reservation refunded exactly once
    assert (now.spent_usd, now.renders, now.provider("replicate").spent_usd) == (0, 0, 0)
    assert slots(stack) == (0, 0)


def test_retry_after_an_attempt_died_between_payment_and_store_fails_without_paying(
        stack, fakes, monkeypatch):
    """What an invocation killed after recording the provider's result leaves behind."""
    from runtime.domain.ddb import values

    monkeypatch.setenv("RENDER_PROVIDER", "replicate")
    render_id = submit(stack)
    [message] = stack.receive("Render")
    stack.ddb.update_item(
        TableName=stack.table("RenderJobs"), Key={"pk": {"S": f"RENDER#{render_id}"}},
        UpdateExpression="SET #s = :p, providerResult = :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues=values({":p": "processing", ":r": {
            "provider": "replicate", "costUsd": 0.5, "contentType": "image/png"}}))
    assert deliver(message["Body"], 2) == {"batchItemFailures": []}
    got = job(stack, render_id)
    assert (got["status"], got["error"]["code"], got["costUsd"]) == (
        "failed", "render_not_stored", 0.5)
    assert fakes["replicate"].calls == 0 and slots(stack) == (0, 0)
