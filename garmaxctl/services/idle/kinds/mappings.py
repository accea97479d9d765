"""SQS event source mappings of the stage's functions: enabled or disabled.

Disabling a mapping pauses its consumer without throttling it: the messages stay in the
queue and never burn through ``maxReceiveCount`` into the DLQ.

A mapping moves through transitional states (``Creating``, ``Enabling``, ``Disabling``,
``Updating``) before it is ``Enabled`` or ``Disabled``. AWS answers
``UpdateEventSourceMapping`` on a mapping in transition with ``ResourceInUseException``
(not retried by the SDK), and a transitional state says nothing certain about where the
mapping ends up (``Updating`` is a configuration change of an enabled *or* a disabled
mapping). So every read waits until the mapping has settled and reports the settled state,
and a write waits for it to settle before changing it (docs/idle.md, "Emulator notes").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from garmaxctl.aws import error_code
from garmaxctl.services.idle.context import Gone
from garmaxctl.services.idle.kinds.base import Attr, ResourceKind, Value
from garmaxctl.services.idle.kinds.functions import sqs_mappings, stage_functions

if TYPE_CHECKING:
    from garmaxctl.services.idle.context import Context

SETTLED = ("Enabled", "Disabled")  # every other state is a transition (or Deleting)


@dataclass
class MappingRecord:
    function: str
    source: str  # the queue's ARN
    enabled: bool

    def to_json(self) -> dict[str, Any]:
        return {"function": self.function, "source": self.source, "enabled": self.enabled}


def settle(ctx: Context, uuid: str, state: str | None = None) -> str:
    """The mapping's state once it is ``Enabled`` or ``Disabled``: waits (up to the mapping
    timeout) while it is in transition; ``state`` is one already read."""
    lam = ctx.client("lambda")
    seen = [state or lam.get_event_source_mapping(UUID=uuid)["State"]]

    def settled() -> bool:
        if seen[0] == "Deleting":
            raise Gone(f"event source mapping {uuid} is being deleted")
        if seen[0] in SETTLED:
            return True
        seen[0] = lam.get_event_source_mapping(UUID=uuid)["State"]
        return seen[0] in SETTLED

    if not settled():
        ctx.wait(settled, ctx.timeouts.mapping,
                 f"event source mapping {uuid} to leave its transition ({seen[0]})")
    return seen[0]


class Mappings(ResourceKind):
    section = "mappings"
    groups = ("mappings",)

    def load(self, data: dict[str, Any]) -> MappingRecord:
        return MappingRecord(function=data["function"], source=data["source"],
                             enabled=data["enabled"])

    def discover(self, ctx: Context) -> dict[str, MappingRecord]:
        return {mapping["UUID"]: MappingRecord(
                    function=name, source=mapping["EventSourceArn"],
                    enabled=settle(ctx, mapping["UUID"], mapping.get("State")) == "Enabled")
                for name in stage_functions(ctx) for mapping in sqs_mappings(ctx, name)}

    def attributes(self, records: dict[str, MappingRecord]) -> list[Attr]:
        return [self.attr("mappings", "mapping", uuid, mapping, mapping.enabled, False,
                          f"{mapping.function} <- {mapping.source.rsplit(':', 1)[-1]} "
                          f"({uuid[:8]})")
                for uuid, mapping in records.items()]

    def read(self, ctx: Context, attr: Attr) -> Value:
        return settle(ctx, attr.resource) == "Enabled"

    def queues(self, records: dict[str, MappingRecord]) -> list[str]:
        return sorted({mapping.source for mapping in records.values()})

    def write(self, ctx: Context, attr: Attr, value: Value) -> str:
        lam, uuid = ctx.client("lambda"), attr.resource
        target = "Enabled" if value else "Disabled"

        def changed() -> bool:
            """Settled, then asked to change: False if AWS began another transition first
            (``ResourceInUseException``), so the wait settles it and asks again."""
            if settle(ctx, uuid) == target:
                return True
            try:
                lam.update_event_source_mapping(UUID=uuid, Enabled=bool(value))
            except Exception as exc:
                if error_code(exc) != "ResourceInUseException":
                    raise
                return False
            return True

        ctx.wait(changed, ctx.timeouts.mapping, f"event source mapping {uuid} to accept "
                                                "the change (ResourceInUseException)")
        ctx.wait(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == target,
                 ctx.timeouts.mapping, f"event source mapping {uuid} {target}")
        return target.lower()
