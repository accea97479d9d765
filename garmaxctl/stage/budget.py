"""The stage's daily budgets and today's AI spend, read by every command that shows them.

Budgets come from Parameter Store (``contract.BUDGET_PARAMS``, pushed from ``.env``), each
falling back to the stage's default; today's spend is the runtime's own budget ledger read
with the runtime's own ``breaker_state`` (so garmaxctl and the breaker never disagree).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from garmaxctl.shared import contract
from garmaxctl.shared.stages import Budgets, Quotas

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget
    from runtime.domain.budget import BreakerState


def read_budgets(target: StageTarget) -> tuple[Budgets, list[str]]:
    """The daily budgets from Parameter Store, each falling back to the stage's default,
    and the parameters (relative paths) that fell back: unset or not a number. An AWS
    error is raised, never hidden behind the defaults."""
    prefix = contract.params_prefix(target.name)
    names = {prefix + path: attr for attr, path in contract.BUDGET_PARAMS.items()}
    values: dict[str, float] = {}
    found = target.client("ssm").get_parameters(Names=list(names))["Parameters"]
    for parameter in found:
        try:
            values[names[parameter["Name"]]] = float(parameter["Value"])
        except (KeyError, ValueError):
            continue
    defaults = target.config.budgets
    defaulted = [path for attr, path in contract.BUDGET_PARAMS.items() if attr not in values]
    return Budgets(**{attr: values.get(attr, getattr(defaults, attr))
                      for attr in contract.BUDGET_PARAMS}), defaulted


def read_quotas(target: StageTarget) -> Quotas:
    """The per-user quotas from Parameter Store, each falling back to the stage's default
    (what the runtime's ``load_quotas`` reads)."""
    prefix = contract.params_prefix(target.name)
    names = {prefix + contract.PARAMS_BY_ENV_KEY[attr.upper()].path: attr
             for attr in ("max_tryons_per_user_daily", "max_renders_per_user_daily",
                          "max_concurrent_renders_per_user")}
    values: dict[str, int] = {}
    for parameter in target.client("ssm").get_parameters(Names=list(names))["Parameters"]:
        try:
            number = int(float(parameter["Value"]))
        except (KeyError, ValueError):
            continue
        if number >= 0:
            values[names[parameter["Name"]]] = number
    return replace(target.config.quotas, **values)


def today() -> str:
    """The UTC day the budgets and quotas reset on."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")


def breaker(target: StageTarget, day: str | None = None
            ) -> tuple[BreakerState, list[str]] | None:
    """The runtime's own ``breaker_state`` for the day (today by default) with the budgets
    from Parameter Store, and the budget parameters that fell back (None: no ledger)."""
    from runtime.domain.budget import breaker_state

    ledger = target.output(contract.OutputKey.LEDGER_TABLE)
    if not ledger:
        return None
    budgets, defaulted = read_budgets(target)
    state = breaker_state(ledger, target.name, day or today(), target.client("dynamodb"),
                          budgets)
    return state, defaulted


def todays_spend(target: StageTarget) -> dict[str, Any] | None:
    """Today's spend against the daily budget and the breaker's level (None: no ledger)."""
    found = breaker(target)
    if found is None:
        return None
    state, defaulted = found
    return {"day": state.day, "spent_usd": state.spent_usd, "budget_usd": state.budget_usd,
            "percent": state.percent, "level": state.level.value, "renders": state.renders,
            "budget_defaults": defaulted}
