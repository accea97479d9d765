"""One construct per logical unit of the GARMAX AI stack (see docs/infra.md).

Not named ``constructs/``: ``infra/cdk_app.py`` runs as a script, and a folder of that
name beside it would shadow the ``constructs`` package.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct

_MIN_REASON = 20


def acknowledge(scope: IConstruct, rule: str, reason: str, *,
                with_children: bool = False) -> None:
    """Acknowledge one cdk-nag finding on one resource, with a reason.

    ``rule`` is the exact finding id (``AwsSolutions-IAM5[Resource::*]`` for a finding with
    its own id). By default the acknowledgment goes on the construct's own CloudFormation
    resource only (an L2's ``default_child``); ``with_children`` widens it to the whole
    construct, for findings raised on a child (a role's DefaultPolicy). Reasons must say
    why; an empty or one-word reason is a programming error.
    """
    if len(reason.strip()) < _MIN_REASON:
        raise ValueError(f"cdk-nag acknowledgment {rule} on {scope.node.path} needs a reason")
    target = scope
    if not with_children and isinstance(scope.node.default_child, cdk.CfnResource):
        target = scope.node.default_child
    cdk.Validations.of(target).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def removal_policy(retain: bool) -> cdk.RemovalPolicy:
    return cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY


def pin_logical_id(construct: IConstruct, logical_id: str) -> None:
    """Give a stateful resource a logical id that refactors cannot change (tested)."""
    child = construct.node.default_child
    if not isinstance(child, cdk.CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to pin")
    child.override_logical_id(logical_id)


def retention_days(days: int):  # -> logs.RetentionDays
    """The ``RetentionDays`` member for a number of days (stage config holds plain ints)."""
    from aws_cdk import aws_logs as logs

    by_days = {
        1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS,
        5: logs.RetentionDays.FIVE_DAYS, 7: logs.RetentionDays.ONE_WEEK,
        14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
        60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS,
        120: logs.RetentionDays.FOUR_MONTHS, 150: logs.RetentionDays.FIVE_MONTHS,
        180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    }
    if days not in by_days:
        raise ValueError(f"log retention of {days} days is not a CloudWatch Logs value")
    return by_days[days]
