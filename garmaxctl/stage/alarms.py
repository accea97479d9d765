"""The stage's CloudWatch alarms (``GarmaxAI-{Name}-{STAGE}``), read for every command that
shows them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from garmaxctl.shared import contract

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget


def stage_alarms(target: StageTarget, *, state: str | None = None) -> list[dict[str, Any]]:
    """The stage's metric alarms, optionally only those in ``state`` (ALARM, OK, ...)."""
    cloudwatch = target.client("cloudwatch")
    kwargs: dict[str, Any] = {"AlarmNamePrefix": contract.ALARM_PREFIX}
    if state:
        kwargs["StateValue"] = state
    found: list[dict[str, Any]] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(**kwargs):
        # Filtered here too: moto ignores StateValue when a name prefix is given.
        found += [a for a in page.get("MetricAlarms", [])
                  if a["AlarmName"].endswith(f"-{target.name}")
                  and (state is None or a.get("StateValue") == state)]
    return found


def alarms_in_alarm(target: StageTarget) -> list[dict[str, Any]]:
    """The stage's alarms currently in ALARM."""
    return stage_alarms(target, state="ALARM")
