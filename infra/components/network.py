"""VPC: public subnets (NAT), private subnets with egress (functions, ECS) and isolated
subnets (Aurora, Redis) in the stage's explicit availability zones, so synthesis needs no
look-ups; one NAT gateway per ``nat_gateways``; flow logs to CloudWatch Logs. The security
groups let the application tier (functions, ECS tasks) reach the data tier and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.components import acknowledge, removal_policy, retention_days

MYSQL_PORT = 3306
REDIS_PORT = 6379


class Network(Construct):
    def __init__(self, scope: Construct, construct_id: str, *,
                 availability_zones: Sequence[str], nat_gateways: int,
                 log_retention_days: int, retain_logs: bool) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            availability_zones=list(availability_zones),
            nat_gateways=nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC,
                                        cidr_mask=24),
                ec2.SubnetConfiguration(name="App",
                                        subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                                        cidr_mask=22),
                ec2.SubnetConfiguration(name="Data",
                                        subnet_type=ec2.SubnetType.PRIVATE_ISOLATED,
                                        cidr_mask=24),
            ],
        )
        acknowledge(
            self.vpc, "CloudFormation-Validate::W3010",
            "Availability zones are explicit per stage (stages.py) so that synthesis needs no "
            "context look-up (DESIGN.md); the subnets name them on purpose.",
            with_children=True,
        )
        flow_logs = logs.LogGroup(
            self,
            "FlowLogs",
            retention=retention_days(log_retention_days),
            removal_policy=removal_policy(retain_logs),
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        self.app_security_group = ec2.SecurityGroup(
            self, "AppSg", vpc=self.vpc,
            description="GARMAX AI functions and ECS tasks", allow_all_outbound=True,
        )
        self.database_security_group = ec2.SecurityGroup(
            self, "DatabaseSg", vpc=self.vpc,
            description="GARMAX AI Aurora: MySQL from the app tier only",
            allow_all_outbound=False,
        )
        self.database_security_group.add_ingress_rule(
            self.app_security_group, ec2.Port.tcp(MYSQL_PORT), "MySQL from the app tier"
        )
        self.cache_security_group = ec2.SecurityGroup(
            self, "CacheSg", vpc=self.vpc,
            description="GARMAX AI Redis: TLS from the app tier only",
            allow_all_outbound=False,
        )
        self.cache_security_group.add_ingress_rule(
            self.app_security_group, ec2.Port.tcp(REDIS_PORT), "Redis from the app tier"
        )
