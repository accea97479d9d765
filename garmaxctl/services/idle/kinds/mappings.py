"""SQS event source mappings of the stage's functions: enabled or disabled.

Disabling a mapping pauses its consumer without throttling it: the messages stay in the
queue and never burn through ``maxReceiveCount`` into the DLQ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from garmaxctl.services.idle.kinds.base import Attr, ResourceKind, Value
from garmaxctl.services.idle.kinds.functions import sqs_mappings, stage_functions

if TYPE_CHECKING:
    from garmaxctl.services.idle.context import Context

_ENABLED = ("Enabled", "Enabling", "Updating")


@dataclass
class MappingRecord:
    function: str
    source: str  # the queue's ARN
    enabled: bool

    def to_json(self) -> dict[str, Any]:
        return {"function": self.function, "source": self.source, "enabled": self.enabled}


class Mappings(ResourceKind):
    section = "mappings"
    groups = ("mappings",)

    def load(self, data: dict[str, Any]) -> MappingRecord:
        return MappingRecord(function=data["function"], source=data["source"],
                             enabled=data["enabled"])

    def discover(self, ctx: Context) -> dict[str, MappingRecord]:
        return {mapping["UUID"]: MappingRecord(function=name, source=mapping["EventSourceArn"],
                                               enabled=mapping.get("State") in _ENABLED)
                for name in stage_functions(ctx) for mapping in sqs_mappings(ctx, name)}

    def attributes(self, records: dict[str, MappingRecord]) -> list[Attr]:
        return [self.attr("mappings", "mapping", uuid, mapping, mapping.enabled, False,
                          f"{mapping.function} <- {mapping.source.rsplit(':', 1)[-1]} "
                          f"({uuid[:8]})")
                for uuid, mapping in records.items()]

    def read(self, ctx: Context, attr: Attr) -> Value:
        state = ctx.client("lambda").get_event_source_mapping(UUID=attr.resource)["State"]
        return state in _ENABLED

    def write(self, ctx: Context, attr: Attr, value: Value) -> str:
        lam, uuid = ctx.client("lambda"), attr.resource
        lam.update_event_source_mapping(UUID=uuid, Enabled=bool(value))
        target = "Enabled" if value else "Disabled"
        ctx.wait(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == target,
                 ctx.timeouts.mapping, f"event source mapping {uuid} {target}")
        return target.lower()
