"""Data tier: the runtime's DynamoDB tables, Aurora MySQL, ElastiCache Redis, and the ECS
Fargate SMPL processor (which works on the SMPL assets bucket).

Tables come from ``contract.TABLES`` (keys, TTL attribute), on-demand, PITR where the stage
asks for it, pinned logical ids ``{Name}Table``. Aurora: encrypted, 7-day backups, a reader
in another AZ where ``multi_az_database``, all four log types exported to log groups created
here with the stage's retention (not ``cloudwatch_logs_retention``, a custom resource).
Redis: a replication group (the only ElastiCache resource with at-rest and in-transit
encryption), AUTH token from Secrets Manager by dynamic reference, never in the template.
SMPL: the stage's configured image as it is, or the placeholder (``PLACEHOLDER_COMMAND``)
that keeps running and passes its health check, so the service reaches a steady state.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from garmaxctl.shared import contract
from infra.components import acknowledge, pin_logical_id, removal_policy, retention_days
from infra.components.network import REDIS_PORT

AURORA_VERSION = rds.AuroraMysqlEngineVersion.VER_3_08_2
AURORA_LOG_TYPES = ("audit", "error", "general", "slowquery")
REDIS_ENGINE_VERSION = "7.1"
DATABASE_NAME = "garmaxai"

# The placeholder SMPL container (stages.PLACEHOLDER_SMPL_IMAGE, a Python image with no
# command of its own, which would exit at once): an HTTP server on the task's loopback
# only, serving an empty directory, and a health check that asks it for a page. Labelled
# ``garmaxai:placeholder=true`` (a configured image: ``false``); the stack's
# ``SmplPlaceholder`` output says the same.
PLACEHOLDER_LABEL = "garmaxai:placeholder"
PLACEHOLDER_PORT = 8080
PLACEHOLDER_COMMAND = ("python", "-m", "http.server", str(PLACEHOLDER_PORT),
                       "--bind", "127.0.0.1", "--directory", "/tmp")
PLACEHOLDER_HEALTH_CHECK = (
    "CMD", "python", "-c",
    "import urllib.request; "
    f"urllib.request.urlopen('http://127.0.0.1:{PLACEHOLDER_PORT}/', timeout=3)",
)


def table_logical_id(name: str) -> str:
    return f"{name}Table"


def _attribute(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Tables(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, retain: bool,
                 point_in_time_recovery: bool) -> None:
        super().__init__(scope, construct_id)
        self.tables: dict[str, dynamodb.Table] = {}
        for spec in contract.TABLES:
            table = dynamodb.Table(
                self,
                spec.name,
                partition_key=_attribute(spec.partition_key),
                sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
                time_to_live_attribute=spec.ttl_attribute,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=point_in_time_recovery
                ),
                deletion_protection=retain,
                removal_policy=removal_policy(retain),
            )
            pin_logical_id(table, table_logical_id(spec.name))
            if not point_in_time_recovery:
                acknowledge(
                    table, "AwsSolutions-DDB3",
                    "Point-in-time recovery is a PROD-only setting (stages.py "
                    "point_in_time_recovery); DEV/QA/LOCAL data is disposable test data.",
                )
            self.tables[spec.name] = table


class Database(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, vpc: ec2.IVpc,
                 security_group: ec2.ISecurityGroup, instance_class: str, multi_az: bool,
                 backup_retention_days: int, retain: bool, log_retention_days: int) -> None:
        super().__init__(scope, construct_id)
        cluster_id = contract.database_cluster_id(stage)
        engine = rds.DatabaseClusterEngine.aurora_mysql(version=AURORA_VERSION)
        log_groups = [
            logs.LogGroup(
                self,
                f"{kind.capitalize()}Logs",
                log_group_name=f"/aws/rds/cluster/{cluster_id}/{kind}",
                retention=retention_days(log_retention_days),
                removal_policy=removal_policy(retain),
            )
            for kind in AURORA_LOG_TYPES
        ]
        parameter_group = rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            description=f"GARMAX AI Aurora MySQL ({stage}): audit logging on",
            parameters={
                "server_audit_logging": "1",
                "server_audit_events": "CONNECT,QUERY_DCL,QUERY_DDL",
                "require_secure_transport": "ON",
            },
        )
        instance_type = ec2.InstanceType(instance_class.removeprefix("db."))
        readers = (
            [rds.ClusterInstance.provisioned("Reader", instance_type=instance_type)]
            if multi_az else []
        )
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            cluster_identifier=cluster_id,
            engine=engine,
            credentials=rds.Credentials.from_generated_secret("garmaxadmin"),
            default_database_name=DATABASE_NAME,
            writer=rds.ClusterInstance.provisioned("Writer", instance_type=instance_type),
            readers=readers,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[security_group],
            parameter_group=parameter_group,
            storage_encrypted=True,
            iam_authentication=True,
            backup=rds.BackupProps(retention=cdk.Duration.days(backup_retention_days)),
            cloudwatch_logs_exports=list(AURORA_LOG_TYPES),
            deletion_protection=retain,
            removal_policy=cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.SNAPSHOT,
        )
        for group in log_groups:
            self.cluster.node.add_dependency(group)
        pin_logical_id(self.cluster, "DatabaseCluster")
        acknowledge(
            self.cluster, "AwsSolutions-RDS11",
            "The default MySQL port is kept: the cluster is in isolated subnets and its "
            "security group admits only the app tier; a non-default port adds no control.",
        )
        acknowledge(
            self.cluster, "AwsSolutions-RDS14",
            "Backtrack is not enabled: recovery is by the 7-day automated backups "
            "(point-in-time restore), as the guide's disaster-recovery section does.",
        )
        if not retain:
            acknowledge(
                self.cluster, "AwsSolutions-RDS10",
                "Deletion protection is PROD-only (retain_data); DEV/QA clusters must be "
                "destroyable by garmaxctl destroy (a final snapshot is still taken).",
            )
        master_secret = self.cluster.node.try_find_child("Secret")
        if master_secret is not None:
            acknowledge(
                master_secret, "AwsSolutions-SMG4",
                "The master credential is for break-glass administration; the application "
                "connects with DATABASE_URL from Parameter Store. Rotation needs a rotation "
                "Lambda from the Serverless Application Repository, not deployed yet.",
            )


class Cache(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, vpc: ec2.IVpc,
                 security_group: ec2.ISecurityGroup, node_type: str, multi_az: bool) -> None:
        super().__init__(scope, construct_id)
        subnets = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        subnet_group = elasticache.CfnSubnetGroup(
            self,
            "Subnets",
            description=f"GARMAX AI Redis ({stage})",
            subnet_ids=subnets.subnet_ids,
        )
        self.auth_token = secretsmanager.Secret(
            self,
            "AuthToken",
            description=f"GARMAX AI Redis AUTH token ({stage})",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=64
            ),
        )
        acknowledge(
            self.auth_token, "AwsSolutions-SMG4",
            "Rotating a Redis AUTH token needs a coordinated ModifyReplicationGroup "
            "(ROTATE then SET) with every client's REDIS_URL; done by hand until automated.",
        )
        self.replication_group = elasticache.CfnReplicationGroup(
            self,
            "Redis",
            replication_group_id=contract.cache_cluster_id(stage),
            replication_group_description=f"GARMAX AI Redis ({stage})",
            engine="redis",
            engine_version=REDIS_ENGINE_VERSION,
            cache_node_type=node_type,
            num_cache_clusters=2 if multi_az else 1,
            automatic_failover_enabled=multi_az,
            multi_az_enabled=multi_az,
            cache_subnet_group_name=subnet_group.ref,
            security_group_ids=[security_group.security_group_id],
            at_rest_encryption_enabled=True,
            transit_encryption_enabled=True,
            auth_token=self.auth_token.secret_value.unsafe_unwrap(),  # a {{resolve:...}} ref
            port=REDIS_PORT,
            snapshot_retention_limit=1,
        )
        acknowledge(
            self.replication_group, "AwsSolutions-AEC5",
            "The default Redis port is kept: the group is in isolated subnets and its "
            "security group admits only the app tier; a non-default port adds no control.",
        )
        if not multi_az:
            acknowledge(
                self.replication_group, "AwsSolutions-AEC4",
                "Multi-AZ Redis is PROD-only (multi_az_database); DEV/QA run one node to "
                "keep the stage cheap, and the cache holds nothing that cannot be rebuilt.",
            )


class SmplService(Construct):
    """The SMPL processor: a Fargate service from a registry image, sized per stage.

    ``placeholder``: ``image`` is the stand-in, run with ``PLACEHOLDER_COMMAND`` and
    ``PLACEHOLDER_HEALTH_CHECK``; otherwise the image runs its own command (and its own
    HEALTHCHECK, if it has one).
    """

    def __init__(self, scope: Construct, construct_id: str, *, stage: str, vpc: ec2.IVpc,
                 security_group: ec2.ISecurityGroup, image: str, placeholder: bool, cpu: int,
                 memory_mb: int, desired_count: int, log_retention_days: int,
                 retain_logs: bool) -> None:
        super().__init__(scope, construct_id)
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=retention_days(log_retention_days),
            removal_policy=removal_policy(retain_logs),
        )
        self.task_definition = ecs.FargateTaskDefinition(
            self, "Task", cpu=cpu, memory_limit_mib=memory_mb,
        )
        self.placeholder = placeholder
        self.task_definition.add_container(
            "Smpl",
            image=ecs.ContainerImage.from_registry(image),
            logging=ecs.LogDrivers.aws_logs(stream_prefix="smpl", log_group=self.log_group),
            essential=True,
            docker_labels={PLACEHOLDER_LABEL: "true" if placeholder else "false"},
            command=list(PLACEHOLDER_COMMAND) if placeholder else None,
            health_check=ecs.HealthCheck(
                command=list(PLACEHOLDER_HEALTH_CHECK),
                interval=cdk.Duration.seconds(30),
                timeout=cdk.Duration.seconds(5),
                retries=3,
                start_period=cdk.Duration.seconds(15),
            ) if placeholder else None,
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=desired_count,
            min_healthy_percent=100 if desired_count > 1 else 0,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            security_groups=[security_group],
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            assign_public_ip=False,
        )
