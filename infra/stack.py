"""``GarmaxAiStack-{STAGE}``: composes the components, wires grants, publishes outputs.

Everything it needs arrives as typed properties (``StageConfig``, the Lambda ``Code``, an
optional alert e-mail); it reads no environment variable and no context.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

import garmaxctl
from garmaxctl.shared import contract
from garmaxctl.shared.stages import StageConfig
from infra.components import pin_logical_id, removal_policy, retention_days
from infra.components.api import Api, UserAuth
from infra.components.data import Cache, Database, SmplService, Tables
from infra.components.events import EventBus
from infra.components.functions import ServiceFunction
from infra.components.monitoring import Monitoring
from infra.components.network import Network
from infra.components.queues import WorkQueue
from infra.components.storage import Storage
from runtime.providers.bedrock import DEFAULT_MODEL as BEDROCK_MODEL

F = contract.Function
Q = contract.Queue

PROCESSORS: frozenset[contract.Function] = frozenset(contract.CONSUMERS.values())
QUEUE_CONSUMER: dict[contract.Queue, contract.Function] = dict(contract.CONSUMERS)


@dataclass(frozen=True)
class Access:
    """What one function may touch. Names of everything reach every function's environment
    (names are not secrets and the runtime's config reads them all); IAM is what limits."""

    tables_rw: tuple[str, ...] = ()
    tables_r: tuple[str, ...] = ()
    buckets_rw: tuple[str, ...] = ()
    buckets_r: tuple[str, ...] = ()
    sends_to: tuple[contract.Queue, ...] = ()
    puts_events: bool = False
    # /api/health/storage: GetQueueAttributes on every queue, DescribeEventBus on the bus.
    inspects_queues_and_bus: bool = False
    # Bedrock foundation models it invokes (bedrock:InvokeModel on exactly these).
    invokes_models: tuple[str, ...] = ()


_DATA_BUCKETS = ("Uploads", "Renders", "Guidance", "SmplAssets")

# Least privilege per function (docs/infra.md, "Grants").
ACCESS: dict[contract.Function, Access] = {
    F.API: Access(
        tables_rw=("Sessions", "RenderJobs", "Quotas", "Idempotency"),
        tables_r=("BudgetLedger", "Credits"),
        buckets_rw=("Uploads",),
        buckets_r=("Renders", "Guidance", "SmplAssets"),  # /api/health/storage reads them
        sends_to=(Q.TRYON, Q.RENDER),
        puts_events=True,
        inspects_queues_and_bus=True,
    ),
    F.STRIPE_WEBHOOK: Access(tables_rw=("Idempotency",), sends_to=(Q.BILLING,)),
    F.TRYON_PROCESSOR: Access(
        tables_rw=("Sessions", "Quotas", "Idempotency"),
        buckets_rw=("Renders",),
        buckets_r=("Uploads", "Guidance", "SmplAssets"),
        puts_events=True,
    ),
    F.AI_RENDER_PROCESSOR: Access(
        tables_rw=("RenderJobs", "Quotas", "BudgetLedger", "Idempotency"),
        tables_r=("Sessions",),
        buckets_rw=("Renders",),
        buckets_r=("Uploads", "Guidance", "SmplAssets"),
        puts_events=True,
        # The render router's Bedrock provider (primary or fallback): runtime's model id.
        invokes_models=(BEDROCK_MODEL,),
    ),
    F.BILLING_PROCESSOR: Access(
        tables_rw=("Credits", "BudgetLedger", "Idempotency"),
        puts_events=True,
    ),
}


def foundation_model_arn(stack: cdk.Stack, model: str) -> str:
    """``arn:{partition}:bedrock:{region}::foundation-model/{model}`` (no account: AWS's)."""
    return stack.format_arn(service="bedrock", account="", resource="foundation-model",
                            resource_name=model)


class GarmaxAiStack(cdk.Stack):
    def __init__(self, scope: Construct, *, config: StageConfig, code: lambda_.Code,
                 alert_email: str | None = None) -> None:
        stage = config.stage.value
        super().__init__(
            scope,
            contract.stack_name(stage),
            stack_name=contract.stack_name(stage),
            description=f"GARMAX AI platform ({stage}), deployed by garmaxctl",
            env=cdk.Environment(account=config.account, region=config.region),
            termination_protection=config.retain_data,
            analytics_reporting=False,
        )
        self.config = config
        features = config.features
        retain = config.retain_data

        # Availability zones are explicit in stages.py, so synthesis needs no look-up.
        self._azs = list(config.availability_zones)

        storage = Storage(self, "Storage", retain=retain, versioned=retain)
        tables = Tables(self, "Tables", retain=retain,
                        point_in_time_recovery=config.point_in_time_recovery)

        processor_timeout = cdk.Duration.seconds(config.lambda_timeout_s)
        queues = {q: WorkQueue(self, f"{q}Queue", consumer_timeout=processor_timeout)
                  for q in contract.Queue}
        bus = EventBus(self, "Events", stage=stage,
                       target_queues={q: w.queue for q, w in queues.items()})

        network = None
        if features.vpc:
            network = Network(self, "Network", availability_zones=config.availability_zones,
                              nat_gateways=config.nat_gateways,
                              log_retention_days=config.log_retention_days,
                              retain_logs=retain)

        environment = {
            contract.RuntimeEnv.STAGE.value: stage,
            contract.RuntimeEnv.VERSION.value: garmaxctl.__version__,
            contract.RuntimeEnv.PARAMS_PREFIX.value: contract.params_prefix(stage),
            contract.RuntimeEnv.TRYON_QUEUE_URL.value: queues[Q.TRYON].queue.queue_url,
            contract.RuntimeEnv.RENDER_QUEUE_URL.value: queues[Q.RENDER].queue.queue_url,
            contract.RuntimeEnv.BILLING_QUEUE_URL.value: queues[Q.BILLING].queue.queue_url,
            contract.RuntimeEnv.EVENT_BUS_NAME.value: contract.event_bus_name(stage),
            contract.RuntimeEnv.RENDER_PROVIDER.value: config.render_provider,
            contract.RuntimeEnv.GEMINI_TRAFFIC_PERCENT.value: str(config.gemini_traffic_percent),
            **{t.env_var: tables.tables[t.name].table_name for t in contract.TABLES},
            **{b.env_var: storage.buckets[b.name].bucket_name
               for b in contract.BUCKETS if b.env_var},
        }

        self.functions: dict[contract.Function, ServiceFunction] = {}
        for fn in contract.Function:
            is_processor = fn in PROCESSORS
            self.functions[fn] = ServiceFunction(
                self,
                f"{fn}Function",
                function=fn,
                stage=stage,
                code=code,
                memory_mb=config.lambda_memory_mb,
                timeout=(processor_timeout if is_processor
                         else cdk.Duration.seconds(config.api_timeout_s)),
                reserved_concurrency=(config.processor_reserved_concurrency if is_processor
                                      else None),
                tracing=features.xray,
                environment=environment,
                log_retention_days=config.log_retention_days,
                retain_logs=retain,
                vpc=network.vpc if network else None,
                security_groups=[network.app_security_group] if network else (),
            )

        for fn, access in ACCESS.items():
            target = self.functions[fn].function
            for name in access.tables_rw:
                tables.tables[name].grant_read_write_data(target)
            for name in access.tables_r:
                tables.tables[name].grant_read_data(target)
            for name in access.buckets_rw:
                storage.buckets[name].grant_read_write(target)
            for name in access.buckets_r:
                storage.buckets[name].grant_read(target)
            for q in access.sends_to:
                queues[q].queue.grant_send_messages(target)
            if access.puts_events:
                bus.bus.grant_put_events_to(target)
            if access.inspects_queues_and_bus:
                target.add_to_role_policy(iam.PolicyStatement(
                    actions=["sqs:GetQueueAttributes"],
                    resources=[w.queue.queue_arn for w in queues.values()],
                ))
                target.add_to_role_policy(iam.PolicyStatement(
                    actions=["events:DescribeEventBus"], resources=[bus.bus.event_bus_arn],
                ))
            if access.invokes_models:
                target.add_to_role_policy(iam.PolicyStatement(
                    actions=["bedrock:InvokeModel"],
                    resources=[foundation_model_arn(self, m) for m in access.invokes_models],
                ))
            self._acknowledge_grant_wildcards(self.functions[fn], access)

        for q, consumer in QUEUE_CONSUMER.items():
            worker = self.functions[consumer]
            worker.consume(queues[q].queue,
                           max_concurrency=config.processor_reserved_concurrency)

        user_auth = UserAuth(self, "Auth", retain=retain) if features.cognito else None
        api = Api(
            self,
            "Api",
            stage=stage,
            functions={fn: f.function for fn, f in self.functions.items()},
            user_pool=user_auth.user_pool if user_auth else None,
            rate_limit=config.api_rate_limit,
            burst_limit=config.api_burst_limit,
            tracing=features.xray,
            usage_plan=features.usage_plan,
            log_retention_days=config.log_retention_days,
            retain_logs=retain,
        )

        database = cache = smpl = None
        if network is not None and features.database:
            database = Database(
                self, "Database", stage=stage, vpc=network.vpc,
                security_group=network.database_security_group,
                instance_class=config.rds_instance_class,
                multi_az=config.multi_az_database,
                backup_retention_days=config.backup_retention_days,
                retain=retain, log_retention_days=config.log_retention_days,
            )
        if network is not None and features.cache:
            cache = Cache(self, "Cache", stage=stage, vpc=network.vpc,
                          security_group=network.cache_security_group,
                          node_type=config.cache_node_type,
                          multi_az=config.multi_az_database)
        if network is not None and features.ecs:
            smpl = SmplService(
                self, "Smpl", stage=stage, vpc=network.vpc,
                security_group=network.app_security_group, image=config.ecs_image,
                placeholder=config.ecs_image_is_placeholder,
                cpu=config.ecs_cpu, memory_mb=config.ecs_memory_mb,
                desired_count=config.ecs_desired_count,
                log_retention_days=config.log_retention_days, retain_logs=retain,
            )
            storage.buckets["SmplAssets"].grant_read_write(smpl.task_definition.task_role)
            storage.buckets["Uploads"].grant_read(smpl.task_definition.task_role)
            self._acknowledge_bucket_wildcards(smpl.task_definition.task_role,
                                               ("SmplAssets",), ("Uploads",))

        monitoring = Monitoring(
            self,
            "Monitoring",
            stage=stage,
            alert_email=alert_email,
            rest_api=api.rest_api,
            functions=[f.function for f in self.functions.values()],
            queues={q: w.queue for q, w in queues.items()},
            dlqs={q: w.dlq for q, w in queues.items()},
            daily_budget_usd=config.budgets.daily_usd if features.budgets else None,
        )

        # garmaxctl's audit trail of changes to this stage (docs/security.md, "Audit
        # trail"): the CLI writes one event per mutating run; the stage's log retention.
        audit_log = logs.LogGroup(
            self, "AuditLog", log_group_name=contract.audit_log_group(stage),
            retention=retention_days(config.log_retention_days),
            removal_policy=removal_policy(retain))
        pin_logical_id(audit_log, "AuditLog")

        # ------------------------------------------------------------------ outputs
        outputs: dict[contract.OutputKey, str] = {
            contract.OutputKey.API_URL: api.url,
            contract.OutputKey.API_ID: api.rest_api.rest_api_id,
            contract.OutputKey.EVENT_BUS_NAME: bus.bus.event_bus_name,
            contract.OutputKey.ALERT_TOPIC_ARN: monitoring.topic.topic_arn,
            contract.OutputKey.ACTIVITY_ALARM_NAME:
                monitoring.alarms[contract.Alarm.ACTIVITY].alarm_name,
            contract.OutputKey.DASHBOARD_NAME: contract.dashboard_name(stage),
        }
        for b in contract.BUCKETS:
            outputs[b.output] = storage.buckets[b.name].bucket_name
        for t in contract.TABLES:
            outputs[t.output] = tables.tables[t.name].table_name
        for q, (queue_key, dlq_key) in contract.QUEUE_OUTPUTS.items():
            outputs[queue_key] = queues[q].queue.queue_url
            outputs[dlq_key] = queues[q].dlq.queue_url
        if user_auth is not None:
            outputs[contract.OutputKey.USER_POOL_ID] = user_auth.user_pool.user_pool_id
            outputs[contract.OutputKey.USER_POOL_CLIENT_ID] = (
                user_auth.client.user_pool_client_id)
        if database is not None:
            outputs[contract.OutputKey.DATABASE_CLUSTER_ID] = (
                database.cluster.cluster_identifier)
        if cache is not None:
            outputs[contract.OutputKey.CACHE_CLUSTER_ID] = cache.replication_group.ref
        if smpl is not None:
            outputs[contract.OutputKey.ECS_CLUSTER_NAME] = smpl.cluster.cluster_name
            outputs[contract.OutputKey.ECS_SERVICE_NAME] = smpl.service.service_name
            outputs[contract.OutputKey.SMPL_PLACEHOLDER] = "true" if smpl.placeholder else "false"
        if monitoring.budget is not None:
            outputs[contract.OutputKey.BUDGET_NAME] = monitoring.budget.ref
        for key, value in outputs.items():
            cdk.CfnOutput(self, key.value, value=value).override_logical_id(key.value)
        self.output_keys = frozenset(outputs)

        cdk.Tags.of(self).add(contract.TAG_STAGE, stage)
        cdk.Tags.of(self).add(contract.TAG_PROJECT, contract.PROJECT)

    @property
    def availability_zones(self) -> list[str]:
        # The stage's explicit AZs: no context look-up, no dummy AZs in the template.
        return self._azs

    # --------------------------------------------------------------- cdk-nag acks
    def _acknowledge_grant_wildcards(self, fn: ServiceFunction, access: Access) -> None:
        self._acknowledge_bucket_wildcards(fn.role, access.buckets_rw, access.buckets_r)

    def _acknowledge_bucket_wildcards(self, role, rw: tuple[str, ...],
                                      r: tuple[str, ...]) -> None:
        from infra.components import acknowledge
        from infra.components.storage import bucket_logical_id

        for name in (*rw, *r):
            acknowledge(
                role, f"AwsSolutions-IAM5[Resource::<{bucket_logical_id(name)}.Arn>/*]",
                f"Object-level access to the {name} bucket's objects (grant_read"
                f"{'_write' if name in rw else ''}): object keys are per user and per "
                "session, so the grant covers the bucket's keys, not other buckets.",
                with_children=True,
            )
        actions = ["s3:GetObject*", "s3:GetBucket*", "s3:List*"]
        if rw:
            actions += ["s3:DeleteObject*", "s3:Abort*"]
        if rw or r:
            for action in actions:
                acknowledge(
                    role, f"AwsSolutions-IAM5[Action::{action}]",
                    "CDK grant_read/grant_read_write action groups on the granted buckets "
                    f"only ({action} covers that action's variants, e.g. versions and tags).",
                    with_children=True,
                )
