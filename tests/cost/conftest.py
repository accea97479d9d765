"""A Cost Explorer that answers as AWS does, for real-stage tests of ``cost`` commands.

``FakeCostExplorer`` holds cost line items (day, service, usage type, the two tags,
amount) and answers ``GetCostAndUsage`` and ``GetCostForecast`` from them through a
botocore ``before-call`` hook on the run's session, so nothing leaves the process. Its
answers follow the ce service model and AWS's documented behaviour: a grouped answer
has an empty ``Total``; a tag group's key is ``key$value`` (``key$`` untagged); answers
are paginated by ``NextPageToken`` (``page_size`` groups a page, so a period's groups
can span pages); ``DataUnavailableException`` when a forecast has no history. Every
answer is validated against the model's output shape, as botocore's Stubber does.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from garmaxctl.shared import contract
from tests.cli.conftest import Run, assert_envelope, cli, project, write_env  # noqa: F401
from tests.health.conftest import dev, fake_api  # noqa: F401

ACCOUNT = "123456789012"


@dataclass
class Item:
    day: dt.date
    service: str
    usage_type: str
    amount: str  # Cost Explorer's amount string
    stage: str | None = "DEV"
    function: str | None = None


@dataclass
class FakeCostExplorer:
    items: list[Item] = field(default_factory=list)
    page_size: int = 3
    estimated_from: dt.date | None = None  # periods from this day on are Estimated
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def operations(self) -> list[str]:
        return [op for op, _ in self.requests]

    # ------------------------------------------------------------------ the hook

    def install(self, session: Any) -> Any:
        session.events.register("before-call.cost-explorer", self._before_call)
        return session

    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse
        from botocore.validate import validate_parameters

        request = json.loads(params["body"] or b"{}")
        self.requests.append((model.name, request))
        try:
            answer = getattr(self, model.name)(request)
        except ServiceError as exc:
            parsed = {"Error": {"Code": exc.code, "Message": exc.message},
                      "ResponseMetadata": {"HTTPStatusCode": 400}}
            return AWSResponse("https://ce.us-east-1.amazonaws.com/", 400, {}, None), parsed
        validate_parameters(answer, model.output_shape)
        answer["ResponseMetadata"] = {"HTTPStatusCode": 200}
        return AWSResponse("https://ce.us-east-1.amazonaws.com/", 200, {}, None), answer

    # ------------------------------------------------------------------ answers

    def _selected(self, request: dict[str, Any]) -> list[Item]:
        start = dt.date.fromisoformat(request["TimePeriod"]["Start"])
        end = dt.date.fromisoformat(request["TimePeriod"]["End"])
        tags = (request.get("Filter") or {}).get("Tags")
        chosen = [i for i in self.items if start <= i.day < end]
        if tags:
            assert tags["Key"] == contract.TAG_STAGE
            chosen = [i for i in chosen if i.stage in tags["Values"]]
        return chosen

    @staticmethod
    def _periods(request: dict[str, Any]) -> list[tuple[dt.date, dt.date]]:
        start = dt.date.fromisoformat(request["TimePeriod"]["Start"])
        end = dt.date.fromisoformat(request["TimePeriod"]["End"])
        periods, day = [], start
        while day < end:
            if request["Granularity"] == "DAILY":
                nxt = day + dt.timedelta(days=1)
            else:
                nxt = min((day.replace(day=28) + dt.timedelta(days=4)).replace(day=1), end)
            periods.append((day, nxt))
            day = nxt
        return periods

    @staticmethod
    def _key(item: Item, group: dict[str, str]) -> str:
        if group["Type"] == "TAG":
            assert group["Key"] == contract.TAG_FUNCTION
            return f"{group['Key']}${item.function or ''}"
        return {"SERVICE": item.service, "USAGE_TYPE": item.usage_type}[group["Key"]]

    def GetCostAndUsage(self, request: dict[str, Any]) -> dict[str, Any]:
        metric = request["Metrics"][0]
        group = request["GroupBy"][0]
        chosen = self._selected(request)
        flat: list[tuple[tuple[dt.date, dt.date], str, Decimal]] = []
        for period in self._periods(request):
            sums: dict[str, Decimal] = {}
            for item in chosen:
                if period[0] <= item.day < period[1]:
                    key = self._key(item, group)
                    sums[key] = sums.get(key, Decimal(0)) + Decimal(item.amount)
            flat += [(period, k, v) for k, v in sorted(sums.items())] or [(period, "", Decimal(0))]
        offset = int(request.get("NextPageToken") or 0)
        page = flat[offset:offset + self.page_size]
        results: dict[tuple[dt.date, dt.date], dict[str, Any]] = {}
        for period, key, amount in page:
            result = results.setdefault(period, {
                "TimePeriod": {"Start": period[0].isoformat(), "End": period[1].isoformat()},
                "Total": {}, "Groups": [],
                "Estimated": bool(self.estimated_from and period[1] > self.estimated_from)})
            if key:
                result["Groups"].append({"Keys": [key], "Metrics": {
                    metric: {"Amount": str(amount), "Unit": "USD"}}})
        answer: dict[str, Any] = {"GroupDefinitions": request["GroupBy"],
                                  "ResultsByTime": list(results.values()),
                                  "DimensionValueAttributes": []}
        if offset + self.page_size < len(flat):
            answer["NextPageToken"] = str(offset + self.page_size)
        return answer

    def GetCostForecast(self, request: dict[str, Any]) -> dict[str, Any]:
        history = [i for i in self.items
                   if not request.get("Filter") or i.stage in request["Filter"]["Tags"]["Values"]]
        if not history:
            raise ServiceError("DataUnavailableException",
                               "Insufficient amount of historical data to generate forecast.")
        days = (dt.date.fromisoformat(request["TimePeriod"]["End"])
                - dt.date.fromisoformat(request["TimePeriod"]["Start"])).days
        per_day = sum(Decimal(i.amount) for i in history) / len({i.day for i in history})
        mean = per_day * days
        return {"Total": {"Amount": str(mean), "Unit": "USD"},
                "ForecastResultsByTime": [{
                    "TimePeriod": request["TimePeriod"], "MeanValue": str(mean),
                    "PredictionIntervalLowerBound": str(mean * Decimal("0.8")),
                    "PredictionIntervalUpperBound": str(mean * Decimal("1.2"))}]}


class ServiceError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@pytest.fixture
def fake_ce(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCostExplorer]:
    """Cost Explorer answered by a ``FakeCostExplorer`` on every session the CLI makes; a
    DEV stage of account 123456789012 under ``mock_aws`` (STS, SSM, DynamoDB ...)."""
    from moto import mock_aws

    from garmaxctl import aws

    fake = FakeCostExplorer()
    wire = aws.log_the_wire
    monkeypatch.setattr(aws, "log_the_wire", lambda session: fake.install(wire(session)))
    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", ACCOUNT)
    with mock_aws():
        yield fake


def month_of_items(first: dt.date, days: int) -> list[Item]:
    """Line items over ``days`` days: tagged Lambda, DynamoDB, S3 per function, and the
    untagged NAT gateway and CloudWatch costs only the account's total shows."""
    items: list[Item] = []
    for n in range(days):
        day = first + dt.timedelta(days=n)
        items += [
            Item(day, "AWS Lambda", "Lambda-GB-Second", f"{1.25 + n / 100:.10f}",
                 function="Api"),
            Item(day, "AWS Lambda", "Lambda-GB-Second", "0.3333333333",
                 function="TryonProcessor"),
            Item(day, "AWS Lambda", "Request", "0.0000002000", function="Api"),
            Item(day, "Amazon DynamoDB", "TimedStorage-ByteHrs", "0.0712345678"),
            Item(day, "Amazon Simple Storage Service", "Requests-Tier1", "0.0050000001"),
            Item(day, "EC2 - Other", "NatGateway-Hours", "1.0800000000", stage=None),
            Item(day, "AmazonCloudWatch", "CW:MetricMonitorUsage", "0.3000000000",
                 stage=None),
            Item(day, "AWS Lambda", "Lambda-GB-Second", "9.9900000000", stage="QA",
                 function="Api"),
        ]
    return items


def add_ledger_table(stage: Any) -> str:
    """A DEV stage (tests/health's builder) with a budget ledger table of the runtime's
    schema, named in the stack's outputs; its name."""
    spec = next(t for t in contract.TABLES if t.output == contract.OutputKey.LEDGER_TABLE)
    stage.client("dynamodb").create_table(
        TableName="BudgetLedger-DEV", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": spec.partition_key, "KeyType": "HASH"},
                   {"AttributeName": str(spec.sort_key), "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": spec.partition_key, "AttributeType": "S"},
                              {"AttributeName": str(spec.sort_key), "AttributeType": "S"}])
    stage.set_output(contract.OutputKey.LEDGER_TABLE, "BudgetLedger-DEV")
    return "BudgetLedger-DEV"
