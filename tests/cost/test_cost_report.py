"""``garmaxctl cost report`` / ``cost forecast`` on a real stage, Cost Explorer answered by
``FakeCostExplorer`` (AWS's shapes, paginated, grouped)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest

from tests.cli.conftest import assert_reads_at_80
from tests.cost.conftest import FakeCostExplorer, Item, Run, assert_envelope, month_of_items

DEV = ("--stage", "DEV")
MAY = ("--from", "2025-05-01", "--until", "2025-05-15")


@pytest.fixture
def may(fake_ce: FakeCostExplorer) -> FakeCostExplorer:
    fake_ce.items = month_of_items(dt.date(2025, 5, 1), 31)
    fake_ce.estimated_from = dt.date(2025, 5, 10)
    fake_ce.page_size = 4
    return fake_ce


def _d(value: float) -> Decimal:
    return Decimal(str(value))


def test_report_reads_every_page_and_totals_equal_the_sum_of_rows(cli: Run,
                                                                   may: FakeCostExplorer
                                                                   ) -> None:
    result, doc = cli.json(*DEV, "cost", "report", *MAY, "--max-api-spend", "1")
    assert result.exit_code == 0, result.stdout
    assert_envelope(doc, exit_code=0, command="cost report")
    data = doc["data"]
    # 14 days x 3 tagged services and x 5 services in the account, 4 groups a page: 11 and
    # 18 pages, a day's groups split across two pages.
    tokens = [r for op, r in may.requests if r.get("NextPageToken")]
    assert len(may.requests) == 11 + 18 and len(tokens) == 10 + 17
    assert data["api"]["requests"] == len(may.requests)
    expected_stage = sum(Decimal(i.amount) for i in may.items
                         if i.stage == "DEV" and i.day < dt.date(2025, 5, 15))
    expected_account = sum(Decimal(i.amount) for i in may.items if i.day < dt.date(2025, 5, 15))
    # Each group's amount is rounded once to a millionth of a dollar.
    assert abs(_d(data["stage_usd"]) - expected_stage) < Decimal("0.0001")
    assert abs(_d(data["account_usd"]) - expected_account) < Decimal("0.0001")
    # Totals are the sum of their rows, exactly: by group, by period, and per period.
    assert sum(_d(r["usd"]) for r in data["rows"]) == _d(data["stage_usd"])
    assert sum(_d(p["stage_usd"]) for p in data["periods"]) == _d(data["stage_usd"])
    assert sum(_d(p["account_usd"]) for p in data["periods"]) == _d(data["account_usd"])
    for period in data["periods"]:
        assert sum(_d(v) for v in period["groups"].values()) == _d(period["stage_usd"])
        assert (_d(period["stage_usd"]) + _d(period["untagged_usd"])
                == _d(period["account_usd"]))
    assert _d(data["untagged_usd"]) == _d(data["account_usd"]) - _d(data["stage_usd"])
    assert [p["start"] for p in data["periods"]][:2] == ["2025-05-01", "2025-05-02"]
    assert len(data["periods"]) == 14 and data["end"] == "2025-05-15"
    assert [p["estimated"] for p in data["periods"]].count(True) == 5
    assert data["rows"][0]["key"] == "AWS Lambda"
    # The account's top services include what the stage's tag cannot see.
    tops = {r["key"] for r in data["top_services"]}
    assert {"EC2 - Other", "AmazonCloudWatch"} <= tops
    # QA's Lambda cost is the account's, never DEV's.
    assert "QA" not in str(data["rows"])


def test_report_by_function_groups_on_the_function_tag(cli: Run, may: FakeCostExplorer
                                                       ) -> None:
    result, doc = cli.json(*DEV, "cost", "report", *MAY, "--by", "function",
                           "--max-api-spend", "1")
    assert result.exit_code == 0, result.stdout
    rows = {r["key"]: _d(r["usd"]) for r in doc["data"]["rows"]}
    assert set(rows) == {"Api", "TryonProcessor", "(untagged)"}
    stage_request = may.requests[0][1]
    assert stage_request["GroupBy"] == [{"Type": "TAG", "Key": "garmaxai:function"}]
    assert stage_request["Filter"]["Tags"]["Values"] == ["DEV"]
    api = sum(Decimal(i.amount) for i in may.items if i.stage == "DEV"
              and i.function == "Api" and i.day < dt.date(2025, 5, 15))
    assert abs(rows["Api"] - api) < Decimal("0.0001")


def test_a_second_run_within_6_hours_makes_no_request(cli: Run, may: FakeCostExplorer
                                                       ) -> None:
    first, doc1 = cli.json(*DEV, "cost", "report", *MAY, "--by", "usage-type",
                           "--max-api-spend", "1")
    made = len(may.requests)
    assert made > 2  # pages too
    second, doc2 = cli.json(*DEV, "cost", "report", *MAY, "--by", "usage-type")
    assert first.exit_code == second.exit_code == 0
    assert len(may.requests) == made  # nothing asked of Cost Explorer
    assert doc2["data"]["api"]["requests"] == 0
    assert doc2["data"]["api"]["cached"] == made
    assert doc2["data"]["rows"] == doc1["data"]["rows"]
    # --refresh asks again, every page.
    third, doc3 = cli.json(*DEV, "cost", "report", *MAY, "--by", "usage-type", "--refresh",
                           "--max-api-spend", "1")
    assert third.exit_code == 0
    assert len(may.requests) == 2 * made and doc3["data"]["api"]["requests"] == made


def test_the_footer_counts_requests_and_what_they_cost(cli: Run, may: FakeCostExplorer
                                                        ) -> None:
    may.page_size = 1000  # one page each: two requests
    result = cli(*DEV, "cost", "report", *MAY)
    assert result.exit_code == 0, result.stdout
    assert "Cost Explorer API: 2 request(s) $0.02 ($0.01 each), 0 from cache" in result.stdout
    again = cli(*DEV, "cost", "report", *MAY)
    assert "Cost Explorer API: 0 request(s) $0.00 ($0.01 each), 2 from cache" in again.stdout


def test_max_api_spend_refuses_a_run_before_any_request(cli: Run, may: FakeCostExplorer
                                                        ) -> None:
    result, doc = cli.json(*DEV, "cost", "report", *MAY, "--max-api-spend", "0.01")
    assert result.exit_code == 2
    assert_envelope(doc, exit_code=2, command="cost report")
    assert doc["error"]["code"] == "api_spend_limit"
    assert "needs 2 Cost Explorer request(s)" in doc["error"]["message"]
    assert may.requests == []


def test_max_api_spend_stops_at_the_page_that_would_cross_it(cli: Run, may: FakeCostExplorer
                                                              ) -> None:
    result, doc = cli.json(*DEV, "cost", "report", *MAY)  # default cap: $0.05
    assert result.exit_code == 2
    assert doc["error"]["code"] == "api_spend_limit"
    assert len(may.requests) == 5  # $0.05, never a sixth


def test_cached_pages_are_free_and_the_cap_counts_only_new_requests(cli: Run,
                                                                   may: FakeCostExplorer
                                                                   ) -> None:
    may.page_size = 1000
    assert cli(*DEV, "cost", "report", *MAY).exit_code == 0
    # Both requests cached: a run with no budget at all still answers.
    result, doc = cli.json(*DEV, "cost", "report", *MAY, "--max-api-spend", "0")
    assert result.exit_code == 0 and doc["data"]["api"]["requests"] == 0


def test_csv_has_every_row(cli: Run, may: FakeCostExplorer, tmp_path: Path) -> None:
    may.page_size = 1000
    target = tmp_path / "cost.csv"
    result, doc = cli.json(*DEV, "cost", "report", *MAY, "--csv", str(target))
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    stage = [r for r in rows if r["scope"] == "stage"]
    assert len(stage) == 14 * 3
    assert sum(Decimal(r["amount_usd"]) for r in stage) == _d(doc["data"]["stage_usd"])


def test_an_untagged_account_says_how_to_activate_the_tag(cli: Run,
                                                          fake_ce: FakeCostExplorer) -> None:
    fake_ce.items = [Item(dt.date(2025, 5, 2), "AWS Lambda", "Request", "1.5", stage=None)]
    fake_ce.page_size = 1000
    result, doc = cli.json(*DEV, "cost", "report", *MAY)
    assert result.exit_code == 0
    assert doc["data"]["stage_usd"] == 0 and doc["data"]["account_usd"] == 1.5
    assert any("cost allocation tag" in n for n in doc["data"]["notes"])


def test_forecast_to_month_end_with_its_interval(cli: Run, may: FakeCostExplorer) -> None:
    result, doc = cli.json(*DEV, "cost", "forecast")
    assert result.exit_code == 0, result.stdout
    data = doc["data"]
    today = dt.datetime.now(dt.UTC).date()
    assert data["start"] == today.isoformat()
    assert data["end"] == (today.replace(day=28) + dt.timedelta(days=4)).replace(
        day=1).isoformat()
    stage, account = data["projections"]
    assert stage["scope"] == "stage" and account["scope"] == "account"
    assert stage["lower_usd"] < stage["mean_usd"] < stage["upper_usd"]
    assert account["mean_usd"] > stage["mean_usd"]
    ops = [r for op, r in may.requests if op == "GetCostForecast"]
    assert ops[0]["Filter"]["Tags"]["Values"] == ["DEV"] and "Filter" not in ops[1]
    assert ops[0]["PredictionIntervalLevel"] == 80


def test_forecast_without_history_says_so_instead_of_failing(cli: Run,
                                                             fake_ce: FakeCostExplorer
                                                             ) -> None:
    fake_ce.items = [Item(dt.date(2025, 5, 2), "AWS Lambda", "Request", "1.5", stage=None)]
    result, doc = cli.json(*DEV, "cost", "forecast")
    assert result.exit_code == 0
    stage, account = doc["data"]["projections"]
    assert stage["mean_usd"] is None and "historical data" in stage["problem"]
    assert account["mean_usd"] is not None


def _dev_target() -> object:
    from garmaxctl.aws import AwsTarget
    from garmaxctl.shared.stages import get_stage_config
    from garmaxctl.stage.target import StageTarget

    return StageTarget(AwsTarget(stage=get_stage_config("DEV")))


def test_the_cache_keeps_an_answer_for_6_hours_by_the_injected_clock(
        may: FakeCostExplorer, tmp_path: Path) -> None:
    from garmaxctl.services import cost

    may.page_size = 1000
    now = [dt.datetime(2025, 6, 1, 8, 0, tzinfo=dt.UTC)]
    start, end = dt.datetime(2025, 5, 1, tzinfo=dt.UTC), dt.datetime(2025, 5, 15, tzinfo=dt.UTC)

    def run() -> cost.ApiUsage:
        explorer = cost.CostExplorer(_dev_target(), clock=lambda: now[0],
                                     cache_dir=tmp_path / "cache")
        return cost.report(explorer.target, explorer, start=start, end=end).api

    assert run().requests == 2
    now[0] += dt.timedelta(hours=5, minutes=59)
    assert (run().requests, len(may.requests)) == (0, 2)
    now[0] += dt.timedelta(minutes=1)  # 6 hours after the answers were saved
    assert run().requests == 2 and len(may.requests) == 4
    # A different request (another range) is another cache entry.
    start = dt.datetime(2025, 5, 2, tzinfo=dt.UTC)
    assert run().requests == 2


def test_report_tables_read_at_80_columns(cli: Run, may: FakeCostExplorer) -> None:
    from garmaxctl.commands.cost import report_outcome
    from garmaxctl.services import cost

    may.page_size = 1000
    may.items.append(Item(dt.date(2025, 5, 3), "Amazon Elastic Compute Cloud - Compute",
                          "USE1-DataTransfer-Regional-Bytes", "12.5"))
    explorer = cost.CostExplorer(_dev_target())
    for by in ("service", "usage-type"):
        result = cost.report(explorer.target, explorer,
                             start=dt.datetime(2025, 5, 1, tzinfo=dt.UTC),
                             end=dt.datetime(2025, 5, 15, tzinfo=dt.UTC), by=by)
        assert_reads_at_80(report_outcome(result))
