"""Stage configuration: the guide's sizing table, the normaliser, overrides; pure data."""

from __future__ import annotations

import subprocess
import sys

import pytest

from garmaxctl.errors import UsageError
from garmaxctl.stages import STAGES, Stage, get_stage_config, normalize_stage


@pytest.mark.parametrize(("stage", "memory", "rds", "ecs", "cache", "nat", "reserved", "logs"), [
    (Stage.DEV, 512, "db.t4g.medium", (256, 512), "cache.t3.micro", 1, 2, 30),
    (Stage.QA, 1024, "db.t4g.large", (512, 1024), "cache.t3.small", 2, 2, 30),
    (Stage.PROD, 2048, "db.r5.large", (1024, 2048), "cache.r5.large", 3, 10, 90),
])
def test_sizing_table(stage, memory, rds, ecs, cache, nat, reserved, logs) -> None:
    config = STAGES[stage]
    assert config.lambda_memory_mb == memory
    assert config.rds_instance_class == rds
    assert (config.ecs_cpu, config.ecs_memory_mb) == ecs
    assert config.cache_node_type == cache
    assert config.nat_gateways == nat
    assert config.processor_reserved_concurrency == reserved
    assert config.log_retention_days == logs
    assert len(config.availability_zones) >= nat


def test_local_has_no_account_and_turns_off_vpc_bound_services() -> None:
    local = STAGES[Stage.LOCAL]
    assert local.account is None
    assert not (local.features.vpc or local.features.database or local.features.cache
                or local.features.ecs or local.features.cognito or local.features.budgets)
    assert local.render_provider == "local"


def test_only_prod_retains_data() -> None:
    assert [s for s, c in STAGES.items() if c.retain_data] == [Stage.PROD]


def test_default_budgets_and_quotas_match_the_guide() -> None:
    prod = STAGES[Stage.PROD]
    assert (prod.budgets.daily_usd, prod.budgets.bedrock_daily_usd,
            prod.budgets.replicate_daily_usd) == (200, 50, 150)
    assert (prod.quotas.max_tryons_per_user_daily, prod.quotas.max_renders_per_user_daily,
            prod.quotas.max_concurrent_renders_per_user) == (50, 20, 3)


@pytest.mark.parametrize("value", ["local", "Dev", "qa", " PROD "])
def test_normalize_any_case(value) -> None:
    assert normalize_stage(value).value == value.strip().upper()


def test_unknown_stage_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        normalize_stage("staging")
    assert caught.value.exit_code == 2 and caught.value.code == "unknown_stage"


def test_operator_overrides_account_region_profile() -> None:
    env = {"GARMAX_DEV_ACCOUNT": "999999999999", "GARMAX_DEV_REGION": "eu-west-1",
           "GARMAX_DEV_PROFILE": "garmax-dev", "GARMAX_LOCAL_ACCOUNT": "123"}
    dev = get_stage_config("dev", env)
    assert (dev.account, dev.region, dev.profile) == ("999999999999", "eu-west-1", "garmax-dev")
    assert get_stage_config("local", env).account is None


def test_stages_import_without_aws_cdk_or_boto3() -> None:
    code = ("import sys, garmaxctl.stages, garmaxctl.contract; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('aws_cdk', 'boto3', 'botocore', 'pydantic', 'typer')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
