"""EventBridge: the stage's bus ``GarmaxAi-Tryon-{STAGE}`` and the rules of contract.RULES.

Each rule refers to the bus with a ``Ref`` (CDK's default). A literal name plus DependsOn
was tried and rejected: moto creates a resource as soon as another one references it,
ignoring DependsOn, so a rule referenced by the render queue's policy was created before
its bus. moto's crash on the ``Ref`` itself is bridged on LOCAL (docs/local.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from garmaxctl.shared import contract


class EventBus(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str,
                 target_queues: Mapping[contract.Queue, sqs.IQueue]) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=contract.event_bus_name(stage))
        self.rules: dict[str, events.Rule] = {}
        for spec in contract.RULES:
            rule = events.Rule(
                self,
                spec.name,
                rule_name=contract.rule_name(spec, stage),
                description=spec.description,
                event_bus=self.bus,
                event_pattern=events.EventPattern(
                    source=[spec.source],
                    detail_type=[str(d) for d in spec.detail_types],
                ),
            )
            if spec.target_queue is not None:
                rule.add_target(targets.SqsQueue(target_queues[spec.target_queue]))
            self.rules[spec.name] = rule
