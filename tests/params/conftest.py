"""Fixtures for ``garmaxctl params``: a real stage (DEV/PROD) under ``mock_aws``, LOCAL
through the real embedded emulator, a counter of SSM calls, and fault injection."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.cli.conftest import (  # noqa: F401
    Run,
    assert_envelope,
    cli,
    project,
    write_env,
)

MOTO_ACCOUNT = "123456789012"
CANARY = "canary-5ecret-7f3a9c-never-print"

# For the registry walkers (tests/cli): a LOCAL export of two parameters, encrypted to a
# test-only age key (data/walker-identity.txt), and that key's public half.
DATA = Path(__file__).parent / "data"
WALKER_EXPORT = DATA / "walker-export.age"
WALKER_IDENTITY = DATA / "walker-identity.txt"
WALKER_RECIPIENT = "age14h2lny5ed230uuh5s39wztn22kdmu8eyn5rxw2dm9093c2z4wsdq4rhp47"

# Every mapped key with a valid, non-placeholder value: multi-line JSON, `=`/`#`/quotes
# and backslashes, URLs with query strings. JWT_SECRET is the canary.
GEMINI_JSON = """{
  "type": "service_account",
  "project_id": "garmax-demo",
  "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIBVgIBADANBg==\\n-----END PRIVATE KEY-----\\n",
  "client_email": "svc@garmax-demo.iam.gserviceaccount.com"
}"""

VALUES: dict[str, str] = {
    "REPLICATE_API_KEY": "r8_live0123456789abcdef",
    "STRIPE_SECRET_KEY": "sk_test_51Habc=def#ghi",
    "STRIPE_WEBHOOK_SECRET": "whsec_0123456789abcdef",
    "STRIPE_PRICE_BASIC_MONTHLY": "price_basic01",
    "STRIPE_PRICE_PRO_MONTHLY": "price_pro02",
    "STRIPE_PRICE_UNLIMITED_MONTHLY": "price_unl03",
    "STRIPE_STARTER_PRICE_ID": "price_start04",
    "COGNITO_USER_POOL_ID": "us-east-1_AbCdEf",
    "COGNITO_CLIENT_ID": "4abc123clientid",
    "DATABASE_URL": "mysql://admin:p%40ss=w#rd@db.example.com:3306/garmax?ssl=true&x=1",
    "REDIS_URL": "rediss://:tok=en#1@cache.example.com:6379/0",
    "RDS_HOST": "db.example.com",
    "RDS_USERNAME": "admin",
    "RDS_PASSWORD": "it's \"quoted\" = #not-a-comment \\ back\\slash $HOME ${USER}",
    "JWT_SECRET": CANARY,
    "REPLICATE_DAILY_BUDGET_USD": "150",
    "MAX_RENDERS_PER_USER_DAILY": "20",
    "FRONTEND_URL": "https://app.example.com/path?a=1&b=2#frag",
    "DAILY_BUDGET_USD": "200",
    "ALERT_EMAIL": "ops@example.com",
    "AWS_ACCOUNT_ID": "123456789012",
    "UPLOADS_BUCKET_NAME": "garmax-uploads",
    "RENDERS_BUCKET_NAME": "garmax-renders",
    "GUIDANCE_BUCKET_NAME": "garmax-guidance",
    "SMPL_ASSETS_BUCKET_NAME": "garmax-smpl",
    "GEMINI_API_KEY": "AIzaSyA-gemini=key",
    "GEMINI_API_ENDPOINT": "https://generativelanguage.googleapis.com/v1beta?key=a=b",
    "GEMINI_DAILY_BUDGET_USD": "50",
    "GEMINI_MAX_BATCH_SIZE": "4",
    "GEMINI_SERVICE_ACCOUNT_JSON": GEMINI_JSON,
    "INTERNAL_API_KEY": "int-key-'single'-\"double\"",
    "BEDROCK_DAILY_BUDGET_USD": "50",
    "MAX_TRYONS_PER_USER_DAILY": "50",
    "MAX_CONCURRENT_RENDERS_PER_USER": "3",
}


def env_text(values: dict[str, str], extra: str = "") -> str:
    """A .env as a person writes it (python-dotenv syntax), from the values."""
    from garmaxctl.services.params import to_dotenv

    return "# team .env\nAWS_REGION=us-east-1\n" + to_dotenv(values) + extra


@pytest.fixture
def full_env(write_env: Callable[..., Path]) -> Path:  # noqa: F811
    return write_env(env_text(VALUES))


def a_moment() -> str:
    """Now, as an ISO timestamp, with a little time on either side (for --as-of)."""
    time.sleep(0.05)
    moment = dt.datetime.now(dt.UTC).isoformat()
    time.sleep(0.05)
    return moment


# ----------------------------------------------------------------------------- stages

@dataclass
class Target:
    """Where a test's params commands go: the stage flag and a client to check state."""

    stage: str
    ssm: Any

    @property
    def args(self) -> list[str]:
        return ["-s", self.stage]

    def prefix(self) -> str:
        return f"/garmaxai/{self.stage}/"

    def tier(self, path: str) -> str:
        found = self.ssm.describe_parameters(ParameterFilters=[
            {"Key": "Name", "Option": "Equals", "Values": [path]}])["Parameters"]
        return str(found[0]["Tier"])

    def tree(self) -> dict[str, dict]:
        found: dict[str, dict] = {}
        pages = self.ssm.get_paginator("get_parameters_by_path").paginate(
            Path=self.prefix(), Recursive=True, WithDecryption=True)
        for page in pages:
            for item in page["Parameters"]:
                found[item["Name"]] = item
        return found


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Real stages under moto's in-process mock, with moto's account as the stage's."""
    from moto import mock_aws

    for stage in ("DEV", "QA", "PROD"):
        monkeypatch.setenv(f"GARMAX_{stage}_ACCOUNT", MOTO_ACCOUNT)
    with mock_aws():
        yield


@pytest.fixture
def dev(mocked: None) -> Target:
    return Target("DEV", boto3.client("ssm", region_name="us-east-1"))


@pytest.fixture
def prod(mocked: None) -> Target:
    return Target("PROD", boto3.client("ssm", region_name="us-east-1"))


@pytest.fixture
def local(emulator_port: int, monkeypatch: pytest.MonkeyPatch) -> Target:
    from garmaxctl.local import server

    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(emulator_port))
    endpoint = f"http://localhost:{emulator_port}"
    server.reset(endpoint)
    return Target("LOCAL", boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1",
                                        aws_access_key_id="testing",
                                        aws_secret_access_key="testing"))


@pytest.fixture(params=["LOCAL", "DEV"])
def target(request: pytest.FixtureRequest) -> Target:
    """Both paths: the embedded emulator (LOCAL) and a real stage under mock_aws (DEV)."""
    return request.getfixturevalue(request.param.lower())


# ----------------------------------------------------------------------------- calls

@dataclass
class Calls:
    """SSM operations garmaxctl's clients made: logical calls and HTTP attempts."""

    calls: list[str] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    hooks: list[tuple[str, Callable[..., Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, operation: str) -> int:
        return Counter(self.calls)[operation]

    @property
    def writes(self) -> list[str]:
        return [c for c in self.calls if c in ("PutParameter", "DeleteParameter",
                                               "DeleteParameters", "LabelParameterVersion")]

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.attempts.clear()

    def on_send(self, operation: str, handler: Callable[[dict], Any]) -> None:
        """``handler(request_body) -> AWSResponse | None`` runs before each HTTP attempt."""
        self.hooks.append((operation, handler))


@pytest.fixture
def ssm_calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Count (and optionally intercept) the SSM calls of every client garmaxctl makes."""
    from garmaxctl.aws import AwsTarget

    calls = Calls()
    original = AwsTarget.client

    def before_call(model: Any, **_: Any) -> None:
        with calls.lock:
            calls.calls.append(model.name)

    def before_send(request: Any, event_name: str, **_: Any) -> Any:
        operation = event_name.rsplit(".", 1)[-1]
        with calls.lock:
            calls.attempts.append(operation)
        body = json.loads(request.body or b"{}")
        for name, handler in calls.hooks:
            if name == operation:
                response = handler(body)
                if response is not None:
                    # botocore calls every before-send handler and keeps the first answer:
                    # aim this attempt elsewhere so moto's stubber (mock_aws) ignores it.
                    request.url = "http://injected.invalid/"
                    return response
        return None

    def client(self: AwsTarget, service: str, **config: Any) -> Any:
        made = original(self, service, **config)
        if service == "ssm" and not getattr(made, "_params_counted", False):
            made.meta.events.register("before-call.ssm", before_call)
            # First, so it runs before moto's own before-send stubber (mock_aws).
            made.meta.events.register_first("before-send.ssm", before_send)
            made._params_counted = True
        return made

    monkeypatch.setattr(AwsTarget, "client", client)
    return calls


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def aws_error(code: str, message: str, status: int = 400) -> Any:
    """An SSM (JSON protocol) error response, as AWS would send it."""
    from botocore.awsrequest import AWSResponse

    body = json.dumps({"__type": code, "message": message}).encode()
    return AWSResponse("https://ssm.us-east-1.amazonaws.com/", status,
                       {"Content-Type": "application/x-amz-json-1.1",
                        "x-amzn-RequestId": "test"}, _Raw(body))


__all__ = ["CANARY", "VALUES", "WALKER_EXPORT", "WALKER_IDENTITY", "WALKER_RECIPIENT",
           "Calls", "Run", "Target", "a_moment", "assert_envelope", "aws_error", "env_text"]
