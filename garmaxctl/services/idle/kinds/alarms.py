"""The stage's CloudWatch alarms ``GarmaxAI-{Name}-{STAGE}``: their actions (``ActionsEnabled``).

- The activity alarm ``GarmaxAI-IdleActivity-{STAGE}`` gets its actions **enabled** while
  idle (any request reaching the stage notifies the alert topic), last in ``down``.
- Every other alarm of the stage is a **paging** alarm (API 5XX, Lambda errors, DLQs, ...):
  its actions are **disabled** while idle, first in ``down`` — before the API is throttled,
  so the 500s an idle API answers page nobody — and restored last in ``up``.

``up`` writes back each alarm's recorded ``ActionsEnabled`` exactly: an alarm whose actions
were already disabled before idle stays disabled. Alarms are listed with ``AlarmTypes``
metric and composite (``DescribeAlarms`` returns metric alarms only without it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from garmaxctl.services.idle.context import Gone
from garmaxctl.services.idle.kinds.base import Attr, ResourceKind, Value
from garmaxctl.shared import contract

if TYPE_CHECKING:
    from garmaxctl.services.idle.context import Context

ALARM_TYPES = ["MetricAlarm", "CompositeAlarm"]


@dataclass
class AlarmRecord:
    actions: bool  # ActionsEnabled

    def to_json(self) -> dict[str, Any]:
        return {"actions": self.actions}


def _alarms(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [*answer.get("MetricAlarms", []), *answer.get("CompositeAlarms", [])]


def stage_alarm(name: str, stage: str) -> bool:
    """Whether ``name`` is one of the stage's alarms, ``GarmaxAI-{Name}-{STAGE}``."""
    prefix, suffix = contract.ALARM_PREFIX, f"-{stage}"
    return name.startswith(prefix) and name.endswith(suffix) and \
        len(name) > len(prefix) + len(suffix)


class Alarms(ResourceKind):
    section = "alarms"
    groups = ("paging", "alarm")

    def load(self, data: dict[str, Any]) -> AlarmRecord:
        return AlarmRecord(actions=data["actions"])

    def discover(self, ctx: Context) -> dict[str, AlarmRecord]:
        activity = contract.alarm_name(contract.Alarm.ACTIVITY, ctx.stage)
        found: list[dict[str, Any]] = []
        for page in ctx.client("cloudwatch").get_paginator("describe_alarms").paginate(
                AlarmNamePrefix=contract.ALARM_PREFIX, AlarmTypes=ALARM_TYPES):
            found += _alarms(page)
        records = {item["AlarmName"]: AlarmRecord(actions=bool(item["ActionsEnabled"]))
                   for item in sorted(found, key=lambda a: a["AlarmName"])
                   if stage_alarm(item["AlarmName"], ctx.stage)}
        if activity not in records:
            ctx.notes.append(f"activity alarm {activity} not found: idle cannot be watched")
        return records

    def attributes(self, records: dict[str, AlarmRecord]) -> list[Attr]:
        attrs = []
        for name, alarm in records.items():
            if name.startswith(contract.alarm_name(contract.Alarm.ACTIVITY, "")):
                attrs.append(self.attr("alarm", "alarm", name, alarm, alarm.actions, True))
            else:
                attrs.append(self.attr("paging", "alarm", name, alarm, alarm.actions, False))
        return attrs

    def read(self, ctx: Context, attr: Attr) -> Value:
        alarms = _alarms(ctx.client("cloudwatch").describe_alarms(
            AlarmNames=[attr.resource], AlarmTypes=ALARM_TYPES))
        if not alarms:
            raise Gone(f"alarm {attr.resource} is gone")
        return bool(alarms[0]["ActionsEnabled"])

    def write(self, ctx: Context, attr: Attr, value: Value) -> str:
        cloudwatch = ctx.client("cloudwatch")
        if value:
            cloudwatch.enable_alarm_actions(AlarmNames=[attr.resource])
        else:
            cloudwatch.disable_alarm_actions(AlarmNames=[attr.resource])
        return "actions enabled" if value else "actions disabled"

    def drift_note(self, attr: Attr, live: Value, idle_for: dt.timedelta | None) -> str:
        if attr.group == "paging" and live:
            return ("its actions are enabled again: it pages while the stage is idle; run "
                    "`garmaxctl idle down` to pause them")
        return ""
