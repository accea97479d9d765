"""Cost Explorer on LOCAL: the cost of what really ran in the emulator, estimated.

moto 5.2.5 answers ``GetCostAndUsage`` only with results queued through its own API (empty
otherwise) and ``GetCostForecast`` with a 500. Real Cost Explorer reports the account's
billed usage. This bridge answers both, in the emulator's process, from what happened on
LOCAL, priced with garmaxctl's price table (``garmaxctl.stage.prices``):

- **Lambda**: requests and GB-seconds from the ``AWS/Lambda`` ``Invocations`` and
  ``Duration`` metrics in moto's CloudWatch backend (per ``FunctionName``, written by the
  LOCAL platform), with the function's configured memory; service ``AWS Lambda``, usage
  types ``Request`` and ``Lambda-GB-Second``; the function's ``garmaxai:stage`` and
  ``garmaxai:function`` tags;
- **the AI providers**: each provider's spend per UTC day from the runtime's budget ledger
  (``SPEND#{stage}#{day}`` / ``PROVIDER#{name}`` items, in whichever DynamoDB table holds
  them); Bedrock as ``Amazon Bedrock``, the others as ``<provider> (external)`` — on AWS
  only Bedrock is billed through the account; tagged with the stage and the
  ``AiRenderProcessor`` function that spends it.

What is not observed is left out (SQS, DynamoDB and S3 request charges, storage, data
transfer: moto counts none of them). Every result says ``Estimated: true`` — "estimated
from LOCAL usage". Queued results (moto's documented API) still win when present.

``GetCostAndUsage`` supports what garmaxctl asks: ``DAILY``/``MONTHLY``, any cost metric
(and ``UsageQuantity``), a ``Tags`` filter, one ``GroupBy`` (``SERVICE``, ``USAGE_TYPE`` or
a tag); one page. ``GetCostForecast`` projects the LOCAL estimate: the mean daily cost
since the first observed day times the days asked for, the interval from the lowest and
the highest observed day; ``DataUnavailableException`` with no history, as AWS answers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from garmaxctl.shared import contract
from garmaxctl.stage import prices

from . import BridgeInfo

_MARK = "__garmax_bridge__"
_MICROS = Decimal(1_000_000)


@dataclass(frozen=True)
class LineItem:
    day: dt.date
    service: str
    usage_type: str
    cost: Decimal
    quantity: Decimal
    tags: tuple[tuple[str, str], ...]

    def tag(self, key: str) -> str:
        return dict(self.tags).get(key, "")


def _day(moment: Any) -> dt.date:
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.UTC)
        return moment.date()
    return dt.date.fromisoformat(str(moment)[:10])


def _instantiated(backends: Any) -> Iterable[Any]:
    """Every region backend moto has created (never instantiate new ones)."""
    for regions in list(backends.values()):
        yield from list(regions.values())


def _function_tags(function: Any) -> dict[str, str]:
    tags = dict(getattr(function, "tags", None) or {})
    name = str(function.function_name)
    parts = name.split("-")  # GarmaxAi-{Function}-{STAGE}
    if len(parts) == 3 and parts[0] == "GarmaxAi":
        tags.setdefault(contract.TAG_FUNCTION, parts[1])
        tags.setdefault(contract.TAG_STAGE, parts[2])
    return tags


def lambda_items() -> list[LineItem]:
    """Lambda requests and GB-seconds from the ``AWS/Lambda`` metrics."""
    from moto.awslambda.models import lambda_backends
    from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum, cloudwatch_backends

    functions: dict[str, Any] = {}
    for backend in _instantiated(lambda_backends):
        for function in backend.list_functions():
            functions[str(function.function_name)] = function
    sums: dict[tuple[str, dt.date, str], Decimal] = {}
    for backend in _instantiated(cloudwatch_backends):
        for datum in list(backend.metric_data):
            if datum.namespace != "AWS/Lambda" or datum.name not in ("Invocations", "Duration"):
                continue
            name = next((d.value for d in datum.dimensions if d.name == "FunctionName"), None)
            if name is None:
                continue
            if isinstance(datum, MetricDatum):
                value = Decimal(str(datum.value))
            elif isinstance(datum, MetricAggregatedDatum):
                value = Decimal(str(datum.sum))
            else:  # pragma: no cover - moto has no other kind
                continue
            key = (name, _day(datum.timestamp), datum.name)
            sums[key] = sums.get(key, Decimal(0)) + value
    items: list[LineItem] = []
    for (name, day, metric), value in sums.items():
        function = functions.get(name)
        memory_mb = int(getattr(function, "memory_size", 128) or 128)
        tags = tuple(sorted(_function_tags(function).items())) if function else ()
        if metric == "Invocations":
            items.append(LineItem(day, "AWS Lambda", "Request",
                                  value * Decimal(str(prices.LAMBDA_REQUEST)), value, tags))
        else:  # Duration, milliseconds
            gb_seconds = value / 1000 * Decimal(memory_mb) / 1024
            items.append(LineItem(day, "AWS Lambda", "Lambda-GB-Second",
                                  gb_seconds * Decimal(str(prices.LAMBDA_GB_SECOND)),
                                  gb_seconds, tags))
    return items


def ledger_items() -> list[LineItem]:
    """The AI providers' spend per day from the runtime's budget ledger items."""
    from moto.dynamodb.models import dynamodb_backends

    items: list[LineItem] = []
    for backend in _instantiated(dynamodb_backends):
        for table in list(backend.tables.values()):
            for item in table.all_items():
                attrs = item.attrs
                pk, sk = attrs.get("pk"), attrs.get("sk")
                if pk is None or sk is None:
                    continue
                pk_text, sk_text = str(pk.cast_value), str(sk.cast_value)
                if not pk_text.startswith("SPEND#") or not sk_text.startswith("PROVIDER#"):
                    continue
                _, stage, day = pk_text.split("#", 2)
                provider = sk_text.removeprefix("PROVIDER#")
                spent = attrs.get("spentMicros")
                micros = Decimal(spent.cast_value) if spent is not None else Decimal(0)
                renders = attrs.get("renders")
                if micros <= 0:
                    continue
                service = "Amazon Bedrock" if provider == "bedrock" else \
                    f"{provider.capitalize()} (external)"
                tags = ((contract.TAG_FUNCTION, str(contract.Function.AI_RENDER_PROCESSOR)),
                        (contract.TAG_STAGE, stage))
                items.append(LineItem(
                    dt.date.fromisoformat(day), service, f"AI-Render-{provider}",
                    micros / _MICROS,
                    Decimal(renders.cast_value) if renders is not None else Decimal(0), tags))
    return items


def usage() -> list[LineItem]:
    return lambda_items() + ledger_items()


# --------------------------------------------------------------------------- answers

class _Unsupported(Exception):
    pass


def _matches(item: LineItem, expression: dict[str, Any] | None) -> bool:
    if not expression:
        return True
    if set(expression) - {"Tags", "And"}:
        raise _Unsupported(f"filter {sorted(expression)} (the LOCAL bridge takes Tags, And)")
    if "And" in expression:
        return all(_matches(item, e) for e in expression["And"])
    tags = expression["Tags"]
    return item.tag(tags["Key"]) in tags.get("Values", [])


def _periods(start: dt.date, end: dt.date, granularity: str) -> list[tuple[dt.date, dt.date]]:
    periods, day = [], start
    while day < end:
        if granularity == "DAILY":
            nxt = day + dt.timedelta(days=1)
        else:
            nxt = min((day.replace(day=28) + dt.timedelta(days=4)).replace(day=1), end)
        periods.append((day, nxt))
        day = nxt
    return periods


def _group_key(item: LineItem, group: dict[str, str]) -> str:
    if group["Type"] == "TAG":
        return f"{group['Key']}${item.tag(group['Key'])}"
    if group["Key"] == "SERVICE":
        return item.service
    if group["Key"] == "USAGE_TYPE":
        return item.usage_type
    raise _Unsupported(f"GroupBy {group['Key']} (the LOCAL bridge takes SERVICE, USAGE_TYPE, "
                       "a tag)")


def _metrics(items: list[LineItem], names: list[str]) -> dict[str, dict[str, str]]:
    cost = sum((i.cost for i in items), Decimal(0))
    quantity = sum((i.quantity for i in items), Decimal(0))
    return {name: {"Amount": str(quantity if name == "UsageQuantity" else cost),
                   "Unit": "N/A" if name == "UsageQuantity" else "USD"} for name in names}


def cost_and_usage(request: dict[str, Any], items: list[LineItem]) -> dict[str, Any]:
    start = dt.date.fromisoformat(request["TimePeriod"]["Start"])
    end = dt.date.fromisoformat(request["TimePeriod"]["End"])
    names = list(request.get("Metrics") or ["UnblendedCost"])
    groups = request.get("GroupBy") or []
    if len(groups) > 1:
        raise _Unsupported("more than one GroupBy")
    chosen = [i for i in items if _matches(i, request.get("Filter"))]
    results = []
    for first, after in _periods(start, end, request.get("Granularity", "DAILY")):
        inside = [i for i in chosen if first <= i.day < after]
        result: dict[str, Any] = {
            "TimePeriod": {"Start": first.isoformat(), "End": after.isoformat()},
            "Total": {}, "Groups": [], "Estimated": True}
        if groups:
            keyed: dict[str, list[LineItem]] = {}
            for item in inside:
                keyed.setdefault(_group_key(item, groups[0]), []).append(item)
            result["Groups"] = [{"Keys": [k], "Metrics": _metrics(v, names)}
                                for k, v in sorted(keyed.items())]
        else:
            result["Total"] = _metrics(inside, names)
        results.append(result)
    return {"GroupDefinitions": groups, "ResultsByTime": results,
            "DimensionValueAttributes": []}


def cost_forecast(request: dict[str, Any], items: list[LineItem],
                  today: dt.date) -> dict[str, Any]:
    from moto.core.exceptions import JsonRESTError

    chosen = [i for i in items if _matches(i, request.get("Filter")) and i.day <= today]
    if not chosen:
        raise JsonRESTError("DataUnavailableException",
                            "Insufficient amount of historical data to generate forecast.")
    first = min(i.day for i in chosen)
    days = [first + dt.timedelta(days=n) for n in range((today - first).days + 1)]
    daily = [sum((i.cost for i in chosen if i.day == d), Decimal(0)) for d in days]
    mean_day = sum(daily, Decimal(0)) / len(days)
    start = dt.date.fromisoformat(request["TimePeriod"]["Start"])
    end = dt.date.fromisoformat(request["TimePeriod"]["End"])
    results = []
    for first_day, after in _periods(start, end, request.get("Granularity", "MONTHLY")):
        span = (after - first_day).days
        results.append({"TimePeriod": {"Start": first_day.isoformat(),
                                       "End": after.isoformat()},
                        "MeanValue": str(mean_day * span),
                        "PredictionIntervalLowerBound": str(min(daily) * span),
                        "PredictionIntervalUpperBound": str(max(daily) * span)})
    total = sum((Decimal(str(r["MeanValue"])) for r in results), Decimal(0))
    return {"Total": {"Amount": str(total), "Unit": "USD"}, "ForecastResultsByTime": results}


# --------------------------------------------------------------------------- the patch

def _validation(message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError("ValidationException", message)


def bridge_cost_explorer(clock: Callable[[], dt.datetime] | None = None) -> BridgeInfo:
    """Patch moto's Cost Explorer responses (once): GetCostAndUsage and GetCostForecast
    answer the LOCAL estimate."""
    from moto.ce.responses import CostExplorerResponse

    now = clock or (lambda: dt.datetime.now(dt.UTC))
    original = CostExplorerResponse.__dict__["get_cost_and_usage"]
    if not getattr(original, _MARK, False):
        def get_cost_and_usage(self: Any) -> str:
            backend = self.ce_backend
            if backend.cost_usage_results_queue or self.body in backend.cost_usage_results:
                return str(original(self))  # results queued through moto's API win
            try:
                return json.dumps(cost_and_usage(json.loads(self.body), usage()))
            except _Unsupported as exc:
                raise _validation(str(exc)) from None

        def get_cost_forecast(self: Any) -> str:
            try:
                return json.dumps(cost_forecast(json.loads(self.body), usage(), now().date()))
            except _Unsupported as exc:
                raise _validation(str(exc)) from None

        for function in (get_cost_and_usage, get_cost_forecast):
            setattr(function, _MARK, True)
        get_cost_and_usage.__wrapped__ = original  # type: ignore[attr-defined]
        CostExplorerResponse.get_cost_and_usage = get_cost_and_usage  # type: ignore[method-assign]
        CostExplorerResponse.get_cost_forecast = get_cost_forecast  # type: ignore[attr-defined]
    return BridgeInfo("ce-local-estimate", "patch",
                      "Cost Explorer answers the cost of LOCAL usage (Estimated: true)")
