"""The stage's cost from Cost Explorer (``ce:GetCostAndUsage``) and its forecast to the end
of the month (``ce:GetCostForecast``).

The stage's cost is what carries its ``garmaxai:stage`` cost allocation tag; the account's
total comes beside it, because untagged costs (NAT, CloudWatch, KMS, data transfer) only
show there. Grouped answers carry no ``Total`` (AWS leaves it empty when ``GroupBy`` is
given), so every total here is the sum of its groups: each group's amount string is
rounded once to a millionth of a dollar, and every sum after that is exact (``Decimal``),
so a total always equals the sum of the rows shown.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from garmaxctl.services.cost.explorer import ApiUsage, CostExplorer, DataUnavailable
from garmaxctl.shared import contract

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

METRIC = "UnblendedCost"
FORECAST_METRIC = "UNBLENDED_COST"
PREDICTION_INTERVAL = 80
GRANULARITIES = ("daily", "monthly")
BY: dict[str, dict[str, str]] = {
    "service": {"Type": "DIMENSION", "Key": "SERVICE"},
    "usage-type": {"Type": "DIMENSION", "Key": "USAGE_TYPE"},
    "function": {"Type": "TAG", "Key": contract.TAG_FUNCTION},
}
TOP_SERVICES = 5
UNTAGGED = "(untagged)"
_MICRO = Decimal("0.000001")


def _usd(amount: Decimal) -> float:
    return float(amount.quantize(_MICRO))


@dataclass
class Period:
    start: str  # YYYY-MM-DD
    end: str  # exclusive
    stage_usd: float
    account_usd: float
    untagged_usd: float  # in the account's total, not the stage's tag
    estimated: bool  # Cost Explorer's own flag: not final (or estimated from LOCAL usage)
    groups: dict[str, float] = field(default_factory=dict)


@dataclass
class Line:
    key: str
    usd: float
    percent: float  # of its total


@dataclass
class CostReport:
    stage: str
    start: str
    end: str  # exclusive, as Cost Explorer takes it
    granularity: str
    by: str
    metric: str
    unit: str
    stage_usd: float
    account_usd: float
    untagged_usd: float
    estimated: bool
    periods: list[Period]
    rows: list[Line]  # the stage's cost by ``by``, largest first
    top_services: list[Line]  # the account's
    api: ApiUsage
    notes: list[str] = field(default_factory=list)


def date_range(start: dt.datetime, end: dt.datetime) -> tuple[dt.date, dt.date]:
    """Cost Explorer's days for a moment range: the start's day, and the end rounded up to
    the next midnight (Cost Explorer's ``End`` is exclusive: today is included)."""
    last = end.date() if end.timetz().replace(tzinfo=None) == dt.time() else \
        end.date() + dt.timedelta(days=1)
    return start.date(), max(last, start.date() + dt.timedelta(days=1))


def stage_filter(stage: str) -> dict[str, Any]:
    return {"Tags": {"Key": contract.TAG_STAGE, "Values": [stage], "MatchOptions": ["EQUALS"]}}


def report_requests(stage: str, first: dt.date, end: dt.date, granularity: str,
                    by: str) -> list[tuple[str, dict[str, Any]]]:
    """The two requests of a report: the stage's tag grouped by ``by``, and the account
    grouped by service."""
    common = {"TimePeriod": {"Start": first.isoformat(), "End": end.isoformat()},
              "Granularity": granularity.upper(), "Metrics": [METRIC]}
    return [
        ("get_cost_and_usage", {**common, "Filter": stage_filter(stage),
                                "GroupBy": [BY[by]]}),
        ("get_cost_and_usage", {**common, "GroupBy": [BY["service"]]}),
    ]


def _group_key(keys: list[str]) -> str:
    key = keys[0] if keys else ""
    if "$" in key:  # a tag group: "garmaxai:function$Api", "garmaxai:function$" untagged
        key = key.split("$", 1)[1]
    return key or UNTAGGED


def merge_pages(pages: list[dict[str, Any]]) -> tuple[dict[tuple[str, str], dict[str, Decimal]],
                                                      set[tuple[str, str]], str]:
    """Each period's amounts by group over every page (a period's groups may span pages),
    the periods Cost Explorer marks ``Estimated``, and the unit."""
    periods: dict[tuple[str, str], dict[str, Decimal]] = {}
    estimated: set[tuple[str, str]] = set()
    unit = "USD"
    for page in pages:
        for result in page.get("ResultsByTime", []):
            period = (result["TimePeriod"]["Start"], result["TimePeriod"]["End"])
            groups = periods.setdefault(period, {})
            if result.get("Estimated"):
                estimated.add(period)
            for group in result.get("Groups", []):
                value = group.get("Metrics", {}).get(METRIC, {})
                key = _group_key(group.get("Keys", []))
                amount = Decimal(value.get("Amount", "0")).quantize(_MICRO)
                groups[key] = groups.get(key, Decimal(0)) + amount
                unit = value.get("Unit", unit)
            total = (result.get("Total") or {}).get(METRIC)
            if total and not result.get("Groups"):
                groups.setdefault("(total)", Decimal(total.get("Amount", "0")).quantize(_MICRO))
    return periods, estimated, unit


def _lines(amounts: dict[str, Decimal]) -> list[Line]:
    total = sum(amounts.values(), Decimal(0))
    ordered = sorted(amounts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [Line(key=k, usd=_usd(v),
                 percent=round(float(v * 100 / total), 1) if total else 0.0)
            for k, v in ordered if v.quantize(_MICRO) != 0]


def report(target: StageTarget, explorer: CostExplorer, *, start: dt.datetime,
           end: dt.datetime, by: str = "service", granularity: str = "daily") -> CostReport:
    """The stage's cost between ``start`` and ``end`` by ``by``, beside the account's."""
    target.check_account()
    first, last = date_range(start, end)
    requests = report_requests(target.name, first, last, granularity, by)
    explorer.require(requests)
    stage_periods, stage_est, unit = merge_pages(explorer.pages(*requests[0]))
    account_periods, account_est, _ = merge_pages(explorer.pages(*requests[1]))
    periods: list[Period] = []
    by_key: dict[str, Decimal] = {}
    by_service: dict[str, Decimal] = {}
    stage_total = account_total = Decimal(0)
    for key in sorted(set(stage_periods) | set(account_periods)):
        groups = stage_periods.get(key, {})
        services = account_periods.get(key, {})
        stage_sum = sum(groups.values(), Decimal(0)).quantize(_MICRO)
        account_sum = sum(services.values(), Decimal(0)).quantize(_MICRO)
        stage_total += stage_sum
        account_total += account_sum
        for name, amount in groups.items():
            by_key[name] = by_key.get(name, Decimal(0)) + amount
        for name, amount in services.items():
            by_service[name] = by_service.get(name, Decimal(0)) + amount
        periods.append(Period(
            start=key[0], end=key[1], stage_usd=_usd(stage_sum), account_usd=_usd(account_sum),
            untagged_usd=_usd(max(account_sum - stage_sum, Decimal(0))),
            estimated=key in stage_est or key in account_est,
            groups={k: _usd(v) for k, v in sorted(groups.items())}))
    notes: list[str] = []
    if account_total and not stage_total:
        notes.append(f"no cost carries the {contract.TAG_STAGE} tag: activate it as a cost "
                     "allocation tag (docs/cost.md); tags count from activation on")
    if by == "function" and stage_total and set(by_key) <= {UNTAGGED}:
        notes.append(f"no cost carries the {contract.TAG_FUNCTION} tag: activate it as a "
                     "cost allocation tag (docs/cost.md)")
    return CostReport(
        stage=target.name, start=first.isoformat(), end=last.isoformat(),
        granularity=granularity, by=by, metric=METRIC, unit=unit,
        stage_usd=_usd(stage_total), account_usd=_usd(account_total),
        untagged_usd=_usd(max(account_total - stage_total, Decimal(0))),
        estimated=any(p.estimated for p in periods), periods=periods,
        rows=_lines(by_key), top_services=_lines(by_service)[:TOP_SERVICES],
        api=explorer.usage, notes=notes)


# --------------------------------------------------------------------------- forecast

@dataclass
class Projection:
    scope: str  # "stage" (its tag) | "account"
    mean_usd: float | None
    lower_usd: float | None
    upper_usd: float | None
    problem: str | None = None  # Cost Explorer has no forecast (too little history)


@dataclass
class CostForecast:
    stage: str
    start: str  # today
    end: str  # the first day of next month (exclusive)
    prediction_interval: int  # percent
    unit: str
    projections: list[Projection]
    api: ApiUsage


def month_end(today: dt.date) -> dt.date:
    """The first day of the next month (Cost Explorer's exclusive ``End``)."""
    return (today.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def forecast_requests(stage: str, today: dt.date) -> list[tuple[str, dict[str, Any]]]:
    common = {"TimePeriod": {"Start": today.isoformat(), "End": month_end(today).isoformat()},
              "Metric": FORECAST_METRIC, "Granularity": "MONTHLY",
              "PredictionIntervalLevel": PREDICTION_INTERVAL}
    return [("get_cost_forecast", {**common, "Filter": stage_filter(stage)}),
            ("get_cost_forecast", dict(common))]


def _amount(value: Any) -> float | None:
    try:
        return _usd(Decimal(str(value)))
    except (ArithmeticError, ValueError, TypeError):
        return None


def forecast(target: StageTarget, explorer: CostExplorer, *,
             today: dt.date | None = None) -> CostForecast:
    """The stage's and the account's cost from today to the end of the month."""
    target.check_account()
    today = today or explorer.clock().date()
    requests = forecast_requests(target.name, today)
    explorer.require(requests)
    projections: list[Projection] = []
    unit = "USD"
    for scope, (operation, params) in zip(("stage", "account"), requests, strict=True):
        try:
            answer = explorer.call(operation, params)
        except DataUnavailable as exc:
            projections.append(Projection(scope, None, None, None, problem=str(exc)))
            continue
        total = answer.get("Total") or {}
        unit = total.get("Unit", unit)
        results = answer.get("ForecastResultsByTime", [])
        lower = sum((Decimal(r.get("PredictionIntervalLowerBound", "0")) for r in results),
                    Decimal(0))
        upper = sum((Decimal(r.get("PredictionIntervalUpperBound", "0")) for r in results),
                    Decimal(0))
        projections.append(Projection(scope, _amount(total.get("Amount")),
                                      _usd(lower) if results else None,
                                      _usd(upper) if results else None))
    return CostForecast(stage=target.name, start=today.isoformat(),
                        end=month_end(today).isoformat(),
                        prediction_interval=PREDICTION_INTERVAL, unit=unit,
                        projections=projections, api=explorer.usage)
