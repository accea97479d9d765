"""``garmaxctl budget status`` on a DEV stage under moto: the runtime's own ledger and
breaker, the Quotas table's counters, and the AWS Budgets budget's actual and forecast."""

from __future__ import annotations

import datetime as dt

import pytest

from garmaxctl.shared import contract
from tests.cli.conftest import assert_reads_at_80
from tests.cost.conftest import Run, add_ledger_table, assert_envelope
from tests.health.conftest import DevStage

DEV = ("--stage", "DEV")


@pytest.fixture
def ledger(dev: DevStage) -> DevStage:
    """The health fixture's DEV stage with a ledger table of the runtime's schema."""
    add_ledger_table(dev)
    return dev


def _spend(dev: DevStage, provider: str, usd: float) -> None:
    from garmaxctl.shared.stages import get_stage_config
    from runtime.domain.budget import reserve_spend

    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    reserve_spend(dev.client("dynamodb"), dev.outputs[contract.OutputKey.LEDGER_TABLE], "DEV",
                  day, provider, usd, get_stage_config("DEV").budgets)


def _use(dev: DevStage, pk: str, used: int) -> None:
    dev.client("dynamodb").put_item(TableName=dev.outputs[contract.OutputKey.QUOTAS_TABLE],
                                    Item={"pk": {"S": pk}, "used": {"N": str(used)}})


def _budget_with_spend(dev: DevStage, actual: str, forecast: str) -> None:
    """The budget as AWS describes it once it has spend (moto computes none)."""
    budgets, name = dev.client("budgets"), contract.budget_name("DEV")
    budgets.delete_budget(AccountId="123456789012", BudgetName=name)
    budgets.create_budget(AccountId="123456789012", Budget={
        "BudgetName": name, "BudgetLimit": {"Amount": "50", "Unit": "USD"},
        "TimeUnit": "DAILY", "BudgetType": "COST",
        "CalculatedSpend": {"ActualSpend": {"Amount": actual, "Unit": "USD"},
                            "ForecastedSpend": {"Amount": forecast, "Unit": "USD"}}})


def test_budget_status_shows_spend_breaker_top_users_and_the_aws_budget(
        cli: Run, ledger: DevStage) -> None:
    dev = ledger
    # DEV's default budgets: $50 a day, Bedrock $10, Replicate $40.
    _spend(dev, "bedrock", 8)
    _spend(dev, "replicate", 34)  # 42 of 50: 84%, warn
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    _use(dev, f"TRYON#alice#{day}", 49)
    _use(dev, f"RENDER#bob#{day}", 5)
    _use(dev, "ACTIVE#bob", 3)
    _use(dev, "TRYON#carol#2020-01-01", 50)  # another day's: not today's use
    _budget_with_spend(dev, "30.5", "61")
    result, doc = cli.json(*DEV, "budget", "status")
    assert result.exit_code == 0, result.stdout
    assert_envelope(doc, exit_code=0, command="budget status")
    data = doc["data"]
    assert (data["spent_usd"], data["budget_usd"], data["level"]) == (42.0, 50.0, "warn")
    assert data["level_words"] == "warn (80%)"
    assert data["bedrock_enabled"] is True and data["rendering_enabled"] is True
    providers = {p["provider"]: p for p in data["providers"]}
    assert providers["bedrock"]["spent_usd"] == 8.0
    assert providers["replicate"]["percent"] == 85.0
    users = [(u["user"], u["percent"]) for u in data["top_users"]]
    assert users == [("alice", 98.0), ("bob", 100.0)][::-1]
    assert data["aws_budget"]["limit_usd"] == 50.0
    assert data["aws_budget"]["actual_usd"] == 30.5
    assert data["aws_budget"]["forecast_usd"] == 61.0
    # 3 more dollars: 90% of the daily budget turns Bedrock off.
    _spend(dev, "gemini", 3)
    _, doc = cli.json(*DEV, "budget", "status")
    assert doc["data"]["level"] == "bedrock_off"
    assert doc["data"]["level_words"] == "Bedrock off (90%)"
    assert doc["data"]["bedrock_enabled"] is False


def test_budget_status_reports_a_missing_aws_budget_without_failing(cli: Run,
                                                                    dev: DevStage) -> None:
    dev.client("budgets").delete_budget(AccountId="123456789012",
                                        BudgetName=contract.budget_name("DEV"))
    result, doc = cli.json(*DEV, "budget", "status")
    assert result.exit_code == 0
    assert "doesn't exist" in doc["data"]["aws_budget"]["problem"]
    assert doc["data"]["level"] == "closed" and doc["data"]["level_words"] == "normal"


def test_budget_status_tables_read_at_80_columns(ledger: DevStage) -> None:
    dev = ledger

    from garmaxctl.commands.budget import status_outcome
    from garmaxctl.services import budget

    _spend(dev, "gemini", 2.34)
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    _use(dev, f"TRYON#user-0123456789abcdef0123456789abcdef#{day}", 3)
    assert_reads_at_80(status_outcome(budget.status(dev.target())))
