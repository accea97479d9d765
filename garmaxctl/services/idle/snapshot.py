"""The idle snapshot, typed: ``/garmaxai/ops/{STAGE}/idle/snapshot`` (docs/idle.md).

The JSON format is schema 1 as garmaxctl has always written it: the same keys in the same
order, so a snapshot read and written again is the same bytes (tested on a snapshot the
single-module engine wrote, tests/idle/fixtures/snapshot_v1.json). Each resource record is
typed by the kind that owns its section (``kinds.KINDS``); a section or a top-level key
this garmaxctl does not know is kept as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from garmaxctl.services.idle import kinds
from garmaxctl.services.idle.kinds import RawRecord, Record, ResourceKind, Value
from garmaxctl.shared.contract import ADVANCED_TIER_LIMIT, STANDARD_TIER_LIMIT
from garmaxctl.shared.errors import OperationError

SCHEMA = 1
MAX_REASON = 160  # characters of a failure's reason kept in the snapshot
_KNOWN = ("schema", "stage", "phase", "created_at", "created_by", "tool_version",
          "updated_at", "idle_since", "tier", "provisioned_concurrency", "resources", "plan",
          "steps", "runs", "restored_at")


class SnapshotTooLargeError(OperationError):
    default_code = "snapshot_too_large"


def encode_document(document: dict[str, Any]) -> tuple[str, str]:
    """(value, tier) for Parameter Store: Advanced above 4 KB, refused above 8 KB."""
    text = json.dumps(document, separators=(",", ":"), sort_keys=False, default=str)
    size = len(text.encode())
    if size > ADVANCED_TIER_LIMIT:
        raise SnapshotTooLargeError(
            f"the idle snapshot would be {size} bytes, over Parameter Store's "
            f"{ADVANCED_TIER_LIMIT}-byte Advanced-tier limit; nothing was changed",
            hint="report it: the stage has more resources than idle was sized for")
    tier = "Advanced" if size > STANDARD_TIER_LIMIT or document.get("tier") == "Advanced" \
        else "Standard"
    return text, tier


@dataclass
class Resources:
    """Each kind's section: resource key -> its typed record, in discovery order."""

    sections: dict[str, dict[str, Record]]

    @classmethod
    def empty(cls) -> Resources:
        return cls({kind.section: {} for kind in kinds.KINDS})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Resources:
        owners = {kind.section: kind for kind in kinds.KINDS}
        sections: dict[str, dict[str, Record]] = {}
        for section, items in data.items():
            owner = owners.get(section)
            sections[section] = {key: owner.load(item) if owner else RawRecord(item)
                                 for key, item in items.items()}
        for kind in kinds.KINDS:
            sections.setdefault(kind.section, {})
        return cls(sections)

    def to_json(self) -> dict[str, Any]:
        return {section: {key: record.to_json() for key, record in items.items()}
                for section, items in self.sections.items()}

    def of(self, kind: ResourceKind) -> dict[str, Any]:
        return self.sections.get(kind.section, {})

    def keys(self) -> Iterator[str]:
        """``section:key`` of every resource."""
        return (f"{section}:{key}" for section, items in self.sections.items()
                for key in items)

    def merged(self, live: Resources) -> Resources:
        """These (recorded) resources, plus live ones they lack: recorded values win."""
        merged = {section: dict(items) for section, items in self.sections.items()}
        for section, items in live.sections.items():
            bucket = merged.setdefault(section, {})
            for key, record in items.items():
                bucket.setdefault(key, record)
        return Resources(merged)


@dataclass
class Run:
    """One ``down`` or ``up`` that worked on this snapshot (the last five are kept)."""

    action: str
    at: str
    by: str
    tool_version: str

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "at": self.at, "by": self.by,
                "tool_version": self.tool_version}


@dataclass
class Snapshot:
    stage: str
    phase: str | None  # applying | idle | restoring | restored
    created_at: str | None
    created_by: str | None
    tool_version: str | None
    updated_at: str | None
    resources: Resources
    schema: int = SCHEMA
    idle_since: str | None = None
    tier: str | None = "Standard"  # Advanced once written there: never back (AWS refuses)
    provisioned_concurrency: str | None = None  # whether the target reports it at all
    plan: list[tuple[str, Value]] = field(default_factory=list)  # (attribute key, idle value)
    # Each step's result as it completed, per action: {"down": {key: "done +3s"}, "up": {}}
    steps: dict[str, dict[str, str]] = field(default_factory=lambda: {"down": {}, "up": {}})
    runs: list[Run] = field(default_factory=list)
    restored_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this garmaxctl does not know

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        return cls(
            schema=data["schema"], stage=data.get("stage", ""), phase=data.get("phase"),
            created_at=data.get("created_at"), created_by=data.get("created_by"),
            tool_version=data.get("tool_version"), updated_at=data.get("updated_at"),
            idle_since=data.get("idle_since"), tier=data.get("tier"),
            provisioned_concurrency=data.get("provisioned_concurrency"),
            resources=Resources.from_json(data["resources"]),
            plan=[(key, value) for key, value in data.get("plan", [])],
            steps={action: dict(log) for action, log in data.get("steps", {}).items()},
            runs=[Run(**run) for run in data.get("runs", [])],
            restored_at=data.get("restored_at"),
            extra={k: v for k, v in data.items() if k not in _KNOWN})

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema": self.schema, "stage": self.stage, "phase": self.phase,
            "created_at": self.created_at, "created_by": self.created_by,
            "tool_version": self.tool_version, "updated_at": self.updated_at,
            "idle_since": self.idle_since, "tier": self.tier,
            "provisioned_concurrency": self.provisioned_concurrency,
            "resources": self.resources.to_json(),
            "plan": [[key, value] for key, value in self.plan],
            "steps": {action: dict(log) for action, log in self.steps.items()},
            "runs": [run.to_json() for run in self.runs],
        }
        if self.restored_at is not None:
            data["restored_at"] = self.restored_at
        return {**data, **self.extra}

    def encode(self) -> tuple[str, str]:
        """(value, tier) for Parameter Store (``encode_document``)."""
        return encode_document(self.to_json())

    def log(self, action: str) -> dict[str, str]:
        """The step log of ``down`` or ``up`` (created when missing)."""
        return self.steps.setdefault(action, {})

    def check_size(self) -> None:
        """Refuse before any change if the snapshot could outgrow 8 KB with its step log."""
        trial = self.to_json()
        log = trial["steps"].setdefault("down", {})
        for key, _ in self.plan:
            log[key] = "done +9999999s"
        if log:  # a run stops at its first failure: one reason at most
            log[next(iter(log))] = "failed +9999999s: " + "x" * MAX_REASON
        encode_document(trial)
