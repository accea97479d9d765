"""The source cluster, the restorable window, the new name, the requests that copy the
source's settings, and the waiter: what ``restore-db`` and ``drill`` share."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from garmaxctl import redact
from garmaxctl.aws import describe_error, error_code
from garmaxctl.shared import contract
from garmaxctl.shared.errors import OperationError, UsageError

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

Progress = Callable[[str], None]

DEFAULT_TIMEOUT_S = 60 * 60.0
POLL_S = 15.0
RESTORED_FROM_TAG = "garmaxai:restored-from"
DRILL_TAG = "garmaxai:dr-drill"
MASK = redact.MASK
_FAILED_STATES = {"failed", "incompatible-restore", "incompatible-parameters",
                  "incompatible-network", "inaccessible-encryption-credentials",
                  "storage-full"}
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_NOT_FOUND = {"DBClusterNotFoundFault", "DBInstanceNotFound", "DBInstanceNotFoundFault"}



# ----------------------------------------------------------------------------- results

@dataclass
class Window:
    """The source's restorable window (None: RDS reports no backup yet)."""

    earliest: dt.datetime | None
    latest: dt.datetime | None

    def text(self) -> str:
        def show(moment: dt.datetime | None) -> str:
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "?"

        return f"{show(self.earliest)} .. {show(self.latest)}"


@dataclass
class Request:
    """One mutating RDS request garmaxctl sends (or, in a dry run, would send)."""

    operation: str  # "RestoreDBClusterToPointInTime", "CreateDBInstance", ...
    params: dict[str, Any]


@dataclass
class ParamChange:
    """One row of the ``params`` change that switches the stage to the new cluster, in
    ``params plan``'s words (``change``/``unchanged``/``add``/``skipped``). A secret's
    ``old``/``new`` are shown masked, never as values."""

    action: str
    key: str
    path: str
    type: str
    secret: bool
    old: str | None
    new: str | None
    note: str | None = None


@dataclass
class Phase:
    name: str
    seconds: float
    status: str  # "ok" | "fail" | "skipped"
    detail: str = ""


@dataclass
class RestoreResult:
    stage: str
    source: str
    cluster: str
    instances: list[str]
    restore_to: str  # ISO time, or "latest"
    window: Window
    dry_run: bool
    requests: list[Request] = field(default_factory=list)
    endpoint: str | None = None
    endpoint_predicted: bool = False  # dry run: the source's suffix with the new name
    port: int | None = None
    status: str = "planned"  # "planned" | "available"
    phases: list[Phase] = field(default_factory=list)
    params: list[ParamChange] = field(default_factory=list)
    env_out: str | None = None

    def __post_init__(self) -> None:
        self._values: dict[str, str] = {}  # the params change's real values: memory only


@dataclass
class DrillReport:
    stage: str
    source: str
    cluster: str
    instance: str
    ok: bool = False
    endpoint: str | None = None
    restore_seconds: float | None = None  # request until cluster and writer available
    phases: list[Phase] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)
    error: str | None = None


class RestoreTimeout(OperationError):
    default_code = "restore_timeout"


# ----------------------------------------------------------------------------- helpers

def require_database(target: StageTarget) -> str:
    """The stage's cluster identifier; a stage without a database is a usage error."""
    if not target.features.database:
        raise UsageError(f"stage {target.name} has no database (its Aurora cluster is "
                         "turned off there): `garmaxctl dr` works on DEV, QA and PROD",
                         code="no_database", hint="pass --stage dev|qa|prod")
    return contract.database_cluster_id(target.name)


def not_found(exc: BaseException) -> bool:
    return error_code(exc) in _NOT_FOUND


def describe_cluster(rds: Any, ident: str) -> dict[str, Any] | None:
    try:
        clusters = rds.describe_db_clusters(DBClusterIdentifier=ident)["DBClusters"]
    except Exception as exc:
        if not_found(exc):
            return None
        raise
    return clusters[0] if clusters else None


def describe_instance(rds: Any, ident: str) -> dict[str, Any] | None:
    try:
        found = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"]
    except Exception as exc:
        if not_found(exc):
            return None
        raise
    return found[0] if found else None


def read_source(target: StageTarget, rds: Any, ident: str) -> dict[str, Any]:
    cluster = describe_cluster(rds, ident)
    if cluster is None:
        raise OperationError(f"stage {target.name}'s database cluster {ident} not found "
                             f"in {target.aws.region}", code="cluster_not_found",
                             hint="deploy the stage with `garmaxctl deploy`")
    return cluster


def _utc(moment: Any) -> dt.datetime | None:
    if not isinstance(moment, dt.datetime):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def window_of(cluster: dict[str, Any]) -> Window:
    return Window(earliest=_utc(cluster.get("EarliestRestorableTime")),
                  latest=_utc(cluster.get("LatestRestorableTime")))


def check_in_window(moment: dt.datetime | None, window: Window, source: str) -> None:
    """``moment`` (None: the latest restorable time) must be inside the window."""
    if window.earliest is None or window.latest is None:
        raise OperationError(f"{source} has no restorable window yet (no automated backup)",
                             code="no_restorable_window",
                             hint="wait for its first backup, or check its backup retention")
    if moment is not None and not window.earliest <= moment <= window.latest:
        shown = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        raise UsageError(f"{shown} is outside {source}'s restorable window {window.text()}",
                         code="outside_window",
                         hint="pick a time inside it, or --latest",
                         data={"window": {"earliest": window.earliest,
                                          "latest": window.latest}})


def check_new_name(rds: Any, source: str, name: str) -> str:
    """A valid identifier that is neither the source's nor an existing cluster's."""
    new = name.strip().lower()  # RDS stores identifiers in lower case
    if not _NAME.match(new) or len(new) > 63:
        raise UsageError(f"{name!r} is not a valid cluster identifier", code="bad_name",
                         hint="1-63 letters, digits and single hyphens, starting with a "
                              "letter")
    if new == source.lower():
        raise UsageError(f"refusing to restore onto the source cluster {source}: a restore "
                         "always goes to a new cluster", code="name_taken",
                         hint="drop --name for the default, or give another name")
    if describe_cluster(rds, new) is not None:
        raise UsageError(f"a cluster named {new} already exists", code="name_taken",
                         hint="give another --name (garmaxctl never overwrites a cluster)")
    return new


def _tags(source: dict[str, Any], extra: dict[str, str]) -> list[dict[str, str]]:
    kept = [t for t in source.get("TagList", [])
            if not t["Key"].startswith("aws:") and t["Key"] not in extra]
    return kept + [{"Key": k, "Value": v} for k, v in extra.items()]


def restore_request(source: dict[str, Any], new: str, *, to: dt.datetime | None,
                    tags: dict[str, str], deletion_protection: bool | None = None
                    ) -> dict[str, Any]:
    """RestoreDBClusterToPointInTime's parameters: the source's settings copied."""
    params: dict[str, Any] = {"DBClusterIdentifier": new,
                              "SourceDBClusterIdentifier": source["DBClusterIdentifier"]}
    if to is None:
        params["UseLatestRestorableTime"] = True
    else:
        params["RestoreToTime"] = to
    copies = {
        "DBSubnetGroupName": source.get("DBSubnetGroup"),
        "VpcSecurityGroupIds": [g["VpcSecurityGroupId"]
                                for g in source.get("VpcSecurityGroups", [])] or None,
        "DBClusterParameterGroupName": source.get("DBClusterParameterGroup"),
        "KmsKeyId": source.get("KmsKeyId"),
        "Port": source.get("Port"),
        "EngineMode": source.get("EngineMode"),
        "StorageType": (source.get("StorageType")
                        if str(source.get("StorageType", "")).startswith("aurora") else None),
        "EnableIAMDatabaseAuthentication": source.get("IAMDatabaseAuthenticationEnabled"),
        "EnableCloudwatchLogsExports": source.get("EnabledCloudwatchLogsExports") or None,
        "DeletionProtection": (source.get("DeletionProtection")
                               if deletion_protection is None else deletion_protection),
        "CopyTagsToSnapshot": source.get("CopyTagsToSnapshot"),
        "BacktrackWindow": source.get("BacktrackWindow") or None,
        "ServerlessV2ScalingConfiguration": source.get("ServerlessV2ScalingConfiguration")
        or None,
    }
    params |= {k: v for k, v in copies.items() if v is not None}
    params["Tags"] = _tags(source, tags)
    return params


def writer_of(rds: Any, source: dict[str, Any]) -> dict[str, Any] | None:
    member = next((m for m in source.get("DBClusterMembers", [])
                   if m.get("IsClusterWriter")), None)
    return describe_instance(rds, member["DBInstanceIdentifier"]) if member else None


def instance_request(target: StageTarget, source: dict[str, Any],
                     writer: dict[str, Any] | None, cluster: str, instance: str,
                     tags: list[dict[str, str]]) -> dict[str, Any]:
    """CreateDBInstance's parameters: like the source's writer (its class and parameter
    group; the stage's class when the source has no writer), never public."""
    params: dict[str, Any] = {
        "DBInstanceIdentifier": instance,
        "DBClusterIdentifier": cluster,
        "DBInstanceClass": (writer or {}).get("DBInstanceClass")
        or target.config.rds_instance_class,
        "Engine": source["Engine"],
        "PubliclyAccessible": False,
        "Tags": tags,
    }
    groups = (writer or {}).get("DBParameterGroups") or []
    if groups:
        params["DBParameterGroupName"] = groups[0]["DBParameterGroupName"]
    return params


def cleanup_commands(cluster: str, instances: list[str]) -> list[str]:
    return ([f"aws rds delete-db-instance --db-instance-identifier {i} --skip-final-snapshot"
             for i in instances]
            + [f"aws rds delete-db-cluster --db-cluster-identifier {cluster} "
               "--skip-final-snapshot (after its instances are gone)"])


def what_exists(rds: Any, cluster: str, instances: list[str]) -> list[str]:
    found = []
    try:
        state = describe_cluster(rds, cluster)
        if state is not None:
            found.append(f"cluster {cluster} ({state.get('Status')})")
        for ident in instances:
            inst = describe_instance(rds, ident)
            if inst is not None:
                found.append(f"instance {ident} ({inst.get('DBInstanceStatus')})")
    except Exception as exc:  # the hint must not hide the original failure
        found.append(f"(could not list it: {describe_error(exc).line()})")
    return found


# ----------------------------------------------------------------------------- waiting

@dataclass
class Waiter:
    """Polls RDS until a resource reaches a state; the clock and sleep are injectable."""

    rds: Any
    timeout_s: float = DEFAULT_TIMEOUT_S
    poll_s: float = POLL_S
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    progress: Progress | None = None
    deadline: float | None = None

    def start(self) -> None:
        self.deadline = self.clock() + self.timeout_s

    def _state(self, kind: str, ident: str) -> str | None:
        if kind == "cluster":
            found = describe_cluster(self.rds, ident)
            return None if found is None else str(found.get("Status"))
        found = describe_instance(self.rds, ident)
        return None if found is None else str(found.get("DBInstanceStatus"))

    def until(self, kind: str, ident: str, want: str | None) -> None:
        """Until ``ident`` is in state ``want`` (None: gone). Raises RestoreTimeout."""
        if self.deadline is None:
            self.start()
        assert self.deadline is not None
        last = None
        while True:
            state = self._state(kind, ident)
            if state != last and self.progress:
                self.progress(f"{kind} {ident}: {state or 'deleted'}")
            last = state
            if state == want:
                return
            if state is None and want is not None:
                raise OperationError(f"{kind} {ident} disappeared while waiting for it",
                                     code="restore_failed")
            if state in _FAILED_STATES:
                raise OperationError(f"{kind} {ident} is {state}", code="restore_failed")
            if self.clock() >= self.deadline:
                raise RestoreTimeout(f"timed out after {self.timeout_s:.0f} s waiting for "
                                     f"{kind} {ident} to be {want or 'deleted'} (it is "
                                     f"{state})")
            self.sleep(self.poll_s)
