"""Hand-built stage resources on moto (``mock_aws``), found by idle the way it finds the
deployed stack's: names and tags from ``garmaxctl.shared.contract``. Shared by the tests and
``benchmarks/bench_idle.py``."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

import boto3

from garmaxctl.shared import contract

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account


@dataclass
class FunctionSpec:
    name: str  # logical: Api, StripeWebhook, TryonProcessor, ...
    reserved: int | None = None  # None: unset
    consumer: bool = False
    mapping_enabled: bool = True


@dataclass
class ServiceSpec:
    name: str
    desired: int = 1
    scaling: tuple[int, int] | None = None  # (min, max)


@dataclass
class StageSpec:
    stage: str = "DEV"
    functions: list[FunctionSpec] = field(default_factory=list)
    rules: dict[str, bool] = field(default_factory=dict)  # name -> enabled
    services: list[ServiceSpec] = field(default_factory=list)
    clusters: dict[str, str] = field(default_factory=dict)  # identifier -> available|stopped
    alarm_actions: bool | None = False  # None: no activity alarm
    # The stage's paging alarms GarmaxAI-{Name}-{STAGE}: name -> ActionsEnabled.
    paging_alarms: dict[str, bool] = field(default_factory=dict)


def default_spec(stage: str = "DEV") -> StageSpec:
    return StageSpec(
        stage=stage,
        functions=[FunctionSpec("Api"), FunctionSpec("StripeWebhook"),
                   FunctionSpec("TryonProcessor", reserved=2, consumer=True),
                   FunctionSpec("AiRenderProcessor", reserved=2, consumer=True),
                   FunctionSpec("BillingProcessor", reserved=2, consumer=True)],
        rules={"TryonProcessed": True, "RenderRequested": True, "BudgetAlerts": False},
        services=[ServiceSpec("Smpl", desired=1, scaling=(1, 4))],
        clusters={contract.database_cluster_id(stage): "available"},
        alarm_actions=False,
        paging_alarms={"ApiErrorRate": True, "TryonDlqNotEmpty": True,
                       "LambdaDuration": False},
    )


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def build(spec: StageSpec) -> None:
    """Create every resource of ``spec`` in the active moto mock."""
    stage = spec.stage
    tags = {contract.TAG_STAGE: stage}
    iam = client("iam")
    role = iam.create_role(RoleName=f"idle-test-{stage}",
                           AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17",
                                                                "Statement": []}))["Role"]["Arn"]
    lam, sqs = client("lambda"), client("sqs")
    code = _zip()
    for fn in spec.functions:
        name = contract.function_name(fn.name, stage)
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=role,
                            Handler="handler.handler", Code={"ZipFile": code}, Tags=tags)
        if fn.reserved is not None:
            lam.put_function_concurrency(FunctionName=name,
                                         ReservedConcurrentExecutions=fn.reserved)
        if fn.consumer:
            # As the stack builds them: 14 days' retention, a DLQ after 3 receives.
            retention = str(contract.QUEUE_RETENTION_SECONDS)
            dlq = sqs.create_queue(QueueName=f"{fn.name}-{stage}-dlq", Attributes={
                "MessageRetentionPeriod": retention})["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            url = sqs.create_queue(QueueName=f"{fn.name}-{stage}", Attributes={
                "MessageRetentionPeriod": retention,
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                             "maxReceiveCount": contract.DLQ_MAX_RECEIVE_COUNT})
            })["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn,
                                            Enabled=fn.mapping_enabled, BatchSize=10)
    events = client("events")
    bus = contract.event_bus_name(stage)
    events.create_event_bus(Name=bus)
    for rule, enabled in spec.rules.items():
        events.put_rule(Name=f"GarmaxAi-{rule}-{stage}", EventBusName=bus,
                        EventPattern=json.dumps({"source": [f"garmaxai.{rule.lower()}"]}),
                        State="ENABLED" if enabled else "DISABLED")
    if spec.services:
        ecs = client("ecs")
        cluster = f"GarmaxAiStack-{stage}-SmplCluster"
        ecs.create_cluster(clusterName=cluster, tags=[{"key": k, "value": v}
                                                      for k, v in tags.items()])
        ecs.register_task_definition(family=f"smpl-{stage}", containerDefinitions=[
            {"name": "smpl", "image": "python:3.12-slim", "memory": 512}])
        scaling = client("application-autoscaling")
        for service in spec.services:
            ecs.create_service(cluster=cluster, serviceName=service.name,
                               taskDefinition=f"smpl-{stage}", desiredCount=service.desired,
                               tags=[{"key": k, "value": v} for k, v in tags.items()])
            if service.scaling:
                scaling.register_scalable_target(
                    ServiceNamespace="ecs", ResourceId=f"service/{cluster}/{service.name}",
                    ScalableDimension="ecs:service:DesiredCount",
                    MinCapacity=service.scaling[0], MaxCapacity=service.scaling[1])
        # A service of another stage in the same account is never touched.
        ecs.create_service(cluster=cluster, serviceName="other-stage", taskDefinition=
                           f"smpl-{stage}", desiredCount=1,
                           tags=[{"key": contract.TAG_STAGE, "value": "QA"}])
    rds = client("rds")
    for ident, status in spec.clusters.items():
        rds.create_db_cluster(DBClusterIdentifier=ident, Engine="aurora-mysql",
                              MasterUsername="admin", MasterUserPassword="password-123",
                              Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        if status == "stopped":
            rds.stop_db_cluster(DBClusterIdentifier=ident)
    if spec.alarm_actions is not None:
        client("cloudwatch").put_metric_alarm(
            AlarmName=contract.alarm_name(contract.Alarm.ACTIVITY, stage),
            MetricName="ApproximateNumberOfMessagesVisible", Namespace="AWS/SQS",
            Statistic="Maximum", Period=300, EvaluationPeriods=1, Threshold=0,
            ComparisonOperator="GreaterThanThreshold", ActionsEnabled=spec.alarm_actions,
            AlarmActions=[f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"])
    for alarm, actions in spec.paging_alarms.items():
        client("cloudwatch").put_metric_alarm(
            AlarmName=contract.alarm_name(alarm, stage), MetricName="Errors",
            Namespace="AWS/Lambda", Statistic="Sum", Period=60, EvaluationPeriods=1,
            Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
            ActionsEnabled=actions, AlarmActions=[f"arn:aws:sns:{REGION}:{ACCOUNT}:alerts"])


def observe(stage: str = "DEV") -> dict[str, Any]:
    """Every attribute idle may touch, read straight from AWS (independent of the engine)."""
    lam = client("lambda")
    state: dict[str, Any] = {}
    for fn in lam.list_functions()["Functions"]:
        name = fn["FunctionName"]
        state[f"reserved:{name}"] = lam.get_function_concurrency(FunctionName=name).get(
            "ReservedConcurrentExecutions")
        for mapping in lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]:
            state[f"mapping:{name}"] = mapping["State"]
    events = client("events")
    for rule in events.list_rules(EventBusName=contract.event_bus_name(stage))["Rules"]:
        state[f"rule:{rule['Name']}"] = rule["State"]
    ecs = client("ecs")
    for cluster in ecs.list_clusters()["clusterArns"]:
        arns = ecs.list_services(cluster=cluster)["serviceArns"]
        for service in ecs.describe_services(cluster=cluster, services=arns)["services"]:
            state[f"desired:{service['serviceName']}"] = service["desiredCount"]
            targets = client("application-autoscaling").describe_scalable_targets(
                ServiceNamespace="ecs",
                ResourceIds=[f"service/{cluster.rsplit('/', 1)[-1]}/{service['serviceName']}"]
            )["ScalableTargets"]
            state[f"scaling:{service['serviceName']}"] = (
                (targets[0]["MinCapacity"], targets[0]["MaxCapacity"]) if targets else None)
    for cluster in client("rds").describe_db_clusters()["DBClusters"]:
        state[f"cluster:{cluster['DBClusterIdentifier']}"] = cluster["Status"]
    for alarm in client("cloudwatch").describe_alarms()["MetricAlarms"]:
        state[f"alarm:{alarm['AlarmName']}"] = alarm["ActionsEnabled"]
    return state


def idle_expectations(before: dict[str, Any], stage: str = "DEV") -> dict[str, Any]:
    """What the stage must look like while idle, from its state before ``down``."""
    expected = dict(before)
    webhook = contract.function_name(contract.Function.STRIPE_WEBHOOK, stage)
    for key, value in before.items():
        kind, _, name = key.partition(":")
        if kind == "reserved" and name != webhook:
            expected[key] = 0
        elif kind == "mapping":
            expected[key] = "Disabled"
        elif kind == "rule":
            expected[key] = "DISABLED"
        elif kind == "desired" and name != "other-stage":
            expected[key] = 0
        elif kind == "scaling" and value is not None and name != "other-stage":
            expected[key] = (0, value[1])
        elif kind == "cluster":
            expected[key] = "stopped"
        elif kind == "alarm" and name.endswith(f"-{stage}"):
            # The activity alarm pages while idle; every other alarm is paused.
            expected[key] = name == contract.alarm_name(contract.Alarm.ACTIVITY, stage)
    return expected
