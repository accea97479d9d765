"""What ``idle down|up|status`` return (rendered by ``garmaxctl.commands.idle``; their
fields are the ``data`` of the JSON document), and the one formatter of an attribute's
value for people."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from garmaxctl.result import CheckResult, Status
from garmaxctl.stage.prices import HOURS_PER_MONTH

if TYPE_CHECKING:
    from garmaxctl.services.idle.kinds import Attr, Value
    from garmaxctl.services.idle.lock import LockInfo
    from garmaxctl.stage.idle_state import QueueClock


def show_value(value: Value) -> str:
    """An attribute's value for people: ``unset``, ``enabled``, ``min 0 max 4``, ``live=5``."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "enabled" if value else "disabled"
    if isinstance(value, dict):
        return " ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(f"{c['qualifier']}={c['count']}" for c in value) or "none"
    return str(value)


@dataclass
class StepResult:
    key: str
    group: str
    resource: str
    attribute: str
    before: Any
    after: Any
    status: str  # planned | done | unchanged | failed | gone
    detail: str = ""


def step(attr: Attr, before: Value, after: Value, status: str, detail: str = "") -> StepResult:
    return StepResult(key=attr.key, group=attr.group, resource=attr.label or attr.resource,
                      attribute=attr.kind, before=before, after=after, status=status,
                      detail=detail)


@dataclass
class IdleReport:
    stage: str
    action: str  # down | up
    dry_run: bool
    outcome: str  # planned | idle | already idle | restored | not idle | failed
    phase: str | None
    snapshot_param: str
    created_at: str | None = None
    created_by: str | None = None
    archived_to: str | None = None
    storage_tier: str | None = None
    steps: list[StepResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    kept_running: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lock_broken: dict[str, Any] | None = None
    error: str | None = None
    # down: the clocks of the queues idle parks messages in, and how long the stage may
    # stay idle before a parked message expires (docs/idle.md, "Queues while idle").
    queues: list[QueueClock] = field(default_factory=list)
    idle_until: str | None = None
    idle_limit_s: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not any(s.status == "failed" for s in self.steps) \
            and not any(c.status == Status.FAIL for c in self.checks)


@dataclass
class Saving:
    per_hour: float
    per_month: float
    items: list[dict[str, Any]]
    out_of_scope: list[dict[str, Any]]


def price_item(resource: str, detail: str, hourly: float) -> dict[str, Any]:
    return {"resource": resource, "detail": detail, "per_hour": round(hourly, 4),
            "per_month": round(hourly * HOURS_PER_MONTH, 2)}


@dataclass
class AttrStatus:
    group: str
    resource: str
    attribute: str
    recorded: Any
    idle: Any
    live: Any
    drift: bool
    note: str = ""


@dataclass
class IdleStatus:
    stage: str
    idle: bool
    phase: str | None
    created_at: str | None
    created_by: str | None
    idle_since: str | None
    idle_for_s: float | None
    lock: LockInfo | None
    resources: list[AttrStatus]
    drift: list[str]
    saving: Saving
    kept_running: list[str]
    notes: list[str]
    queues: list[QueueClock] = field(default_factory=list)
    idle_until: str | None = None  # while idle: before a parked message expires
    idle_limit_s: int | None = None
