"""The price table: what one stage's billed-by-the-hour resources cost while they run.

On-demand list prices, us-east-1, USD per hour (docs/idle.md, "Price table"). ``idle status``
estimates its saving from it; LOCAL's Cost Explorer bridge prices Lambda usage with it
(pure data: the emulator's process imports it too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from garmaxctl.shared.stages import StageConfig

HOURS_PER_MONTH = 730
FARGATE_VCPU_HOUR = 0.04048
FARGATE_GB_HOUR = 0.004445
NAT_GATEWAY_HOUR = 0.045
AURORA_HOURLY = {"db.t4g.medium": 0.073, "db.t4g.large": 0.146, "db.r5.large": 0.29}
CACHE_HOURLY = {"cache.t3.micro": 0.017, "cache.t3.small": 0.034, "cache.r5.large": 0.216}
# Usage prices (us-east-1, x86_64, before the free tier): what LOCAL's Cost Explorer bridge
# charges for the Lambda work that really ran there (docs/cost.md).
LAMBDA_REQUEST = 0.0000002  # $0.20 per million requests
LAMBDA_GB_SECOND = 0.0000166667


@dataclass(frozen=True)
class Prices:
    """On-demand list prices, us-east-1, USD per hour (docs/idle.md, "Price table")."""

    aurora_instance_hour: float  # one Aurora MySQL instance of the stage's class
    aurora_instances: int  # writer (+ reader where multi-AZ)
    fargate_task_hour: float  # one SMPL task of the stage's size
    cache_node_hour: float  # ElastiCache node (out of scope)
    cache_nodes: int
    nat_gateway_hour: float  # per NAT gateway (out of scope), before data processing
    nat_gateways: int


def prices_for(config: StageConfig) -> Prices:
    task = (config.ecs_cpu / 1024) * FARGATE_VCPU_HOUR + (config.ecs_memory_mb / 1024) * \
        FARGATE_GB_HOUR
    features = config.features
    return Prices(
        aurora_instance_hour=AURORA_HOURLY.get(config.rds_instance_class, 0.0)
        if features.database else 0.0,
        aurora_instances=2 if config.multi_az_database else 1,
        fargate_task_hour=round(task, 5) if features.ecs else 0.0,
        cache_node_hour=CACHE_HOURLY.get(config.cache_node_type, 0.0) if features.cache else 0.0,
        cache_nodes=2 if config.multi_az_database else 1,
        nat_gateway_hour=NAT_GATEWAY_HOUR if features.vpc else 0.0,
        nat_gateways=config.nat_gateways if features.vpc else 0,
    )

# CloudWatch Logs Insights: per GB (2^30 bytes) of log data a query scans (us-east-1).
LOGS_INSIGHTS_GB_SCANNED = 0.005
