"""Fixtures for the runtime handlers: a moto-backed stage, Powertools quiet, caches fresh.

``stack`` creates, inside ``mock_aws``, what the CDK app would: the six tables of
``contract.TABLES``, the buckets, the three queues, the stage's bus with the
``contract.RULES`` (the ``RenderRequested`` rule targets the render queue) and the
secrets in Parameter Store (canary values, so a leak is recognisable). It sets the
environment variables the CDK app passes, names only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from moto import mock_aws
from rt_helpers import CANARIES, PREFIX, PRICES, STAGE

from garmaxctl.shared import contract


@pytest.fixture(autouse=True)
def _runtime_isolation(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "garmaxai-test")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "GarmaxAITest")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "INFO")
    for name in (*(t.env_var for t in contract.TABLES),
                 *(b.env_var for b in contract.BUCKETS if b.env_var),
                 *(e.value for e in contract.RuntimeEnv)):
        monkeypatch.delenv(name, raising=False)
    from runtime import config

    # Parameter caches are per test; boto3 clients are kept (moto intercepts them in any
    # mock_aws context, and building clients is most of a test's cost).
    config.clear_caches()
    yield
    config.clear_caches()


@dataclass
class Stack:
    """Names and clients of the moto-backed stage."""

    env: dict[str, str]
    queues: dict[str, str] = field(default_factory=dict)  # Tryon/Render/Billing -> URL
    ddb: Any = None
    s3: Any = None
    sqs: Any = None
    ssm: Any = None
    events: Any = None

    def table(self, name: str) -> str:
        return self.env[next(t.env_var for t in contract.TABLES if t.name == name)]

    def bucket(self, name: str) -> str:
        return self.env[next(b.env_var for b in contract.BUCKETS if b.name == name)]

    def receive(self, queue: str, max_messages: int = 10) -> list[dict[str, Any]]:
        """Every message now in ``queue`` (received, not deleted; visibility 0)."""
        out: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(
                QueueUrl=self.queues[queue], MaxNumberOfMessages=max_messages,
                VisibilityTimeout=30, AttributeNames=["All"]).get("Messages", [])
            if not got:
                return out
            out.extend(got)

    def as_records(self, queue: str) -> list[dict[str, Any]]:
        """The queue's messages as Lambda SQS records (the local worker's job)."""
        from runtime.testing import queue_arn

        records = []
        for m in self.receive(queue):
            records.append({
                "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"], "attributes": m.get("Attributes", {}),
                "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs", "eventSourceARN": queue_arn(queue),
                "awsRegion": "us-east-1"})
        return records

    def item(self, table: str, **key: str) -> dict[str, Any] | None:
        from runtime.domain.ddb import from_item, to_item

        got = self.ddb.get_item(TableName=self.table(table), Key=to_item(key),
                                ConsistentRead=True)
        return from_item(got.get("Item"))

    def scan(self, table: str) -> list[dict[str, Any]]:
        from runtime.domain.ddb import from_item

        return [from_item(i) for i in self.ddb.scan(TableName=self.table(table))["Items"]]

    def put_param(self, path: str, value: str, secret: bool = False) -> None:
        self.ssm.put_parameter(Name=PREFIX + path, Value=value, Overwrite=True,
                               Type="SecureString" if secret else "String")
        from runtime import config

        config.clear_caches()


def _create_stack(monkeypatch: pytest.MonkeyPatch) -> Stack:
    from runtime import aws

    # The runtime's own cached clients: service models load once per test run (mock_aws
    # resets boto3's default session, so boto3.client() would reload them every test).
    ddb, s3, sqs, ssm, events = (aws.client(s)
                                 for s in ("dynamodb", "s3", "sqs", "ssm", "events"))
    env: dict[str, str] = {
        contract.RuntimeEnv.STAGE: STAGE,
        contract.RuntimeEnv.VERSION: "1.2.3-test",
        contract.RuntimeEnv.PARAMS_PREFIX: PREFIX,
    }
    for spec in contract.TABLES:
        name = f"test-{spec.name}"
        keys = [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
        attrs = [{"AttributeName": spec.partition_key, "AttributeType": "S"}]
        if spec.sort_key:
            keys.append({"AttributeName": spec.sort_key, "KeyType": "RANGE"})
            attrs.append({"AttributeName": spec.sort_key, "AttributeType": "S"})
        ddb.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=attrs,
                         BillingMode="PAY_PER_REQUEST")
        env[spec.env_var] = name
    for spec in contract.BUCKETS:
        if spec.env_var:
            name = f"test-{spec.name.lower()}"
            s3.create_bucket(Bucket=name)
            env[spec.env_var] = name
    queues = {}
    for queue, var in ((contract.Queue.TRYON, contract.RuntimeEnv.TRYON_QUEUE_URL),
                       (contract.Queue.RENDER, contract.RuntimeEnv.RENDER_QUEUE_URL),
                       (contract.Queue.BILLING, contract.RuntimeEnv.BILLING_QUEUE_URL)):
        url = sqs.create_queue(QueueName=str(queue))["QueueUrl"]
        queues[str(queue)] = url
        env[var] = url
    bus = contract.event_bus_name(STAGE)
    events.create_event_bus(Name=bus)
    env[contract.RuntimeEnv.EVENT_BUS_NAME] = bus
    for rule in contract.RULES:
        name = contract.rule_name(rule, STAGE)
        events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(
            {"source": [rule.source], "detail-type": [d.value for d in rule.detail_types]}))
        if rule.target_queue is not None:
            arn = sqs.get_queue_attributes(QueueUrl=queues[str(rule.target_queue)],
                                           AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    for path, value in CANARIES.items():
        ssm.put_parameter(Name=PREFIX + path, Value=value, Type="SecureString")
    for path, value in PRICES.items():
        ssm.put_parameter(Name=PREFIX + path, Value=value, Type="String")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Stack(env=env, queues=queues, ddb=ddb, s3=s3, sqs=sqs, ssm=ssm, events=events)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    with mock_aws():
        yield _create_stack(monkeypatch)


@pytest.fixture
def serialized_dynamodb(monkeypatch: pytest.MonkeyPatch) -> threading.Lock:
    """Serialise moto's DynamoDB writes, as DynamoDB itself does per item.

    moto's backend does not lock: two threads can both read ``used = 19`` and both pass a
    ``used < 20`` condition. DynamoDB guarantees conditional writes to one item are
    serialised; this lock around moto's ``update_item``/``transact_write_items``/
    ``put_item`` models that guarantee (it does not change what the runtime sends).
    """
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for method in ("update_item", "transact_write_items", "put_item", "delete_item"):
        original = getattr(DynamoDBBackend, method)

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, method, locked)
    return lock


@pytest.fixture
def ctx() -> Any:
    from runtime.testing import LambdaContext

    return LambdaContext(function_name="GarmaxAi-Test-LOCAL")
