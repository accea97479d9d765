"""Lambda: one runtime function, its explicit log group, its role and its SSM reads.

- Named ``GarmaxAi-{Function}-{STAGE}`` (contract.function_name), Python 3.12, x86_64.
- An explicit ``logs.LogGroup`` named ``/aws/lambda/{name}`` with the stage's retention
  (not the ``log_retention`` property: that one deploys a custom resource).
- Its own role with no managed policy: write access to its own log group only, then
  whatever the stack grants with ``grant_*``; ``ssm:GetParameter*`` only on the paths of
  ``contract.FUNCTION_PARAMS`` for this function.
- Tagged ``garmaxai:function`` = its ``contract.Function`` name (a cost allocation tag).
- Environment: names only (contract.RuntimeEnv, table and bucket variables), never a value
  from ``.env``; secrets are read from Parameter Store at run time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from garmaxctl.shared import contract
from infra.components import acknowledge, removal_policy, retention_days

RUNTIME = lambda_.Runtime.PYTHON_3_12
SQS_BATCH_SIZE = 10
# Lambda's floor for an SQS event source mapping's maximum concurrency.
MIN_ESM_MAX_CONCURRENCY = 2


def ssm_parameter_arn(stack: cdk.Stack, stage: str, path: str) -> str:
    """ARN of a parameter (or a ``dir/*`` subtree) under ``/garmaxai/{STAGE}/``."""
    name = contract.params_prefix(stage).lstrip("/") + path
    return stack.format_arn(
        service="ssm", resource="parameter", resource_name=name,
        arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
    )


class ServiceFunction(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: contract.Function,
        stage: str,
        code: lambda_.Code,
        memory_mb: int,
        timeout: cdk.Duration,
        reserved_concurrency: int | None,
        tracing: bool,
        environment: Mapping[str, str],
        log_retention_days: int,
        retain_logs: bool,
        vpc: ec2.IVpc | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.function_id = function
        self.name = contract.function_name(function, stage)
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=contract.function_log_group(function, stage),
            retention=retention_days(log_retention_days),
            removal_policy=removal_policy(retain_logs),
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of {self.name}",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=self.name,
            description=f"GARMAX AI {function} ({stage})",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=contract.HANDLERS[function],
            code=code,
            memory_size=memory_mb,
            timeout=timeout,
            reserved_concurrent_executions=reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE if tracing else lambda_.Tracing.DISABLED,
            environment=dict(environment),
            log_group=self.log_group,
            role=self.role,
            vpc=vpc,
            vpc_subnets=(ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
                         if vpc else None),
            security_groups=list(security_groups) if vpc else None,
        )
        # A cost allocation tag: `garmaxctl cost report --by function` (docs/cost.md).
        cdk.Tags.of(self.function).add(contract.TAG_FUNCTION, str(function))
        self.reserved_concurrency = reserved_concurrency
        self._grant_parameters(stack, stage, contract.FUNCTION_PARAMS.get(function, ()))
        acknowledge(
            self.function, "AwsSolutions-L1",
            "Pinned to Python 3.12 on purpose: the bundler installs the dependencies' wheels "
            "for cp312 (infra/bundling.py) and the runtime is tested on it; move both together.",
        )
        if tracing:
            acknowledge(
                self.role, "AwsSolutions-IAM5[Resource::*]",
                "Active X-Ray tracing: xray:PutTraceSegments/PutTelemetryRecords support no "
                "resource-level permissions, so AWS requires Resource '*'.",
                with_children=True,
            )
        if vpc is not None:
            acknowledge(
                self.role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                "service-role/AWSLambdaVPCAccessExecutionRole]",
                "Added by CDK for a function in a VPC: the ENI create/describe/delete actions "
                "Lambda needs to attach to the private subnets, and nothing else.",
                with_children=True,
            )

    def _grant_parameters(self, stack: cdk.Stack, stage: str, paths: Sequence[str]) -> None:
        if not paths:
            return
        resources = [ssm_parameter_arn(stack, stage, p) for p in paths]
        actions = ["ssm:GetParameter", "ssm:GetParameters"]
        if any(p.endswith("/*") for p in paths):
            actions.append("ssm:GetParametersByPath")
            # GetParametersByPath authorises on the path itself (``.../budget``).
            resources += [ssm_parameter_arn(stack, stage, p[:-2]) for p in paths
                          if p.endswith("/*")]
        self.role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))
        for path in paths:
            if path.endswith("/*"):
                arn = (f"arn:{_partition_for_finding(stack)}:ssm:{stack.region}:"
                       f"{_account_for_finding(stack)}:parameter"
                       f"{contract.params_prefix(stage)}{path}")
                acknowledge(
                    self.role, f"AwsSolutions-IAM5[Resource::{arn}]",
                    f"Read-only access to the {path[:-2]}/ subtree of this stage's parameters "
                    "(contract.FUNCTION_PARAMS): its budgets/quotas are read together.",
                    with_children=True,
                )

    def consume(self, queue: sqs.IQueue, *, max_concurrency: int) -> None:
        """Subscribe to ``queue`` with partial batch responses, capped below reserved."""
        if self.reserved_concurrency is not None and max_concurrency > self.reserved_concurrency:
            raise ValueError(
                f"{self.name}: ESM maximum concurrency {max_concurrency} exceeds reserved "
                f"concurrency {self.reserved_concurrency} (messages would be throttled into "
                "the DLQ)"
            )
        if max_concurrency < MIN_ESM_MAX_CONCURRENCY:
            raise ValueError(f"{self.name}: SQS maximum concurrency must be >= 2")
        self.function.add_event_source(
            sources.SqsEventSource(
                queue,
                batch_size=SQS_BATCH_SIZE,
                report_batch_item_failures=True,
                max_concurrency=max_concurrency,
            )
        )


def _account_for_finding(stack: cdk.Stack) -> str:
    return "<AWS::AccountId>" if cdk.Token.is_unresolved(stack.account) else stack.account


def _partition_for_finding(stack: cdk.Stack) -> str:
    # With @aws-cdk/core:enablePartitionLiterals and a known region, ARNs carry "aws".
    return "<AWS::Partition>" if cdk.Token.is_unresolved(stack.region) else stack.partition
