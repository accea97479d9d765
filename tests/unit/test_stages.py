"""Stage configuration: the guide's sizing table, the normaliser, overrides; pure data."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from garmaxctl.shared.errors import ConfigError, UsageError
from garmaxctl.shared.stages import (
    PLACEHOLDER_SMPL_IMAGE,
    STAGES,
    Stage,
    get_stage_config,
    normalize_stage,
)


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


def test_operator_overrides_account_region_zones_profile() -> None:
    env = {"GARMAX_DEV_ACCOUNT": "999999999999", "GARMAX_DEV_REGION": "eu-west-1",
           "GARMAX_DEV_AZS": " eu-west-1b, eu-west-1c ", "GARMAX_DEV_PROFILE": "garmax-dev",
           "GARMAX_LOCAL_ACCOUNT": "123"}
    dev = get_stage_config("dev", env)
    assert (dev.account, dev.region, dev.profile) == ("999999999999", "eu-west-1", "garmax-dev")
    assert dev.availability_zones == ("eu-west-1b", "eu-west-1c")
    assert get_stage_config("local", env).account is None


# ----------------------------------------------------------- issue 11 item 11: region + AZs

@pytest.mark.parametrize("stage", ["DEV", "QA", "PROD"])
def test_a_region_override_without_zones_is_refused_with_the_fix(stage) -> None:
    with pytest.raises(ConfigError) as caught:
        get_stage_config(stage, {f"GARMAX_{stage}_REGION": "eu-west-1"})
    error = caught.value
    assert error.exit_code == 2 and error.code == "invalid_config"
    line = error.one_line()
    assert f"GARMAX_{stage}_REGION=eu-west-1" in line and f"GARMAX_{stage}_AZS=" in line
    assert "\n" not in line


@pytest.mark.parametrize(("zones", "problem"), [
    ("us-east-1a,us-east-1b", "not availability zones of eu-west-1"),
    ("eu-west-1a,eu-west-1", "eu-west-1: not availability zones"),
    ("eu-west-1a,eu-west-2b", "eu-west-2b: not availability zones of eu-west-1"),
    ("eu-west-1a,eu-west-1a", "names a zone twice"),
    ("eu-west-1a", "1 availability zone(s); the stage needs 2"),
])
def test_zones_must_be_the_regions_each_once_and_enough(zones, problem) -> None:
    with pytest.raises(ConfigError) as caught:
        get_stage_config("dev", {"GARMAX_DEV_REGION": "eu-west-1", "GARMAX_DEV_AZS": zones})
    assert problem in caught.value.message


def test_zone_count_follows_the_stages_nat_gateways() -> None:
    two = "eu-west-1a,eu-west-1b"
    assert get_stage_config("qa", {"GARMAX_QA_REGION": "eu-west-1",
                                   "GARMAX_QA_AZS": two}).availability_zones == (
        "eu-west-1a", "eu-west-1b")
    with pytest.raises(ConfigError, match="the stage needs 3"):  # PROD: 3 NAT gateways
        get_stage_config("prod", {"GARMAX_PROD_REGION": "eu-west-1", "GARMAX_PROD_AZS": two})
    prod = get_stage_config("prod", {"GARMAX_PROD_REGION": "eu-west-1",
                                     "GARMAX_PROD_AZS": two + ",eu-west-1c"})
    assert len(prod.availability_zones) == prod.nat_gateways == 3


def test_zones_alone_are_checked_against_the_stages_own_region() -> None:
    assert get_stage_config("dev", {"GARMAX_DEV_AZS": "us-east-1d,us-east-1f"}
                            ).availability_zones == ("us-east-1d", "us-east-1f")
    with pytest.raises(ConfigError, match="not availability zones of us-east-1"):
        get_stage_config("dev", {"GARMAX_DEV_AZS": "eu-west-1a,eu-west-1b"})


def test_naming_the_stages_own_region_needs_no_zones() -> None:
    assert get_stage_config("dev", {"GARMAX_DEV_REGION": "us-east-1"}) == STAGES[Stage.DEV]


def test_local_has_no_vpc_so_a_region_override_takes_the_emulators_zone_names() -> None:
    local = get_stage_config("local", {"GARMAX_LOCAL_REGION": "eu-west-1"})
    assert (local.region, local.availability_zones) == ("eu-west-1", ("eu-west-1a",
                                                                      "eu-west-1b"))


@pytest.mark.parametrize("stage", ["LOCAL", "DEV", "QA", "PROD"])
def test_every_stages_own_zones_pass_its_check(stage) -> None:
    config = get_stage_config(stage, {})
    assert all(z.startswith(config.region) for z in config.availability_zones)
    assert len(config.availability_zones) >= config.required_availability_zones


def test_cli_refuses_a_region_override_without_zones_with_exit_2(tmp_path, monkeypatch) -> None:
    from garmaxctl.app import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["-s", "dev", "-o", "json", "config", "show"],
                                env={"GARMAX_DEV_REGION": "eu-west-1"})
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert (document["ok"], document["exit_code"]) == (False, 2)
    assert document["error"]["code"] == "invalid_config"
    assert "GARMAX_DEV_AZS" in document["error"]["message"]
    fixed = CliRunner().invoke(app, ["-s", "dev", "-o", "json", "config", "show"],
                               env={"GARMAX_DEV_REGION": "eu-west-1",
                                    "GARMAX_DEV_AZS": "eu-west-1a,eu-west-1b"})
    assert fixed.exit_code == 0, fixed.stdout
    shown = json.loads(fixed.stdout)["data"]["stage_config"]
    assert (shown["region"], shown["availability_zones"]) == ("eu-west-1",
                                                              ["eu-west-1a", "eu-west-1b"])


# ----------------------------------------------------------- issue 11 item 10: SMPL image

def test_smpl_image_defaults_to_the_placeholder_and_is_configurable_per_stage() -> None:
    assert all(c.ecs_image == PLACEHOLDER_SMPL_IMAGE and c.ecs_image_is_placeholder
               for c in STAGES.values())
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/garmax-smpl:1.4.0"
    qa = get_stage_config("qa", {"GARMAX_QA_SMPL_IMAGE": image})
    assert qa.ecs_image == image and not qa.ecs_image_is_placeholder
    assert get_stage_config("dev", {"GARMAX_QA_SMPL_IMAGE": image}).ecs_image_is_placeholder


def test_stages_import_without_aws_cdk_or_boto3() -> None:
    code = ("import sys, garmaxctl.shared.stages, garmaxctl.shared.contract; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('aws_cdk', 'boto3', 'botocore', 'pydantic', 'typer')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
