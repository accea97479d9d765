"""The activity alarm ``GarmaxAI-IdleActivity-{STAGE}``: its actions are enabled while idle
(the try-on queue receiving messages notifies the alert topic)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from garmaxctl.services.idle.context import Gone
from garmaxctl.services.idle.kinds.base import Attr, ResourceKind, Value
from garmaxctl.shared import contract

if TYPE_CHECKING:
    from garmaxctl.services.idle.context import Context


@dataclass
class AlarmRecord:
    actions: bool  # ActionsEnabled

    def to_json(self) -> dict[str, Any]:
        return {"actions": self.actions}


class Alarms(ResourceKind):
    section = "alarms"
    groups = ("alarm",)

    def load(self, data: dict[str, Any]) -> AlarmRecord:
        return AlarmRecord(actions=data["actions"])

    def discover(self, ctx: Context) -> dict[str, AlarmRecord]:
        alarm = contract.alarm_name(contract.Alarm.ACTIVITY, ctx.stage)
        found = ctx.client("cloudwatch").describe_alarms(AlarmNames=[alarm])
        records = {item["AlarmName"]: AlarmRecord(actions=bool(item["ActionsEnabled"]))
                   for item in found.get("MetricAlarms", [])}
        if not records:
            ctx.notes.append(f"activity alarm {alarm} not found: idle cannot be watched")
        return records

    def attributes(self, records: dict[str, AlarmRecord]) -> list[Attr]:
        return [self.attr("alarm", "alarm", name, alarm, alarm.actions, True)
                for name, alarm in records.items()]

    def read(self, ctx: Context, attr: Attr) -> Value:
        alarms = ctx.client("cloudwatch").describe_alarms(
            AlarmNames=[attr.resource]).get("MetricAlarms", [])
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
