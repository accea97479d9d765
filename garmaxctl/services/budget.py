"""``garmaxctl budget status``: today's AI spend against the daily budgets, the runtime
breaker's level, the users closest to their quotas, and the AWS Budgets budget.

Spend and level come from the runtime's own ``breaker_state`` (``stage.budget``), so this
report and the breaker never disagree. Budgets change through ``.env`` and ``params push``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from garmaxctl.shared import contract
from garmaxctl.stage import budget as stage_budget

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

TOP_USERS = 5
# The breaker's levels in the words of the guide's "Budget Controls".
LEVEL_WORDS = {"closed": "normal", "warn": "warn (80%)", "bedrock_off": "Bedrock off (90%)",
               "open": "rendering off (100%)"}


@dataclass
class ProviderRow:
    provider: str
    spent_usd: float
    budget_usd: float | None
    percent: float | None
    renders: int
    exhausted: bool


@dataclass
class UserUse:
    user: str
    tryons: int
    renders: int
    concurrent: int
    percent: float  # the highest of the three against its limit


@dataclass
class AwsBudget:
    name: str
    time_unit: str | None = None
    limit_usd: float | None = None
    actual_usd: float | None = None
    forecast_usd: float | None = None
    problem: str | None = None

    @property
    def actual_percent(self) -> float | None:
        return _percent(self.actual_usd, self.limit_usd)

    @property
    def forecast_percent(self) -> float | None:
        return _percent(self.forecast_usd, self.limit_usd)


@dataclass
class BudgetStatus:
    stage: str
    day: str
    spent_usd: float | None
    budget_usd: float | None
    percent: float | None
    level: str | None  # the runtime's: closed | warn | bedrock_off | open
    level_words: str | None
    bedrock_enabled: bool | None
    rendering_enabled: bool | None
    providers: list[ProviderRow]
    budget_defaults: list[str]  # budget parameters unset in Parameter Store
    quotas: dict[str, int]
    top_users: list[UserUse]
    aws_budget: AwsBudget | None
    notes: list[str] = field(default_factory=list)


def _percent(value: float | None, limit: float | None) -> float | None:
    if value is None or not limit:
        return None
    return round(value * 100 / limit, 1)


def top_users(target: StageTarget, day: str, quotas: Any, *, limit: int = TOP_USERS
              ) -> list[UserUse]:
    """The users closest to a quota today, from the Quotas table's counters."""
    table = target.output(contract.OutputKey.QUOTAS_TABLE)
    if not table:
        return []
    counts: dict[str, dict[str, int]] = {}
    paginator = target.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(TableName=table, ProjectionExpression="pk, used"):
        for item in page.get("Items", []):
            pk = item.get("pk", {}).get("S", "")
            used = int(item.get("used", {}).get("N", "0"))
            kind, _, rest = pk.partition("#")
            if kind == "ACTIVE":
                counts.setdefault(rest, {})["concurrent"] = used
            elif kind in ("TRYON", "RENDER") and rest.endswith("#" + day):
                user = rest[: -len(day) - 1]
                counts.setdefault(user, {})["tryons" if kind == "TRYON" else "renders"] = used
    uses = []
    for user, c in counts.items():
        tryons, renders, concurrent = (c.get("tryons", 0), c.get("renders", 0),
                                       c.get("concurrent", 0))
        shares = [_percent(tryons, quotas.max_tryons_per_user_daily),
                  _percent(renders, quotas.max_renders_per_user_daily),
                  _percent(concurrent, quotas.max_concurrent_renders_per_user)]
        percent = max((s for s in shares if s is not None), default=0.0)
        if tryons or renders or concurrent:
            uses.append(UserUse(user, tryons, renders, concurrent, percent))
    uses.sort(key=lambda u: (-u.percent, -(u.tryons + u.renders), u.user))
    return uses[:limit]


def aws_budget(target: StageTarget) -> AwsBudget:
    """The stage's AWS Budgets budget (``budgets:DescribeBudget``): limit, actual and
    forecasted spend of its period."""
    from botocore.exceptions import ClientError

    from garmaxctl.aws import describe_error

    name = target.output(contract.OutputKey.BUDGET_NAME) or contract.budget_name(target.name)
    account = target.config.account or target.aws.caller_identity()["account"]
    try:
        found = target.client("budgets").describe_budget(AccountId=account,
                                                         BudgetName=name)["Budget"]
    except ClientError as exc:
        return AwsBudget(name=name, problem=describe_error(exc).line())
    spend = found.get("CalculatedSpend") or {}

    def amount(value: dict[str, Any] | None) -> float | None:
        return float(value["Amount"]) if value and "Amount" in value else None

    return AwsBudget(name=name, time_unit=found.get("TimeUnit"),
                     limit_usd=amount(found.get("BudgetLimit")),
                     actual_usd=amount(spend.get("ActualSpend")),
                     forecast_usd=amount(spend.get("ForecastedSpend")))


def status(target: StageTarget) -> BudgetStatus:
    """Today's spend, the breaker, the top users and (where deployed) the AWS budget."""
    target.check_account()
    day = stage_budget.today()
    notes: list[str] = []
    found = stage_budget.breaker(target, day)
    quotas = stage_budget.read_quotas(target)
    if found is None:
        notes.append(f"stack {target.stack} has no {contract.OutputKey.LEDGER_TABLE} output: "
                     "no spend to show")
        state, defaulted = None, list[str]()
    else:
        state, defaulted = found
    if defaulted:
        notes.append("budgets not in Parameter Store, stage defaults used: "
                     + ", ".join(defaulted) + " (set them in .env, then `params push`)")
    providers = [] if state is None else [
        ProviderRow(p.provider, p.spent_usd, p.budget_usd, _percent(p.spent_usd, p.budget_usd),
                    p.renders, p.exhausted) for p in state.providers]
    if target.features.budgets:
        budget: AwsBudget | None = aws_budget(target)
    else:
        budget = None
        notes.append(f"stage {target.name} deploys no AWS Budgets budget")
    return BudgetStatus(
        stage=target.name, day=day,
        spent_usd=None if state is None else state.spent_usd,
        budget_usd=None if state is None else state.budget_usd,
        percent=None if state is None else state.percent,
        level=None if state is None else state.level.value,
        level_words=None if state is None else LEVEL_WORDS[state.level.value],
        bedrock_enabled=None if state is None else state.bedrock_enabled,
        rendering_enabled=None if state is None else state.rendering_enabled,
        providers=providers, budget_defaults=defaulted,
        quotas={"max_tryons_per_user_daily": quotas.max_tryons_per_user_daily,
                "max_renders_per_user_daily": quotas.max_renders_per_user_daily,
                "max_concurrent_renders_per_user": quotas.max_concurrent_renders_per_user},
        top_users=top_users(target, day, quotas), aws_budget=budget, notes=notes)
