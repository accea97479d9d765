"""ECS services tagged ``garmaxai:stage={STAGE}``: the Application Auto Scaling minimum
(maximum kept), then the desired count, both to 0 (waiting for ``services_stable``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from garmaxctl.services.idle.context import Gone
from garmaxctl.services.idle.kinds.base import Attr, ResourceKind, Value
from garmaxctl.shared import contract

if TYPE_CHECKING:
    from garmaxctl.services.idle.context import Context
    from garmaxctl.shared.stages import StageConfig
    from garmaxctl.stage.prices import Prices


class Scaling(TypedDict):
    min: int
    max: int


@dataclass
class ServiceRecord:
    cluster: str
    service: str
    desired: int
    scaling: Scaling | None  # None: no Application Auto Scaling target

    def to_json(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "service": self.service, "desired": self.desired,
                "scaling": self.scaling}


def read_scaling(ctx: Context, cluster: str, service: str) -> Scaling | None:
    targets = ctx.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{cluster}/{service}"],
        ScalableDimension="ecs:service:DesiredCount")["ScalableTargets"]
    if not targets:
        return None
    return {"min": targets[0]["MinCapacity"], "max": targets[0]["MaxCapacity"]}


class Services(ResourceKind):
    section = "services"
    groups = ("ecs",)

    def enabled(self, config: StageConfig) -> bool:
        return bool(config.features.ecs)

    def load(self, data: dict[str, Any]) -> ServiceRecord:
        return ServiceRecord(cluster=data["cluster"], service=data["service"],
                             desired=data["desired"], scaling=data.get("scaling"))

    def discover(self, ctx: Context) -> dict[str, ServiceRecord]:
        ecs = ctx.client("ecs")
        found: dict[str, ServiceRecord] = {}
        for cluster_arn in ctx.paginate("ecs", "list_clusters", "clusterArns"):
            arns = ctx.paginate("ecs", "list_services", "serviceArns", cluster=cluster_arn)
            for start in range(0, len(arns), 10):
                described = ecs.describe_services(cluster=cluster_arn,
                                                  services=arns[start:start + 10],
                                                  include=["TAGS"])["services"]
                for service in described:
                    tags = {t["key"]: t["value"] for t in service.get("tags", [])}
                    if tags.get(contract.TAG_STAGE) != ctx.stage or \
                            service.get("status") != "ACTIVE":
                        continue
                    cluster, name = cluster_arn.rsplit("/", 1)[-1], service["serviceName"]
                    found[f"{cluster}/{name}"] = ServiceRecord(
                        cluster=cluster, service=name, desired=service["desiredCount"],
                        scaling=read_scaling(ctx, cluster, name))
        return found

    def attributes(self, records: dict[str, ServiceRecord]) -> list[Attr]:
        attrs = []
        for key, service in records.items():
            if service.scaling:
                attrs.append(self.attr("ecs", "scaling", key, service, service.scaling,
                                       {"min": 0, "max": service.scaling["max"]}))
            attrs.append(self.attr("ecs", "desired", key, service, service.desired, 0))
        return attrs

    def read(self, ctx: Context, attr: Attr) -> Value:
        service: ServiceRecord = attr.record
        if attr.kind == "scaling":
            return read_scaling(ctx, service.cluster, service.service)
        described = ctx.client("ecs").describe_services(
            cluster=service.cluster, services=[service.service])["services"]
        if not described or described[0].get("status") != "ACTIVE":
            raise Gone(f"ECS service {attr.resource} is gone")
        return described[0]["desiredCount"]

    def write(self, ctx: Context, attr: Attr, value: Value) -> str:
        service: ServiceRecord = attr.record
        if attr.kind == "scaling":
            ctx.client("application-autoscaling").register_scalable_target(
                ServiceNamespace="ecs", ResourceId=f"service/{attr.resource}",
                ScalableDimension="ecs:service:DesiredCount", MinCapacity=value["min"],
                MaxCapacity=value["max"])
            return f"autoscaling min {value['min']} max {value['max']} ({service.service})"
        ctx.client("ecs").update_service(cluster=service.cluster, service=service.service,
                                         desiredCount=value)
        ctx.boto_wait("ecs", "services_stable", ctx.timeouts.ecs,
                      cluster=service.cluster, services=[service.service])
        return f"desired count {value} (stable)"

    def hourly(self, records: dict[str, ServiceRecord], prices: Prices,
               config: StageConfig) -> list[tuple[str, str, float]]:
        return [(f"ECS {key}", f"{service.desired} task(s) x ${prices.fargate_task_hour}/h",
                 service.desired * prices.fargate_task_hour)
                for key, service in records.items()]
