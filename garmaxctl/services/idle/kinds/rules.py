"""EventBridge rules on the stage's bus ``GarmaxAi-Tryon-{STAGE}``: enabled or disabled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from garmaxctl.services.idle.kinds.base import Attr, ResourceKind, Value
from garmaxctl.shared import contract
from garmaxctl.stage.idle_state import not_found

if TYPE_CHECKING:
    from garmaxctl.services.idle.context import Context


@dataclass
class RuleRecord:
    enabled: bool

    def to_json(self) -> dict[str, Any]:
        return {"enabled": self.enabled}


class Rules(ResourceKind):
    section = "rules"
    groups = ("rules",)

    def load(self, data: dict[str, Any]) -> RuleRecord:
        return RuleRecord(enabled=data["enabled"])

    def discover(self, ctx: Context) -> dict[str, RuleRecord]:
        bus = contract.event_bus_name(ctx.stage)
        try:
            rules = ctx.paginate("events", "list_rules", "Rules", EventBusName=bus)
        except Exception as exc:
            if not not_found(exc):
                raise
            rules = []
            ctx.notes.append(f"event bus {bus} not found: no rules to disable")
        return {rule["Name"]: RuleRecord(enabled=rule.get("State") == "ENABLED")
                for rule in sorted(rules, key=lambda r: r["Name"])}

    def attributes(self, records: dict[str, RuleRecord]) -> list[Attr]:
        return [self.attr("rules", "rule", name, rule, rule.enabled, False)
                for name, rule in records.items()]

    def read(self, ctx: Context, attr: Attr) -> Value:
        return ctx.client("events").describe_rule(
            Name=attr.resource, EventBusName=contract.event_bus_name(ctx.stage)
        )["State"] == "ENABLED"

    def write(self, ctx: Context, attr: Attr, value: Value) -> str:
        events = ctx.client("events")
        bus = contract.event_bus_name(ctx.stage)
        if value:
            events.enable_rule(Name=attr.resource, EventBusName=bus)
        else:
            events.disable_rule(Name=attr.resource, EventBusName=bus)
        return "enabled" if value else "disabled"
