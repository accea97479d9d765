"""Whether a stage is idle, for every command that must know (deploy's refusal, health,
status): the idle snapshot's and lock's parameter paths and a reader of the snapshot.

The idle engine itself is ``garmaxctl.services.idle``; this module only reads what it writes
(docs/idle.md, "The snapshot") and imports no service.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from garmaxctl.aws import error_code
from garmaxctl.shared import contract

if TYPE_CHECKING:
    from garmaxctl.aws import AwsTarget

_NOT_FOUND = ("ParameterNotFound", "ResourceNotFoundException", "ResourceNotFound",
              "ServiceNotFoundException", "ClusterNotFoundException", "DBClusterNotFoundFault",
              "ObjectNotFoundException")


def snapshot_param(stage: str) -> str:
    return contract.ops_prefix(stage) + contract.IDLE_SNAPSHOT_PARAM


def lock_param(stage: str) -> str:
    return contract.ops_prefix(stage) + contract.IDLE_LOCK_PARAM


def archive_param(stage: str, created_at: str) -> str:
    stamp = re.sub(r"[^0-9A-Za-z]", "", created_at)
    return contract.ops_prefix(stage) + contract.IDLE_ARCHIVE_PREFIX + stamp


def not_found(exc: BaseException) -> bool:
    """Whether a failed AWS call says the thing asked for does not exist."""
    code = error_code(exc) or ""
    return code in _NOT_FOUND or code.endswith("NotFound")


@dataclass
class IdleState:
    """The small summary others import (deploy's refusal, health/status)."""

    stage: str
    idle: bool
    phase: str | None
    created_at: str | None
    created_by: str | None


def read_snapshot(aws: AwsTarget, stage: str | None = None) -> dict[str, Any] | None:
    """The stage's idle snapshot document, or None when the stage is not idle."""
    stage = stage or aws.stage.stage.value
    try:
        value = aws.client("ssm").get_parameter(Name=snapshot_param(stage))["Parameter"]["Value"]
    except Exception as exc:
        if not_found(exc):
            return None
        raise
    document: dict[str, Any] | None = json.loads(value)
    return document


def idle_state(aws: AwsTarget) -> IdleState:
    stage = aws.stage.stage.value
    document = read_snapshot(aws, stage)
    if document is None:
        return IdleState(stage=stage, idle=False, phase=None, created_at=None, created_by=None)
    return IdleState(stage=stage, idle=True, phase=document.get("phase"),
                     created_at=document.get("created_at"), created_by=document.get("created_by"))
