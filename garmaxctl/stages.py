"""Typed configuration of the four stages: LOCAL, DEV, QA, PROD.

Pure data: no boto3, no aws_cdk. The CLI, the CDK app (``infra/``) and the runtime
(``runtime/``) all read stage configuration from here, so sizing, budgets and quotas
are written down once. Values come from the deployment guide's sizing table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from enum import StrEnum

from garmaxctl.errors import UsageError


class Stage(StrEnum):
    LOCAL = "LOCAL"
    DEV = "DEV"
    QA = "QA"
    PROD = "PROD"


STAGE_ORDER: tuple[Stage, ...] = (Stage.LOCAL, Stage.DEV, Stage.QA, Stage.PROD)


def normalize_stage(value: str | Stage) -> Stage:
    """Accept any case (``prod``, ``Prod``) and return the canonical stage."""
    text = str(value).strip().upper()
    try:
        return Stage(text)
    except ValueError:
        choices = ", ".join(s.value for s in STAGE_ORDER)
        raise UsageError(
            f"unknown stage {value!r}: use one of {choices}", code="unknown_stage"
        ) from None


@dataclass(frozen=True)
class Features:
    """What a stage deploys. LOCAL turns off what the emulator cannot host."""

    vpc: bool = True  # VPC with NAT gateways
    database: bool = True  # Aurora MySQL cluster
    cache: bool = True  # ElastiCache Redis
    ecs: bool = True  # ECS Fargate SMPL processor
    cognito: bool = True  # user pool + API authorizer (LOCAL: X-Garmax-Dev-User header)
    budgets: bool = True  # AWS Budgets daily cost budget
    usage_plan: bool = True  # API Gateway usage plan
    xray: bool = True  # active tracing on functions and the API


@dataclass(frozen=True)
class Budgets:
    """Daily spend limits in USD (DESIGN.md, "Budget controls and quotas")."""

    daily_usd: float = 200.0
    bedrock_daily_usd: float = 50.0
    replicate_daily_usd: float = 150.0
    gemini_daily_usd: float = 50.0


@dataclass(frozen=True)
class Quotas:
    max_tryons_per_user_daily: int = 50
    max_renders_per_user_daily: int = 20
    max_concurrent_renders_per_user: int = 3


@dataclass(frozen=True)
class StageConfig:
    stage: Stage
    account: str | None
    region: str
    availability_zones: tuple[str, ...]
    profile: str | None = None
    kms_alias: str = "alias/aws/ssm"
    # Compute sizing
    lambda_memory_mb: int = 512
    lambda_timeout_s: int = 300
    api_timeout_s: int = 29
    processor_reserved_concurrency: int = 2
    rds_instance_class: str = "db.t4g.medium"
    ecs_cpu: int = 256  # CPU units: 1024 = 1 vCPU
    ecs_memory_mb: int = 512
    ecs_desired_count: int = 1
    # The SMPL processor's image, pulled from a registry (never built by the CDK app).
    ecs_image: str = "public.ecr.aws/docker/library/python:3.12-slim"
    cache_node_type: str = "cache.t3.micro"
    nat_gateways: int = 1
    log_retention_days: int = 30
    # Data protection
    retain_data: bool = False  # RETAIN stateful resources + termination protection
    point_in_time_recovery: bool = False
    multi_az_database: bool = False
    backup_retention_days: int = 7
    # API throttling
    api_rate_limit: int = 50
    api_burst_limit: int = 100
    # Rendering
    render_provider: str = "replicate"  # local | replicate | gemini | bedrock
    gemini_traffic_percent: int = 0
    budgets: Budgets = field(default_factory=Budgets)
    quotas: Quotas = field(default_factory=Quotas)
    features: Features = field(default_factory=Features)
    custom_domains: tuple[str, ...] = ()

    @property
    def is_local(self) -> bool:
        return self.stage is Stage.LOCAL

    @property
    def ecs_vcpu(self) -> float:
        return self.ecs_cpu / 1024


_US_EAST_1_AZS = ("us-east-1a", "us-east-1b", "us-east-1c")

# LOCAL runs in the embedded emulator: moto's default account, no VPC-bound services.
STAGES: dict[Stage, StageConfig] = {
    Stage.LOCAL: StageConfig(
        stage=Stage.LOCAL,
        account=None,
        region="us-east-1",
        availability_zones=_US_EAST_1_AZS[:2],
        render_provider="local",
        features=Features(
            vpc=False,
            database=False,
            cache=False,
            ecs=False,
            cognito=False,
            budgets=False,
            usage_plan=False,
            xray=False,
        ),
        log_retention_days=7,
    ),
    Stage.DEV: StageConfig(
        stage=Stage.DEV,
        account="111111111111",
        region="us-east-1",
        availability_zones=_US_EAST_1_AZS,
        lambda_memory_mb=512,
        # The guide's db.t3.micro / db.t3.small are RDS classes; Aurora MySQL 3 starts at
        # the burstable *.medium classes (docs/infra.md, "Sizing").
        rds_instance_class="db.t4g.medium",
        ecs_cpu=256,
        ecs_memory_mb=512,
        cache_node_type="cache.t3.micro",
        nat_gateways=1,
        log_retention_days=30,
        budgets=Budgets(daily_usd=50.0, bedrock_daily_usd=10.0, replicate_daily_usd=40.0,
                        gemini_daily_usd=10.0),
    ),
    Stage.QA: StageConfig(
        stage=Stage.QA,
        account="222222222222",
        region="us-east-1",
        availability_zones=_US_EAST_1_AZS,
        lambda_memory_mb=1024,
        rds_instance_class="db.t4g.large",
        ecs_cpu=512,
        ecs_memory_mb=1024,
        cache_node_type="cache.t3.small",
        nat_gateways=2,
        log_retention_days=30,
        budgets=Budgets(daily_usd=75.0, bedrock_daily_usd=20.0, replicate_daily_usd=55.0,
                        gemini_daily_usd=20.0),
    ),
    Stage.PROD: StageConfig(
        stage=Stage.PROD,
        account="333333333333",
        region="us-east-1",
        availability_zones=_US_EAST_1_AZS,
        lambda_memory_mb=2048,
        processor_reserved_concurrency=10,
        rds_instance_class="db.r5.large",
        ecs_cpu=1024,
        ecs_memory_mb=2048,
        ecs_desired_count=2,
        cache_node_type="cache.r5.large",
        nat_gateways=3,
        log_retention_days=90,
        retain_data=True,
        point_in_time_recovery=True,
        multi_az_database=True,
        api_rate_limit=500,
        api_burst_limit=1000,
    ),
}


def get_stage_config(stage: str | Stage, environ: dict[str, str] | None = None) -> StageConfig:
    """The stage's config, with the account/region/profile overrides an operator may set.

    ``GARMAX_{STAGE}_ACCOUNT``, ``GARMAX_{STAGE}_REGION`` and ``GARMAX_{STAGE}_PROFILE``
    let a team point a stage at its own account without editing code.
    """
    canonical = normalize_stage(stage)
    config = STAGES[canonical]
    env = os.environ if environ is None else environ
    overrides: dict[str, str] = {}
    for attr in ("account", "region", "profile"):
        value = env.get(f"GARMAX_{canonical.value}_{attr.upper()}")
        if value:
            overrides[attr] = value
    if canonical is Stage.LOCAL:
        overrides.pop("account", None)
    return replace(config, **overrides) if overrides else config  # type: ignore[arg-type]
