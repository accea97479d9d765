"""``garmaxctl dr``: restore the stage's Aurora cluster to a point in time, and drill it.

:func:`restore_db` restores ``contract.database_cluster_id(stage)`` to a NEW cluster with
``RestoreDBClusterToPointInTime``, then creates its writer like the source's and waits
until both are available. RDS copies none of the source's network or configuration to the
new cluster by itself (and moto's emulation accepts any time, drops the security groups
and the parameter group, and overwrites a cluster of the same name), so everything that
matters is garmaxctl's own and visible in the requests it sends:

- the time is checked against the source's restorable window
  ``[EarliestRestorableTime, LatestRestorableTime]`` (outside: exit 2 naming it);
- the new name is never the source's nor an existing cluster's (exit 2);
- subnet group, security groups, cluster parameter group, KMS key, port, engine mode,
  storage type, IAM authentication, log exports, deletion protection, tag copying, the
  Serverless v2 scaling and the tags are copied from the source (+ ``garmaxai:restored-from``).

The result carries every request (``requests``: sent, or with ``--dry-run`` only shown)
and the ``params`` change that would switch the stage to the new cluster (``RDS_HOST``,
``DATABASE_URL`` with its password masked; the real value only in a 0600 file).

:func:`drill` (DEV/QA) restores to a throw-away cluster at the latest restorable time,
checks it, deletes it (instances first, no final snapshot) — also on failure, timeout and
Ctrl-C — and reports each phase's duration. Nothing here prints. The parts:
:mod:`.cluster` (source, window, name, requests, waiter), :mod:`.restore`,
:mod:`.drill`.
"""

from __future__ import annotations

from garmaxctl.services.dr.cluster import (
    DrillReport,
    ParamChange,
    Phase,
    Request,
    RestoreResult,
    RestoreTimeout,
    Waiter,
    Window,
    require_database,
)
from garmaxctl.services.dr.drill import drill
from garmaxctl.services.dr.restore import restore_db

__all__ = [
    "DrillReport",
    "ParamChange",
    "Phase",
    "Request",
    "RestoreResult",
    "RestoreTimeout",
    "Waiter",
    "Window",
    "drill",
    "require_database",
    "restore_db",
]
