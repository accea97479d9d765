"""Typed configuration of the four stages: LOCAL, DEV, QA, PROD.

Pure data: no boto3, no aws_cdk. The CLI, the CDK app (``infra/``) and the runtime
(``runtime/``) all read stage configuration from here, so sizing, budgets and quotas
are written down once. Values come from the deployment guide's sizing table.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum

from garmaxctl.shared.errors import ConfigError, UsageError


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


# The stand-in for the SMPL processor's image (a public Python image: it has no command of
# its own, so infra/components/data.py gives it one that keeps running and a health check).
PLACEHOLDER_SMPL_IMAGE = "public.ecr.aws/docker/library/python:3.12-slim"


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
    # The SMPL processor's image, pulled from a registry (never built by the CDK app):
    # ``GARMAX_{STAGE}_SMPL_IMAGE``. Until the real image is published, the placeholder,
    # which the CDK app runs with a command that keeps running (docs/infra.md).
    ecs_image: str = PLACEHOLDER_SMPL_IMAGE
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
    def ecs_image_is_placeholder(self) -> bool:
        return self.ecs_image == PLACEHOLDER_SMPL_IMAGE

    @property
    def required_availability_zones(self) -> int:
        """Zones the VPC needs: one per NAT gateway, and two at least (an Aurora DB subnet
        group and a Redis subnet group must span two). A stage without a VPC uses none."""
        return max(self.nat_gateways, 2) if self.features.vpc else 0


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
    """The stage's config, with the overrides an operator may set.

    ``GARMAX_{STAGE}_ACCOUNT``, ``_REGION`` and ``_PROFILE`` point a stage at a team's own
    account without editing code; ``_AZS`` (comma-separated) names the availability zones,
    and must accompany a region override on a stage with a VPC (zone letters differ per
    account); ``_SMPL_IMAGE`` is the SMPL processor's image. A bad combination is a
    :class:`ConfigError` (exit 2) naming the fix.
    """
    canonical = normalize_stage(stage)
    config = STAGES[canonical]
    env = os.environ if environ is None else environ
    prefix = f"GARMAX_{canonical.value}_"
    overrides: dict[str, object] = {}
    for attr in ("account", "region", "profile"):
        value = env.get(f"{prefix}{attr.upper()}", "").strip()
        if value:
            overrides[attr] = value
    if canonical is Stage.LOCAL:
        overrides.pop("account", None)
    image = env.get(f"{prefix}SMPL_IMAGE", "").strip()
    if image:
        overrides["ecs_image"] = image
    zones = tuple(z.strip() for z in env.get(f"{prefix}AZS", "").split(",") if z.strip())
    if zones:
        overrides["availability_zones"] = zones
    moved = overrides.get("region", config.region) != config.region
    config = replace(config, **overrides) if overrides else config  # type: ignore[arg-type]
    return _check_zones(config, moved=moved, zones_given=bool(zones), prefix=prefix)


def _check_zones(config: StageConfig, *, moved: bool, zones_given: bool,
                 prefix: str) -> StageConfig:
    """The zones must be the region's, each once, as many as the stage's VPC needs.

    ``moved``: the region was overridden to another than the stage's own, so the stage's
    default zones are another region's.
    """
    region, needed = config.region, config.required_availability_zones
    if moved and not zones_given:
        if not config.features.vpc:
            # Nothing uses them; the emulator names its zones {region}a, {region}b, ...
            return replace(config, availability_zones=(f"{region}a", f"{region}b"))
        problem = f"{prefix}REGION={region} without {prefix}AZS (zone letters differ per account)"
    elif foreign := [z for z in config.availability_zones
                     if not re.fullmatch(rf"{re.escape(region)}[a-z]", z)]:
        problem = f"{', '.join(foreign)}: not availability zones of {region}"
    elif len(set(config.availability_zones)) != len(config.availability_zones):
        problem = f"{prefix}AZS names a zone twice"
    elif len(config.availability_zones) < needed:
        problem = (f"{len(config.availability_zones)} availability zone(s); the stage needs "
                   f"{needed} (one per NAT gateway, two at least for its database subnets)")
    else:
        return config
    example = ",".join(f"{region}{letter}" for letter in "abcdef"[:max(needed, 1)])
    raise ConfigError(
        f"{config.stage}: {problem}",
        hint=(f"set {prefix}AZS to {max(needed, 1)} or more of {region}'s zones, e.g. "
              f"{prefix}AZS={example} (`aws ec2 describe-availability-zones --region "
              f"{region}` lists this account's)"))
