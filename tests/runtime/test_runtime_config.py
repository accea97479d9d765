"""Runtime configuration: environment (names only) and Parameter Store with stage defaults."""

from __future__ import annotations

import pytest

from garmaxctl.shared import stages
from runtime.config import (
    PARAMS_MAX_AGE_S,
    load_budgets,
    load_config,
    load_quotas,
)
from runtime.domain.errors import ConfigurationError


def test_defaults_without_environment_are_local():
    config = load_config({})
    assert config.stage == "LOCAL" and config.params_prefix == "/garmaxai/LOCAL/"
    assert config.render_provider == "local" and config.gemini_traffic_percent == 0
    with pytest.raises(ConfigurationError, match="SESSIONS_TABLE"):
        config.table("Sessions")
    with pytest.raises(ConfigurationError, match="EVENT_BUS_NAME"):
        config.bus()


def test_stage_is_normalised_and_drives_the_defaults():
    config = load_config({"GARMAX_STAGE": "prod", "GEMINI_TRAFFIC_PERCENT": "250"})
    assert config.stage == "PROD" and config.params_prefix == "/garmaxai/PROD/"
    assert config.render_provider == stages.get_stage_config("PROD").render_provider
    assert config.gemini_traffic_percent == 100  # clamped


def test_explicit_prefix_and_provider_win():
    config = load_config({"GARMAX_STAGE": "DEV", "GARMAX_PARAMS_PREFIX": "/x/DEV",
                          "RENDER_PROVIDER": " Bedrock ", "GEMINI_TRAFFIC_PERCENT": "nope"})
    assert config.params_prefix == "/x/DEV/" and config.render_provider == "bedrock"
    assert config.gemini_traffic_percent == 0


def test_budgets_and_quotas_fall_back_to_stage_defaults(stack):
    config = load_config()
    assert load_budgets(config) == stages.get_stage_config("LOCAL").budgets
    assert load_quotas(config) == stages.get_stage_config("LOCAL").quotas


def test_parameter_store_values_override_and_bad_ones_are_ignored(stack):
    stack.put_param("budget/daily-usd", "12.5")
    stack.put_param("budget/bedrock-daily-usd", "PLACEHOLDER")
    stack.put_param("gemini/daily-budget-usd", "7")
    stack.put_param("quotas/max-renders-per-user-daily", "not-a-number")
    stack.put_param("quotas/max-tryons-per-user-daily", "5")
    config = load_config()
    budgets, quotas = load_budgets(config), load_quotas(config)
    defaults = stages.get_stage_config("LOCAL")
    assert budgets.daily_usd == 12.5 and budgets.gemini_daily_usd == 7.0
    assert budgets.bedrock_daily_usd == defaults.budgets.bedrock_daily_usd
    assert quotas.max_tryons_per_user_daily == 5
    assert quotas.max_renders_per_user_daily == defaults.quotas.max_renders_per_user_daily


def test_parameters_are_cached_for_max_age(stack):
    config = load_config()
    stack.put_param("quotas/max-tryons-per-user-daily", "5")
    assert load_quotas(config).max_tryons_per_user_daily == 5
    stack.ssm.put_parameter(Name="/garmaxai/LOCAL/quotas/max-tryons-per-user-daily",
                            Value="9", Type="String", Overwrite=True)  # no cache clear
    assert load_quotas(config).max_tryons_per_user_daily == 5
    assert 60 <= PARAMS_MAX_AGE_S <= 900


def test_cli_can_read_budgets_with_its_own_client_uncached(stack):
    config = load_config({"GARMAX_STAGE": "LOCAL"})
    stack.put_param("budget/daily-usd", "33")
    assert load_budgets(config, ssm_client=stack.ssm).daily_usd == 33.0
    stack.ssm.put_parameter(Name="/garmaxai/LOCAL/budget/daily-usd", Value="44",
                            Type="String", Overwrite=True)
    assert load_budgets(config, ssm_client=stack.ssm).daily_usd == 44.0


def test_missing_secret_is_a_configuration_error_naming_only_the_path(stack):
    from runtime.config import get_secret

    stack.put_param("replicate/api-key", "r8_xxxxxxxxxxxxxxxx", secret=True)  # placeholder
    with pytest.raises(ConfigurationError) as raised:
        get_secret(load_config(), "replicate/api-key")
    assert raised.value.message == "parameter replicate/api-key is not set"
    with pytest.raises(ConfigurationError, match="not available"):
        get_secret(load_config(), "redis/url")


def test_a_denied_gemini_budget_does_not_hide_the_daily_budget(stack, monkeypatch):
    """The Api function may read budget/* but not gemini/* (contract.FUNCTION_PARAMS)."""
    from runtime import config as config_module

    real = config_module._read_plain

    def deny_gemini(config, paths, ssm_client=None):
        # What _read_plain returns when GetParameters is denied: nothing for that batch.
        if any(p.startswith("gemini/") for p in paths.values()):
            return {}
        return real(config, paths, ssm_client)

    stack.put_param("budget/daily-usd", "42")
    monkeypatch.setattr(config_module, "_read_plain", deny_gemini)
    budgets = load_budgets(load_config())
    assert budgets.daily_usd == 42.0
    assert budgets.gemini_daily_usd == stages.get_stage_config("LOCAL").budgets.gemini_daily_usd
