"""The stage's daily budgets and today's AI spend, read by every command that shows them.

Budgets come from Parameter Store (``contract.BUDGET_PARAMS``, pushed from ``.env``), each
falling back to the stage's default; today's spend is the runtime's own budget ledger read
with the runtime's own ``breaker_state`` (so garmaxctl and the breaker never disagree).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from garmaxctl.shared import contract
from garmaxctl.shared.stages import Budgets

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget


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


def todays_spend(target: StageTarget) -> dict[str, Any] | None:
    """Today's spend against the daily budget and the breaker's level (None: no ledger)."""
    from runtime.domain.budget import breaker_state

    ledger = target.output(contract.OutputKey.LEDGER_TABLE)
    if not ledger:
        return None
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    budgets, defaulted = read_budgets(target)
    state = breaker_state(ledger, target.name, day, target.client("dynamodb"), budgets)
    return {"day": state.day, "spent_usd": state.spent_usd, "budget_usd": state.budget_usd,
            "percent": state.percent, "level": state.level.value, "renders": state.renders,
            "budget_defaults": defaulted}
