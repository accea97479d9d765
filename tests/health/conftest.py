"""Fixtures for health / verify / smoke / status.

- ``dev``: a DEV stage under ``mock_aws`` (account 123456789012) with every resource the
  checks look at — functions, queues with DLQs, tables, buckets (public access blocked,
  TLS-only policy), an Aurora cluster, a Redis replication group, the required parameters,
  alarms with actions, log groups with retention, a daily budget with notifications — and
  a stack whose outputs name them. Its ``ApiUrl`` is a small local HTTP server that
  answers ``/api/health`` and ``/api/health/storage`` as the runtime does.
- the LOCAL stack (``local_stack``, tests/conftest.py) for the end-to-end checks; a test
  that breaks it puts it back in a ``finally``.
- ``tls_server``: a local TLS server with a generated CA and a certificate of any validity.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from garmaxctl.shared import contract
from tests.cli.conftest import Run, assert_envelope, cli, project, write_env  # noqa: F401

ACCOUNT = "123456789012"
DEV = "DEV"


# --------------------------------------------------------------------------- fake API

@dataclass
class FakeApi:
    """Answers like the runtime's health routes; ``mode`` breaks it on purpose."""

    port: int = 0
    mode: str = "ok"  # ok | storage_degraded | down(502) | throttled (API Gateway's 500)
    server: Any = None
    webhook_secret: str = "value-of-stripe_webhook_secret"  # what DEV's SSM holds
    verify_signatures: bool = True  # False: a broken webhook that accepts any signature

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/dev/"


def _fake_api_handler(api: FakeApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if api.mode == "throttled":
                # API Gateway's answer when the Lambda proxy function is throttled.
                self._send(500, {"message": "Internal server error"})
                return
            if self.path == "/dev/api/health":
                status, body = (200, {"status": "ok", "stage": DEV, "version": "1.2.3"})
                if api.mode == "down":
                    status, body = 502, {"message": "Internal server error"}
            elif self.path == "/dev/api/health/storage":
                bad = api.mode == "storage_degraded"
                status = 503 if bad else 200
                body = {"status": "degraded" if bad else "ok", "checks": [
                    {"name": "Sessions", "kind": "table", "ok": not bad,
                     "error": "ResourceNotFoundException" if bad else None}]}
            else:
                status, body = 404, {"code": "route_not_found"}
            self._send(status, body)

        def do_POST(self) -> None:
            """The Stripe webhook as the runtime answers it (stripe SDK verification)."""
            import stripe

            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if self.path != "/dev" + contract.STRIPE_WEBHOOK_PATH:
                self._send(404, {"code": "route_not_found"})
                return
            try:
                if api.verify_signatures:
                    stripe.WebhookSignature.verify_header(
                        raw, self.headers.get("Stripe-Signature", ""), api.webhook_secret,
                        300)
            except stripe.SignatureVerificationError:
                self._send(400, {"code": "invalid_signature", "message": "bad signature"})
                return
            event = json.loads(raw)
            self._send(200, {"received": True, "id": event["id"], "queued": False})

        def _send(self, status: int, body: Any) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    api = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _fake_api_handler(api))
    api.port, api.server = server.server_address[1], server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield api
    server.shutdown()
    server.server_close()


# --------------------------------------------------------------------------- DEV stage

@dataclass
class DevStage:
    outputs: dict[str, str]
    api: FakeApi
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(service, region_name="us-east-1")
        return self.clients[service]

    def target(self, *, api_url: str | None = None) -> Any:
        """A fresh stage target for DEV (nothing read yet)."""
        from garmaxctl.aws import AwsTarget
        from garmaxctl.shared.stages import get_stage_config
        from garmaxctl.stage.target import StageTarget

        return StageTarget(AwsTarget(stage=get_stage_config(DEV)), api_url=api_url)

    def set_output(self, key: str, value: str) -> None:
        """Redeploy the stand-in stack with one output changed."""
        self.outputs[key] = value
        self.client("cloudformation").update_stack(StackName=contract.stack_name(DEV),
                                                   TemplateBody=_template(self.outputs))

    def put_idle_snapshot(self) -> None:
        self.client("ssm").put_parameter(
            Name=contract.ops_prefix(DEV) + contract.IDLE_SNAPSHOT_PARAM, Type="String",
            Overwrite=True, Value=json.dumps({"schema": 1, "stage": DEV, "phase": "down",
                                              "created_at": "2026-01-01T00:00:00Z",
                                              "created_by": "test"}))


def _template(outputs: dict[str, str]) -> str:
    return json.dumps({
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()}})


LAMBDA_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})


def build_dev_stage(api: FakeApi) -> DevStage:
    import io
    import zipfile

    stage = DevStage(outputs={}, api=api)
    c = stage.client
    out: dict[str, str] = {str(contract.OutputKey.API_URL): api.url,
                           str(contract.OutputKey.SMPL_PLACEHOLDER): "false"}
    for spec in contract.TABLES:
        name = f"dev-{spec.name}"
        c("dynamodb").create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": spec.partition_key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": spec.partition_key, "AttributeType": "S"}])
        out[str(spec.output)] = name
    for spec in contract.BUCKETS:
        name = f"dev-{spec.name.lower()}"
        c("s3").create_bucket(Bucket=name)
        c("s3").put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
        c("s3").put_bucket_policy(Bucket=name, Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
        out[str(spec.output)] = name
    for queue, (queue_key, dlq_key) in contract.QUEUE_OUTPUTS.items():
        out[str(dlq_key)] = c("sqs").create_queue(QueueName=f"dev-{queue}-dlq")["QueueUrl"]
        out[str(queue_key)] = c("sqs").create_queue(QueueName=f"dev-{queue}")["QueueUrl"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(e, c):\n    return {}\n")
    for function in contract.Function:
        role = c("iam").create_role(RoleName=f"dev-{function}-role",
                                    AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
        c("iam").put_role_policy(RoleName=f"dev-{function}-role", PolicyName="Default",
                                 PolicyDocument=json.dumps({"Version": "2012-10-17",
                                                            "Statement": [{
                                                                "Effect": "Allow",
                                                                "Action": "sqs:SendMessage",
                                                                "Resource": "*"}]}))
        name = contract.function_name(function, DEV)
        c("lambda").create_function(FunctionName=name, Runtime="python3.12", Role=role,
                                    Handler="index.handler", Code={"ZipFile": buffer.getvalue()})
        if function in contract.CONSUMERS.values():
            c("lambda").put_function_concurrency(FunctionName=name,
                                                 ReservedConcurrentExecutions=2)
        c("logs").create_log_group(logGroupName=contract.function_log_group(function, DEV))
        c("logs").put_retention_policy(logGroupName=contract.function_log_group(function, DEV),
                                       retentionInDays=30)
    c("logs").create_log_group(logGroupName=contract.api_access_log_group(DEV))
    c("logs").put_retention_policy(logGroupName=contract.api_access_log_group(DEV),
                                   retentionInDays=30)
    cluster = contract.database_cluster_id(DEV)
    c("rds").create_db_cluster(DBClusterIdentifier=cluster, Engine="aurora-mysql",
                               MasterUsername="admin", MasterUserPassword="password123")
    out[str(contract.OutputKey.DATABASE_CLUSTER_ID)] = cluster
    group = contract.cache_cluster_id(DEV)
    c("elasticache").create_replication_group(ReplicationGroupId=group,
                                              ReplicationGroupDescription="dev redis")
    out[str(contract.OutputKey.CACHE_CLUSTER_ID)] = group
    topic = c("sns").create_topic(Name="dev-alerts")["TopicArn"]
    out[str(contract.OutputKey.ALERT_TOPIC_ARN)] = topic
    for alarm in contract.Alarm:
        c("cloudwatch").put_metric_alarm(
            AlarmName=contract.alarm_name(alarm, DEV), MetricName="Errors",
            Namespace="AWS/Lambda", Statistic="Sum", Period=60, EvaluationPeriods=1,
            Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
            AlarmActions=[topic], ActionsEnabled=alarm is not contract.Alarm.ACTIVITY)
    budget = contract.budget_name(DEV)
    c("budgets").create_budget(
        AccountId=ACCOUNT,
        Budget={"BudgetName": budget, "BudgetLimit": {"Amount": "50", "Unit": "USD"},
                "TimeUnit": "DAILY", "BudgetType": "COST"},
        NotificationsWithSubscribers=[
            {"Notification": {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN",
                              "Threshold": float(t), "ThresholdType": "PERCENTAGE"},
             "Subscribers": [{"SubscriptionType": "EMAIL", "Address": "ops@example.com"}]}
            for t in (80, 90, 100)])
    out[str(contract.OutputKey.BUDGET_NAME)] = budget
    for key in contract.required_env_keys(DEV):
        spec = contract.PARAMS_BY_ENV_KEY[key]
        c("ssm").put_parameter(Name=spec.full_path(DEV), Value=f"value-of-{key.lower()}",
                               Type="SecureString" if spec.secret else "String")
    c("cloudformation").create_stack(StackName=contract.stack_name(DEV),
                                     TemplateBody=_template(out))
    stage.outputs = out
    return stage


@pytest.fixture
def dev(monkeypatch: pytest.MonkeyPatch, fake_api: FakeApi) -> Iterator[DevStage]:
    from moto import mock_aws

    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", ACCOUNT)
    with mock_aws():
        yield build_dev_stage(fake_api)


# --------------------------------------------------------------------------- TLS server

@dataclass
class TlsServer:
    host: str
    port: int
    cafile: str

    @property
    def spec(self) -> str:
        return f"{self.host}:{self.port}"


def _key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def make_certificates(directory: Path, *, not_before: dt.datetime, not_after: dt.datetime,
                      host: str = "localhost") -> tuple[Path, Path, Path]:
    """A CA and a leaf for ``host`` (and 127.0.0.1) valid between the two dates."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, leaf_key = _key(), _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "garmax test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=400))
          .not_valid_after(now + dt.timedelta(days=400))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName(host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "cert.pem", \
        directory / "key.pem"
    ca_path.write_bytes(ca.public_bytes(pem))
    cert_path.write_bytes(leaf.public_bytes(pem))
    key_path.write_bytes(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return ca_path, cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[Callable[..., TlsServer]]:
    """``tls_server(days_left=N)``: a TLS server on 127.0.0.1 whose certificate (for
    ``localhost``) expires in N days (negative: expired N days ago)."""
    servers: list[ThreadingHTTPServer] = []

    def start(*, days_left: float) -> TlsServer:
        now = dt.datetime.now(dt.UTC)
        directory = tmp_path / f"tls-{len(servers)}"
        directory.mkdir()
        not_after = now + dt.timedelta(days=days_left)
        ca, cert, key = make_certificates(
            directory, not_before=min(now, not_after) - dt.timedelta(days=90),
            not_after=not_after)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _fake_api_handler(FakeApi()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return TlsServer(host="localhost", port=server.server_address[1], cafile=str(ca))

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
