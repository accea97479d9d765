"""The stage's log groups, found from its stack, and the functions by short name.

``logs tail``/``logs query``/``logs errors`` name functions as operators do (``api``,
``webhook``, ``tryon``, ``render``, ``billing``; the full ``Api``/``TryonProcessor`` also
work) and read the groups the stack created (its ``AWS::Logs::LogGroup`` resources), so
a group that was never deployed is named as missing instead of tailed in vain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from garmaxctl.shared import contract
from garmaxctl.shared.errors import OutputMissingError, StackNotFoundError, UsageError

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

ACCESS_LOG = "access"  # the API's access log group, by the same kind of short name


@dataclass(frozen=True)
class LogGroup:
    label: str  # the short name shown in output: "api", "tryon", ..., "access"
    name: str  # the CloudWatch Logs group name


def short_name(function: contract.Function) -> str:
    return next(k for k, v in contract.FUNCTION_SHORT_NAMES.items() if v == function)


def parse_functions(names: Sequence[str]) -> list[contract.Function]:
    """Functions by short or full name (any case), in the order given, without repeats;
    an unknown name is a usage error listing the known ones."""
    by_name = {k: v for k, v in contract.FUNCTION_SHORT_NAMES.items()}
    by_name |= {str(f).lower(): f for f in contract.Function}
    found: list[contract.Function] = []
    for name in names:
        function = by_name.get(name.strip().lower())
        if function is None:
            known = ", ".join(contract.FUNCTION_SHORT_NAMES)
            raise UsageError(f"unknown function {name!r}: use one of {known}")
        if function not in found:
            found.append(function)
    return found


def stack_log_groups(target: StageTarget) -> dict[str, str]:
    """Every log group the stage's stack created (physical names), by its label (the
    function's short name, ``access``, or the group name for any other group)."""
    known = {contract.function_log_group(f, target.name): short_name(f)
             for f in contract.Function}
    known[contract.api_access_log_group(target.name)] = ACCESS_LOG
    cloudformation = target.client("cloudformation")
    groups: dict[str, str] = {}
    try:
        for page in cloudformation.get_paginator("list_stack_resources").paginate(
                StackName=target.stack):
            for resource in page.get("StackResourceSummaries", []):
                name = resource.get("PhysicalResourceId")
                if resource.get("ResourceType") == "AWS::Logs::LogGroup" and name:
                    groups[known.get(name, name)] = name
    except Exception as exc:  # botocore ClientError
        if "does not exist" in str(exc):
            raise StackNotFoundError(
                f"stack {target.stack} not found in {target.aws.region}",
                hint="deploy it with `garmaxctl deploy`") from None
        raise
    return groups


def function_log_groups(target: StageTarget,
                        functions: Sequence[contract.Function] = ()) -> list[LogGroup]:
    """The log groups of ``functions`` (all five when empty), as the stack created them; a
    function whose group the stack lacks is an error naming the group and the stack."""
    groups = stack_log_groups(target)
    wanted = list(functions) or list(contract.Function)
    found: list[LogGroup] = []
    for function in wanted:
        label = short_name(function)
        if label not in groups:
            raise OutputMissingError(
                f"stack {target.stack} has no log group "
                f"{contract.function_log_group(function, target.name)}",
                hint="deploy the current version with `garmaxctl deploy`")
        found.append(LogGroup(label=label, name=groups[label]))
    return found
