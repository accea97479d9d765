"""EventBridge: the stage's bus ``GarmaxAi-Tryon-{STAGE}`` and the rules of contract.RULES.

Each rule names the bus by its (known) physical name plus an explicit dependency, rather
than a ``Ref`` to the bus: the same template, and moto's CloudFormation (which crashes on a
``Ref`` there, docs/local.md) deploys it too.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from garmaxctl import contract


class EventBus(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str,
                 target_queues: Mapping[contract.Queue, sqs.IQueue]) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=contract.event_bus_name(stage))
        bus_by_name = events.EventBus.from_event_bus_name(
            self, "BusByName", contract.event_bus_name(stage)
        )
        self.rules: dict[str, events.Rule] = {}
        for spec in contract.RULES:
            rule = events.Rule(
                self,
                spec.name,
                rule_name=contract.rule_name(spec, stage),
                description=spec.description,
                event_bus=bus_by_name,
                event_pattern=events.EventPattern(
                    source=[spec.source],
                    detail_type=[str(d) for d in spec.detail_types],
                ),
            )
            rule.node.add_dependency(self.bus)
            if spec.target_queue is not None:
                rule.add_target(targets.SqsQueue(target_queues[spec.target_queue]))
            self.rules[spec.name] = rule
