"""Aurora clusters tagged ``garmaxai:stage={STAGE}`` (or named ``garmaxai-cluster-{stage}``):
stopped as clusters, never their instances, and only from ``available``. AWS starts a
stopped cluster again after 7 days: ``idle status`` shows it as drift."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from garmaxctl.services.idle.kinds.base import Attr, ResourceKind, Value
from garmaxctl.shared import contract

if TYPE_CHECKING:
    from garmaxctl.services.idle.context import Context
    from garmaxctl.shared.stages import StageConfig
    from garmaxctl.stage.prices import Prices

AURORA_AUTO_RESTART = dt.timedelta(days=7)
_TRANSIENT_UP = {"starting", "backing-up", "modifying", "upgrading", "maintenance",
                 "renaming", "resetting-master-credentials", "configuring-iam-database-auth"}


def settled_status(status: str) -> str:
    """The status a cluster is heading to: what idle records and compares."""
    if status in _TRANSIENT_UP:
        return "available"
    if status == "stopping":
        return "stopped"
    return status


@dataclass
class ClusterRecord:
    status: str  # settled: available | stopped | ...
    instances: int  # member instances (what its running costs)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "instances": self.instances}


def _status(ctx: Context, ident: str) -> str:
    return str(ctx.client("rds").describe_db_clusters(
        DBClusterIdentifier=ident)["DBClusters"][0]["Status"])


class Clusters(ResourceKind):
    section = "clusters"
    groups = ("aurora",)

    def enabled(self, config: StageConfig) -> bool:
        return bool(config.features.database)

    def load(self, data: dict[str, Any]) -> ClusterRecord:
        return ClusterRecord(status=data["status"], instances=data["instances"])

    def discover(self, ctx: Context) -> dict[str, ClusterRecord]:
        found: dict[str, ClusterRecord] = {}
        wanted = contract.database_cluster_id(ctx.stage)
        for cluster in ctx.paginate("rds", "describe_db_clusters", "DBClusters"):
            tags = {t["Key"]: t["Value"] for t in cluster.get("TagList", [])}
            ident = cluster["DBClusterIdentifier"]
            if tags.get(contract.TAG_STAGE) != ctx.stage and ident != wanted:
                continue
            found[ident] = ClusterRecord(status=settled_status(cluster["Status"]),
                                         instances=len(cluster.get("DBClusterMembers", [])))
        return found

    def attributes(self, records: dict[str, ClusterRecord]) -> list[Attr]:
        return [self.attr("aurora", "cluster", ident, cluster, cluster.status, "stopped")
                for ident, cluster in records.items()]

    def read(self, ctx: Context, attr: Attr) -> Value:
        return settled_status(_status(ctx, attr.resource))

    def write(self, ctx: Context, attr: Attr, value: Value) -> str:
        rds, ident = ctx.client("rds"), attr.resource
        status = _status(ctx, ident)
        if value == "stopped":
            if status == "stopped":
                return "already stopped"
            if status != "stopping":
                if status != "available":  # only ever stopped from available
                    ctx.boto_wait("rds", "db_cluster_available", ctx.timeouts.aurora,
                                  DBClusterIdentifier=ident)
                rds.stop_db_cluster(DBClusterIdentifier=ident)
            ctx.wait(lambda: _status(ctx, ident) == "stopped", ctx.timeouts.aurora,
                     f"Aurora cluster {ident} stopped")
            return "stopped"
        if status == "stopping":
            ctx.wait(lambda: _status(ctx, ident) == "stopped", ctx.timeouts.aurora,
                     f"Aurora cluster {ident} stopped")
            status = "stopped"
        if status == "stopped":
            rds.start_db_cluster(DBClusterIdentifier=ident)
        ctx.boto_wait("rds", "db_cluster_available", ctx.timeouts.aurora,
                      DBClusterIdentifier=ident)
        return "available"

    def hourly(self, records: dict[str, ClusterRecord], prices: Prices,
               config: StageConfig) -> list[tuple[str, str, float]]:
        items = []
        for ident, cluster in records.items():
            count = cluster.instances or prices.aurora_instances
            running = cluster.status == "available"
            items.append((f"Aurora {ident}",
                          f"{count} x {config.rds_instance_class} "
                          f"(${prices.aurora_instance_hour}/h; storage still billed)"
                          if running else "already stopped before idle",
                          count * prices.aurora_instance_hour if running else 0.0))
        return items

    def drift_note(self, attr: Attr, live: Value, idle_for: dt.timedelta | None) -> str:
        if live != "available":
            return ""
        note = ("running again: AWS starts a stopped Aurora cluster after 7 days"
                if idle_for is not None and idle_for >= AURORA_AUTO_RESTART
                else "running again (started while idle)")
        return note + "; run `garmaxctl idle down` to stop it again"
