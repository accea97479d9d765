"""Idle scale-down and restore of one stage (docs/idle.md).

- :mod:`.engine` — ``IdleEngine``: plan, ``down``, ``up``, ``status``; warm-up and probe;
- :mod:`.kinds` — one class per resource kind (discover, describe, read, write) and the
  registry ``KINDS`` with the apply order ``GROUPS``;
- :mod:`.snapshot` — the typed snapshot (schema 1, byte-compatible JSON);
- :mod:`.lock` — the lock with its lease; :mod:`.report` — the result types;
- :mod:`.context` — what kinds work with (waiters, ``Timeouts``, failure reasons).

Other commands that only need to know whether a stage is idle read
``garmaxctl.stage.idle_state`` (re-exported here).
"""

from garmaxctl.services.idle.context import Timeouts
from garmaxctl.services.idle.engine import IdleEngine
from garmaxctl.services.idle.lock import LEASE, IdleLockedError, LockInfo
from garmaxctl.services.idle.report import IdleReport, IdleStatus, StepResult, show_value
from garmaxctl.services.idle.snapshot import (
    SCHEMA,
    Snapshot,
    SnapshotTooLargeError,
    encode_document,
)
from garmaxctl.stage.idle_state import (
    IdleState,
    archive_param,
    idle_state,
    lock_param,
    read_snapshot,
    snapshot_param,
)

__all__ = [
    "LEASE", "SCHEMA", "IdleEngine", "IdleLockedError", "IdleReport", "IdleState",
    "IdleStatus", "LockInfo", "Snapshot", "SnapshotTooLargeError", "StepResult", "Timeouts",
    "archive_param", "encode_document", "idle_state", "lock_param", "read_snapshot",
    "show_value", "snapshot_param",
]
