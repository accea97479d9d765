"""LOCAL's Cost Explorer bridge: the emulator answers GetCostAndUsage and GetCostForecast
with the cost of what ran there (``AWS/Lambda`` metrics, the budget ledger), estimated;
``garmaxctl cost report --refresh`` on LOCAL moves when more work runs."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from garmaxctl.shared import contract
from garmaxctl.stage import prices
from tests.cli.conftest import Run

API = contract.function_name(contract.Function.API, "LOCAL")


def _function(emu, name: str, memory_mb: int, function: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(e, c):\n    return {}\n")
    role = emu.client("iam").create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"Service": "lambda.amazonaws.com"}}]}))
    emu.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role["Role"]["Arn"],
        Handler="index.handler", Code={"ZipFile": buffer.getvalue()}, MemorySize=memory_mb,
        Tags={contract.TAG_STAGE: "LOCAL", contract.TAG_FUNCTION: function})


def _run(emu, name: str, invocations: int, duration_ms: float) -> None:
    """What the LOCAL platform writes for each invocation (AWS/Lambda, per function)."""
    dims = [{"Name": "FunctionName", "Value": name}]
    emu.client("cloudwatch").put_metric_data(Namespace="AWS/Lambda", MetricData=[
        {"MetricName": "Invocations", "Dimensions": dims, "Value": invocations,
         "Unit": "Count"},
        {"MetricName": "Duration", "Dimensions": dims, "Value": duration_ms,
         "Unit": "Milliseconds"}])


def _ledger(emu, provider: str, usd: float) -> None:
    from garmaxctl.shared.stages import get_stage_config
    from runtime.domain.budget import reserve_spend

    ddb = emu.client("dynamodb")
    if "Ledger" not in ddb.list_tables()["TableNames"]:
        ddb.create_table(TableName="Ledger", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}])
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    reserve_spend(ddb, "Ledger", "LOCAL", day, provider, usd,
                  get_stage_config("LOCAL").budgets)


def _today() -> dict[str, str]:
    today = dt.datetime.now(dt.UTC).date()
    return {"Start": today.isoformat(), "End": (today + dt.timedelta(days=1)).isoformat()}


def test_cost_and_usage_is_the_priced_local_usage_marked_estimated(emu) -> None:
    _function(emu, API, 1024, "Api")
    _run(emu, API, 1000, 200_000.0)  # 1000 requests, 200 s at 1 GB
    _ledger(emu, "bedrock", 1.25)
    answer = emu.client("ce").get_cost_and_usage(
        TimePeriod=_today(), Granularity="DAILY", Metrics=["UnblendedCost"],
        Filter={"Tags": {"Key": contract.TAG_STAGE, "Values": ["LOCAL"]}},
        GroupBy=[{"Type": "DIMENSION", "Key": "USAGE_TYPE"}])
    (result,) = answer["ResultsByTime"]
    assert result["Estimated"] is True
    groups = {g["Keys"][0]: Decimal(g["Metrics"]["UnblendedCost"]["Amount"])
              for g in result["Groups"]}
    assert groups["Request"] == 1000 * Decimal(str(prices.LAMBDA_REQUEST))
    assert groups["Lambda-GB-Second"] == Decimal(200) * Decimal(str(prices.LAMBDA_GB_SECOND))
    assert groups["AI-Render-bedrock"] == Decimal("1.25")
    by_function = emu.client("ce").get_cost_and_usage(
        TimePeriod=_today(), Granularity="DAILY", Metrics=["UnblendedCost"],
        GroupBy=[{"Type": "TAG", "Key": contract.TAG_FUNCTION}])
    keys = {g["Keys"][0] for g in by_function["ResultsByTime"][0]["Groups"]}
    assert keys == {"garmaxai:function$Api", "garmaxai:function$AiRenderProcessor"}
    # Another stage's tag finds nothing of LOCAL's.
    other = emu.client("ce").get_cost_and_usage(
        TimePeriod=_today(), Granularity="DAILY", Metrics=["UnblendedCost"],
        Filter={"Tags": {"Key": contract.TAG_STAGE, "Values": ["DEV"]}})
    assert other["ResultsByTime"][0]["Total"]["UnblendedCost"]["Amount"] == "0"


def test_forecast_projects_the_estimate_and_needs_history(emu) -> None:
    from botocore.exceptions import ClientError

    today = dt.datetime.now(dt.UTC).date()
    end = (today.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    period = {"Start": today.isoformat(), "End": end.isoformat()}
    with pytest.raises(ClientError) as caught:
        emu.client("ce").get_cost_forecast(TimePeriod=period, Metric="UNBLENDED_COST",
                                           Granularity="MONTHLY")
    assert caught.value.response["Error"]["Code"] == "DataUnavailableException"
    _ledger(emu, "replicate", 2.0)
    answer = emu.client("ce").get_cost_forecast(TimePeriod=period, Metric="UNBLENDED_COST",
                                                Granularity="MONTHLY",
                                                PredictionIntervalLevel=80)
    assert Decimal(answer["Total"]["Amount"]) == Decimal(2) * (end - today).days


def test_cost_report_on_local_moves_with_refresh_when_more_work_runs(
        emu, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cli = Run(tmp_path)
    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(emu.port))
    _function(emu, API, 512, "Api")
    _run(emu, API, 10, 1000.0)
    result, first = cli.json("cost", "report", "--since", "1d", "--by", "function")
    assert result.exit_code == 0, result.stdout
    assert first["data"]["estimated"] is True
    assert first["data"]["stage_usd"] > 0
    assert [r["key"] for r in first["data"]["rows"]] == ["Api"]
    _run(emu, API, 5000, 900_000.0)  # more work
    _ledger(emu, "gemini", 0.5)
    _, cached = cli.json("cost", "report", "--since", "1d", "--by", "function")
    assert cached["data"]["api"]["requests"] == 0
    assert cached["data"]["stage_usd"] == first["data"]["stage_usd"]  # from the cache
    _, fresh = cli.json("cost", "report", "--since", "1d", "--by", "function", "--refresh")
    assert fresh["data"]["api"]["requests"] == 2
    assert fresh["data"]["stage_usd"] > first["data"]["stage_usd"] + 0.5
    rows = {r["key"]: r["usd"] for r in fresh["data"]["rows"]}
    assert set(rows) == {"Api", "AiRenderProcessor"} and rows["AiRenderProcessor"] == 0.5
    table = cli("cost", "report", "--since", "1d")
    assert "estimated from LOCAL usage" in table.stdout
    forecast, doc = cli.json("cost", "forecast")
    assert forecast.exit_code == 0, forecast.stdout
    assert doc["data"]["projections"][0]["mean_usd"] > 0
