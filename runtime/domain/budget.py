"""Daily spend ledger and the budget circuit breaker.

Ledger items (BudgetLedger table, ``pk``/``sk``), one partition per stage and UTC day:

- ``pk=SPEND#{stage}#{day}``, ``sk=TOTAL``: all providers;
- ``pk=SPEND#{stage}#{day}``, ``sk=PROVIDER#{name}``: one provider.

Each holds ``spentMicros`` (USD x 1e6, an integer so sums and threshold comparisons are
exact) and ``renders``. A render *reserves* its cost before the provider is called with
one ``TransactWriteItems``: the total's condition is ``spentMicros < daily budget`` and
the provider's ``spentMicros < provider budget``. So the spend that crosses 100% is the
last one accepted: once the ledger reaches the budget no reservation succeeds, whatever
the concurrency (DynamoDB serialises writes to an item). A failed call refunds.

Breaker levels on today's total against ``DAILY_BUDGET_USD``: below 80% ``closed``;
>=80% ``warn`` (metric + log + ``BudgetThresholdCrossed`` event); >=90% ``bedrock_off``
(Bedrock is skipped, Replicate takes its place); >=100% ``open`` (rendering refused).
``breaker_state()`` is the read side, for the runtime and the CLI alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from garmaxctl.shared.stages import Budgets, get_stage_config
from runtime.domain import ddb as d
from runtime.domain.errors import BudgetExhausted, DomainError

MICROS = 1_000_000
WARN_PERCENT = 80
BEDROCK_OFF_PERCENT = 90
OPEN_PERCENT = 100

TOTAL_SK = "TOTAL"


class BreakerLevel(StrEnum):
    CLOSED = "closed"
    WARN = "warn"
    BEDROCK_OFF = "bedrock_off"
    OPEN = "open"


LEVEL_ORDER = (BreakerLevel.CLOSED, BreakerLevel.WARN, BreakerLevel.BEDROCK_OFF,
               BreakerLevel.OPEN)
_THRESHOLDS = ((OPEN_PERCENT, BreakerLevel.OPEN), (BEDROCK_OFF_PERCENT, BreakerLevel.BEDROCK_OFF),
               (WARN_PERCENT, BreakerLevel.WARN))


class ProviderBudgetExhausted(DomainError):
    """One provider reached its own daily budget: the router tries the next provider."""

    status = 503
    code = "provider_budget_exhausted"


def to_micros(usd: float | str | Decimal | int) -> int:
    return int((Decimal(str(usd)) * MICROS).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_usd(micros: int) -> float:
    return float(Decimal(micros) / MICROS)


def ledger_pk(stage: str, day: str) -> str:
    return f"SPEND#{stage}#{day}"


def provider_sk(provider: str) -> str:
    return f"PROVIDER#{provider}"


def provider_budget(budgets: Budgets, provider: str) -> float | None:
    """The provider's own daily budget; ``None`` (only the total applies) for ``local``."""
    return {
        "bedrock": budgets.bedrock_daily_usd,
        "replicate": budgets.replicate_daily_usd,
        "gemini": budgets.gemini_daily_usd,
    }.get(provider)


def level_for(spent_micros: int, budget_micros: int) -> BreakerLevel:
    """The breaker level; exact integer comparisons, so 80% of the budget *is* ``warn``."""
    if budget_micros <= 0:
        return BreakerLevel.OPEN
    for percent, level in _THRESHOLDS:
        if spent_micros * 100 >= budget_micros * percent:
            return level
    return BreakerLevel.CLOSED


@dataclass(frozen=True)
class ProviderSpend:
    provider: str
    spent_usd: float
    budget_usd: float | None
    renders: int

    @property
    def exhausted(self) -> bool:
        if self.budget_usd is None:
            return False
        return to_micros(self.spent_usd) >= to_micros(self.budget_usd)


@dataclass(frozen=True)
class BreakerState:
    stage: str
    day: str
    spent_usd: float
    budget_usd: float
    percent: float
    level: BreakerLevel
    renders: int
    providers: tuple[ProviderSpend, ...]

    @property
    def warn(self) -> bool:
        return self.level is not BreakerLevel.CLOSED

    @property
    def bedrock_enabled(self) -> bool:
        return self.level in (BreakerLevel.CLOSED, BreakerLevel.WARN)

    @property
    def rendering_enabled(self) -> bool:
        return self.level is not BreakerLevel.OPEN

    def provider(self, name: str) -> ProviderSpend | None:
        return next((p for p in self.providers if p.provider == name), None)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["level"] = self.level.value
        data.update(warn=self.warn, bedrock_enabled=self.bedrock_enabled,
                    rendering_enabled=self.rendering_enabled)
        for entry, provider in zip(data["providers"], self.providers, strict=True):
            entry["exhausted"] = provider.exhausted
        return data


def _ledger_items(table: str, pk: str, dynamodb: Any) -> list[dict[str, Any]]:
    """Every ledger item of one day, from a client (low-level values) or a resource."""
    items: list[dict[str, Any]] = []
    if hasattr(dynamodb, "Table"):  # a boto3 resource: its client speaks Python values
        from boto3.dynamodb.conditions import Key

        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(pk),
                                  "ConsistentRead": True}
        while True:
            page = dynamodb.Table(table).query(**kwargs)
            items.extend(d.python_value(dict(i)) for i in page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    kwargs = {"TableName": table, "KeyConditionExpression": "pk = :pk",
              "ExpressionAttributeValues": d.values({":pk": pk}), "ConsistentRead": True}
    while True:
        page = dynamodb.query(**kwargs)
        items.extend(d.from_item(i) or {} for i in page.get("Items", []))
        if not page.get("LastEvaluatedKey"):
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def breaker_state(ledger_table_name: str, stage: str, day: str, dynamodb: Any,
                  budgets: Budgets | None = None) -> BreakerState:
    """Today's spend against the budgets: what the breaker would decide right now.

    ``budgets`` defaults to the stage's defaults; the runtime passes what Parameter Store
    says (``runtime.config.load_budgets``), and so can the CLI with its own SSM client.
    """
    budgets = budgets or get_stage_config(stage).budgets
    items = _ledger_items(ledger_table_name, ledger_pk(stage, day), dynamodb)
    total = next((i for i in items if i.get("sk") == TOTAL_SK), {})
    spent = int(total.get("spentMicros", 0))
    budget = to_micros(budgets.daily_usd)
    seen = {str(i["sk"]).removeprefix("PROVIDER#"): i for i in items
            if str(i.get("sk", "")).startswith("PROVIDER#")}
    names = sorted({"bedrock", "replicate", "gemini", *seen})
    providers = tuple(
        ProviderSpend(
            provider=name,
            spent_usd=to_usd(int(seen.get(name, {}).get("spentMicros", 0))),
            budget_usd=provider_budget(budgets, name),
            renders=int(seen.get(name, {}).get("renders", 0)),
        )
        for name in names
    )
    percent = float(Decimal(spent * 100) / Decimal(budget)) if budget > 0 else 100.0
    return BreakerState(
        stage=stage, day=day, spent_usd=to_usd(spent), budget_usd=budgets.daily_usd,
        percent=round(percent, 4), level=level_for(spent, budget),
        renders=int(total.get("renders", 0)), providers=providers,
    )


def _spend_update(table: str, stage: str, day: str, sk: str, micros: int, renders: int,
                  limit_micros: int | None) -> dict[str, Any]:
    update: dict[str, Any] = {
        "TableName": table,
        "Key": d.to_item({"pk": ledger_pk(stage, day), "sk": sk}),
        "UpdateExpression": "ADD spentMicros :c, renders :n",
        "ExpressionAttributeValues": d.values({":c": micros, ":n": renders}),
    }
    if limit_micros is not None:
        update["ConditionExpression"] = "attribute_not_exists(spentMicros) OR spentMicros < :limit"
        update["ExpressionAttributeValues"].update(d.values({":limit": limit_micros}))
    return update


def reserve_spend(ddb: Any, table: str, stage: str, day: str, provider: str, cost_usd: float,
                  budgets: Budgets) -> int:
    """Add a render's cost to today's ledger unless the total or the provider is spent.

    Returns the reserved micros. Raises ``BudgetExhausted`` when today's total has reached
    the daily budget, ``ProviderBudgetExhausted`` when only this provider's has.
    """
    micros = to_micros(cost_usd)
    own = provider_budget(budgets, provider)
    items = [
        {"Update": _spend_update(table, stage, day, TOTAL_SK, micros, 1,
                                 to_micros(budgets.daily_usd))},
        {"Update": _spend_update(table, stage, day, provider_sk(provider), micros, 1,
                                 None if own is None else to_micros(own))},
    ]
    try:
        ddb.transact_write_items(TransactItems=items)
    except ClientError as exc:
        codes = d.cancellation_codes(exc)
        if codes and codes[0] == "ConditionalCheckFailed":
            raise BudgetExhausted(
                f"today's AI spend reached the daily budget (${budgets.daily_usd:g}); "
                "rendering is off until tomorrow (UTC)") from None
        if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
            raise ProviderBudgetExhausted(
                f"{provider} reached its daily budget (${own:g})") from None
        raise
    return micros


def refund_spend(ddb: Any, table: str, stage: str, day: str, provider: str,
                 micros: int) -> None:
    """Take back a reservation whose provider call failed (no condition: always applies)."""
    items = [
        {"Update": _spend_update(table, stage, day, TOTAL_SK, -micros, -1, None)},
        {"Update": _spend_update(table, stage, day, provider_sk(provider), -micros, -1, None)},
    ]
    ddb.transact_write_items(TransactItems=items)


def crossed_level(before: BreakerState, added_micros: int) -> BreakerLevel | None:
    """The higher level a reservation moved the breaker to, if it crossed a threshold."""
    after = level_for(to_micros(before.spent_usd) + added_micros, to_micros(before.budget_usd))
    if LEVEL_ORDER.index(after) > LEVEL_ORDER.index(before.level):
        return after
    return None
