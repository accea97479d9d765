"""The AWS permissions each command needs, as data: named sets the registry refers to.

A command's ``actions`` in ``garmaxctl.registry`` is a tuple of :class:`Permission`: one
IAM action on one resource pattern, scoped to one stage. The patterns hold placeholders
that an operator replaces when the policy is made for a stage (docs/iam/README.md):

- ``${Stage}`` the stage name (``DEV``), ``${stage}`` the same in lower case (``dev``: S3
  bucket names, the Aurora cluster, the Redis group), ``${Account}`` and ``${Region}``.

Names come from ``garmaxctl.shared.contract`` (the names the stack and the CLI agree on),
so a renamed resource renames its permission. CDK names buckets, tables, queues, roles
and the ECS cluster after the stack: they match ``GarmaxAiStack-${Stage}-*``.

The call recorder of the test suite checks both ways that every AWS call a command makes
is in its set and every action of a set is called by some test (tests/iam/); the policies
in docs/iam/ are generated from these sets (``make iam``, :func:`policy_document`).

Pure data and light: the registry imports it on ``garmaxctl --help``'s path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from garmaxctl.shared import contract

STAGE = "${Stage}"
ACCOUNT = "${Account}"
REGION = "${Region}"
PLACEHOLDERS = ("${Stage}", "${stage}", "${Account}", "${Region}")

# CDK's default bootstrap qualifier (`cdk bootstrap` without --qualifier).
CDK_QUALIFIER = "hnb659fds"
CDK_TOOLKIT_STACK = "CDKToolkit"


@dataclass(frozen=True, order=True)
class Permission:
    """One IAM action allowed on one resource pattern (under an optional condition)."""

    action: str  # "ssm:GetParameter"
    resource: str  # an ARN pattern with placeholders, or "*" (see ONLY_STAR)
    condition: tuple[tuple[str, str, str], ...] = ()  # (operator, key, value)

    @property
    def service(self) -> str:
        return self.action.split(":", 1)[0]


def allow(actions: str, *resources: str,
          condition: tuple[tuple[str, str, str], ...] = ()) -> tuple[Permission, ...]:
    """``allow("ssm:GetParameter ssm:GetParameters", PARAMS)``: each action on each resource."""
    return tuple(Permission(a, r, condition) for a in actions.split() for r in resources)


def union(*sets: Iterable[Permission]) -> tuple[Permission, ...]:
    """The sets together, each permission once, sorted (a registry entry's ``actions``)."""
    return tuple(sorted({p for s in sets for p in s}))


def _arn(service: str, rest: str, *, region: bool = True, account: bool = True) -> str:
    return (f"arn:aws:{service}:{REGION if region else ''}:{ACCOUNT if account else ''}:"
            f"{rest}")


def _cdk_role(kind: str) -> str:
    return _arn("iam", f"role/cdk-{CDK_QUALIFIER}-{kind}-role-{ACCOUNT}-{REGION}", region=False)


# --------------------------------------------------------------------------- resources
# Each resource pattern has a name: the policies' statement ids (``RESOURCE_NAMES``).

ANY = "*"
STACK_NAME = contract.stack_name(STAGE)  # GarmaxAiStack-${Stage}
STACK = _arn("cloudformation", f"stack/{STACK_NAME}/*")
PARAMS_TREE = _arn("ssm", "parameter" + contract.params_prefix(STAGE).rstrip("/"))
PARAMS = _arn("ssm", "parameter" + contract.params_prefix(STAGE) + "*")
OPS_PARAMS = _arn("ssm", "parameter" + contract.ops_prefix(STAGE) + "*")
FUNCTIONS = _arn("lambda", "function:" + contract.function_name("*", STAGE))
FUNCTION_QUALIFIERS = FUNCTIONS + ":*"  # aliases and versions (provisioned concurrency)
EVENT_SOURCE_MAPPINGS = _arn("lambda", "event-source-mapping:*")  # ids are random UUIDs
ALARMS = _arn("cloudwatch", "alarm:" + contract.alarm_name("*", STAGE))
TABLES = _arn("dynamodb", f"table/{STACK_NAME}-*")
BUCKETS = f"arn:aws:s3:::{STACK_NAME.lower()}-*"  # CDK-named buckets are lower case
OBJECTS = BUCKETS + "/*"
QUEUES = _arn("sqs", f"{STACK_NAME}-*")
RULES = _arn("events", f"rule/{contract.event_bus_name(STAGE)}/GarmaxAi-*-{STAGE}")
ECS_SERVICES = _arn("ecs", f"service/{STACK_NAME}-*/{STACK_NAME}-*")
SCALABLE_TARGETS = _arn("application-autoscaling", "scalable-target/*")  # random ids
DB_CLUSTER = _arn("rds", "cluster:" + contract.database_cluster_id(STAGE))
CACHE = _arn("elasticache", "replicationgroup:" + contract.cache_cluster_id(STAGE))
BUDGET = _arn("budgets", "budget/" + contract.budget_name(STAGE), region=False)
LOG_GROUPS = _arn("logs", "log-group:" + contract.function_log_group("*", STAGE))
API_LOG_GROUP = _arn("logs", "log-group:" + contract.api_access_log_group(STAGE))
FUNCTION_ROLES = _arn("iam", f"role/{STACK_NAME}-*", region=False)
# verify reads every managed policy attached to a function role: AWS's (an attached
# AdministratorAccess is what it must catch) and the account's.
AWS_MANAGED_POLICIES = "arn:aws:iam::aws:policy/*"
ACCOUNT_POLICIES = _arn("iam", "policy/*", region=False)
KMS_KEYS = _arn("kms", "key/*")  # the key a SecureString names; only through SSM
CDK_DEPLOY_ROLE = _cdk_role("deploy")
CDK_FILE_PUBLISHING_ROLE = _cdk_role("file-publishing")
CDK_LOOKUP_ROLE = _cdk_role("lookup")
CDK_TOOLKIT = _arn("cloudformation", f"stack/{CDK_TOOLKIT_STACK}/*")
CDK_ROLES = _arn("iam", f"role/cdk-{CDK_QUALIFIER}-*-role-{ACCOUNT}-{REGION}", region=False)
CDK_ASSETS_BUCKET = f"arn:aws:s3:::cdk-{CDK_QUALIFIER}-assets-{ACCOUNT}-{REGION}"
CDK_ASSETS_REPOSITORY = _arn("ecr", f"repository/cdk-{CDK_QUALIFIER}-container-assets-"
                                    f"{ACCOUNT}-{REGION}")
CDK_VERSION_PARAM = _arn("ssm", f"parameter/cdk-bootstrap/{CDK_QUALIFIER}/version")
CFN_EXECUTION_POLICY = _arn("iam", "policy/GarmaxAiCfnExecution", region=False)
# The audit trail: the stage's log group (its streams) and the chain's head in SSM.
AUDIT_LOG_GROUP = _arn("logs", "log-group:" + contract.audit_log_group(STAGE))
AUDIT_LOG_STREAMS = AUDIT_LOG_GROUP + ":*"
AUDIT_HEAD = _arn("ssm", "parameter" + contract.audit_head_parameter(STAGE))
# The mute rules `alarms mute` keeps, one per alarm: garmaxctl-mute-GarmaxAI-{Name}-{STAGE}.
MUTE_RULES = _arn("cloudwatch", "alarm-mute-rule:garmaxctl-mute-"
                  + contract.alarm_name("*", STAGE))
# Log groups as IAM evaluates the reads of their events (FilterLogEvents, StartQuery,
# GetQueryResults, StartLiveTail): the group's ARN, and the same with ``:*`` (its streams).
LOG_GROUP_STREAMS = LOG_GROUPS + ":*"
API_LOG_GROUP_STREAMS = API_LOG_GROUP + ":*"
# doctor --permissions: the caller's own user or role, simulated (and a role read for its
# real ARN: an SSO role lives under a path).
CALLER_USERS = _arn("iam", "user/*", region=False)
CALLER_ROLES = _arn("iam", "role/*", region=False)
# dr: the source cluster and the clusters it restores (``{source}-restored-…``,
# ``{source}-drill-…``), their writer instances, and what a restore names of the source:
# its subnet group and parameter groups (CloudFormation names them after the stack, lower
# case) and Aurora MySQL's default option group.
DB_CLUSTERS = DB_CLUSTER + "*"
DB_INSTANCES = _arn("rds", "db:" + contract.database_cluster_id(STAGE) + "*")
DB_SUBNET_GROUPS = _arn("rds", f"subgrp:{STACK_NAME.lower()}-*")
DB_CLUSTER_PARAMETER_GROUPS = _arn("rds", f"cluster-pg:{STACK_NAME.lower()}-*")
DB_PARAMETER_GROUPS = _arn("rds", f"pg:{STACK_NAME.lower()}-*")
DB_OPTION_GROUPS = _arn("rds", "og:default:aurora-mysql-*")
# DeleteDBCluster is authorised on the cluster and on its final snapshot (none is taken:
# the drill deletes with SkipFinalSnapshot, but IAM names the type).
DB_CLUSTER_SNAPSHOTS = _arn("rds", "cluster-snapshot:" + contract.database_cluster_id(STAGE)
                            + "*")

RESOURCE_NAMES: dict[str, str] = {
    ANY: "ActionsWithoutResourceLevelPermissions",
    STACK: "Stack", PARAMS_TREE: "ParameterTree", PARAMS: "Parameters",
    OPS_PARAMS: "OpsParameters", FUNCTIONS: "Functions",
    FUNCTION_QUALIFIERS: "FunctionAliases", EVENT_SOURCE_MAPPINGS: "EventSourceMappings",
    ALARMS: "Alarms", TABLES: "Tables", BUCKETS: "Buckets", OBJECTS: "Objects",
    QUEUES: "Queues", RULES: "Rules", ECS_SERVICES: "EcsServices",
    SCALABLE_TARGETS: "ScalableTargets", DB_CLUSTER: "DatabaseCluster", CACHE: "Cache",
    BUDGET: "Budget", LOG_GROUPS: "FunctionLogGroups", API_LOG_GROUP: "ApiLogGroup",
    FUNCTION_ROLES: "FunctionRoles", AWS_MANAGED_POLICIES: "AwsManagedPolicies",
    ACCOUNT_POLICIES: "AccountManagedPolicies",
    KMS_KEYS: "SecureStringKeys", CDK_DEPLOY_ROLE: "CdkDeployRole",
    CDK_FILE_PUBLISHING_ROLE: "CdkFilePublishingRole", CDK_LOOKUP_ROLE: "CdkLookupRole",
    CDK_TOOLKIT: "CdkToolkitStack", CDK_ROLES: "CdkBootstrapRoles",
    CDK_ASSETS_BUCKET: "CdkAssetsBucket", CDK_ASSETS_REPOSITORY: "CdkAssetsRepository",
    CDK_VERSION_PARAM: "CdkBootstrapVersion", CFN_EXECUTION_POLICY: "CfnExecutionPolicy",
    AUDIT_LOG_GROUP: "AuditLogGroup", AUDIT_LOG_STREAMS: "AuditLogStreams",
    AUDIT_HEAD: "AuditHead", MUTE_RULES: "AlarmMuteRules", LOG_GROUP_STREAMS: "FunctionLogStreams",
    API_LOG_GROUP_STREAMS: "ApiLogStreams", DB_CLUSTERS: "DatabaseClusters",
    DB_INSTANCES: "DatabaseInstances", DB_SUBNET_GROUPS: "DatabaseSubnetGroups",
    DB_CLUSTER_PARAMETER_GROUPS: "DatabaseClusterParameterGroups",
    DB_PARAMETER_GROUPS: "DatabaseParameterGroups", DB_OPTION_GROUPS: "DatabaseOptionGroups",
    DB_CLUSTER_SNAPSHOTS: "DatabaseClusterSnapshots",
    # doctor --permissions: the caller's own user or role (defined with DOCTOR below).
    CALLER_USERS: "CallerUsers", CALLER_ROLES: "CallerRoles",
}

# Actions that take no resource-level permission (the Service Authorization Reference
# lists no resource type for them, so "*" is the only resource IAM accepts). Each has its
# reason; tests/iam/ checks this list against the policy linter's own data.
ONLY_STAR: dict[str, str] = {
    "ssm:DescribeParameters": "lists parameters; filtered by path in the request",
    "lambda:ListFunctions": "idle and health find the stage's functions by name in the list",
    "lambda:ListEventSourceMappings": "idle finds the stage's mappings by function",
    "events:ListRules": "idle lists the stage bus's rules (EventBusName in the request)",
    "ecs:ListClusters": "idle finds the stage's cluster in the list",
    "ecs:ListServices": "idle lists the services of the stage's cluster",
    "application-autoscaling:DescribeScalableTargets": "idle reads the service's bounds",
    "cloudwatch:GetMetricData": "metrics are not resources in IAM (health: queue clocks)",
    "logs:DescribeLogGroups": "verify reads the retention of the stage's log groups",
    # Cost Explorer's only resource type is an optional billing view (of the account, not
    # of a stage); the answer is filtered by the stage's tag in the request.
    "ce:GetCostAndUsage": "Cost Explorer answers for the account (filtered by tag)",
    "ce:GetCostForecast": "Cost Explorer answers for the account (filtered by tag)",
    "cloudwatch:ListAlarmMuteRules": "alarms finds garmaxctl's mute rules of the stage's "
                                     "alarms in the account's list",
    "logs:StopQuery": "a query is named by its id (logs query stops its own on a timeout)",
    "sts:GetCallerIdentity": "who the caller is (every real-stage command, doctor "
                             "--permissions); AWS requires no permission for it, listed so "
                             "the table names every call doctor makes",
}

# Actions newer than the policy linter's copy of the Service Authorization Reference
# (parliament 1.6.4, 2025): checked against botocore's service model instead (tests/iam/).
NEWER_THAN_LINTER = frozenset({
    "cloudwatch:PutAlarmMuteRule", "cloudwatch:GetAlarmMuteRule",
    "cloudwatch:DeleteAlarmMuteRule", "cloudwatch:ListAlarmMuteRules",
})

# The condition that lets a KMS key be used only through Parameter Store in the region.
VIA_SSM = (("StringEquals", "kms:ViaService", f"ssm.{REGION}.amazonaws.com"),)

# --------------------------------------------------------------------------- named sets

READ_STACK = allow("cloudformation:DescribeStacks", STACK)
READ_STACK_EVENTS = allow("cloudformation:DescribeStackEvents", STACK)

# Parameter Store. A SecureString under a customer managed key also needs the key: KMS is
# called by SSM on the caller's behalf (kms:Decrypt to read decrypted, kms:Encrypt to
# write); the AWS managed key aws/ssm needs no grant (docs/iam/README.md).
DECRYPT_PARAMS = allow("kms:Decrypt", KMS_KEYS, condition=VIA_SSM)
ENCRYPT_PARAMS = allow("kms:Encrypt", KMS_KEYS, condition=VIA_SSM)
DESCRIBE_PARAMS = allow("ssm:DescribeParameters", ANY)
READ_PARAM_TREE = union(allow("ssm:GetParametersByPath", PARAMS_TREE, PARAMS))
READ_PARAMS = union(allow("ssm:GetParameter ssm:GetParameters", PARAMS), DECRYPT_PARAMS)
READ_PARAM_HISTORY = union(allow("ssm:GetParameterHistory", PARAMS), DECRYPT_PARAMS)
WRITE_PARAMS = union(
    allow("ssm:PutParameter ssm:DeleteParameter ssm:ListTagsForResource", PARAMS),
    # PutParameter with Tags (a type replaced by delete + create keeps its tags) is also
    # authorised as ssm:AddTagsToResource.
    allow("ssm:AddTagsToResource", PARAMS), ENCRYPT_PARAMS)

READ_OPS = allow("ssm:GetParameter", OPS_PARAMS)  # deploy marker, idle snapshot and lock
WRITE_OPS = allow("ssm:PutParameter ssm:DeleteParameter", OPS_PARAMS)

READ_FUNCTIONS = allow("lambda:GetFunctionConfiguration lambda:GetFunctionConcurrency",
                       FUNCTIONS)
READ_ALARMS = allow("cloudwatch:DescribeAlarms", ALARMS)
READ_TABLES = allow("dynamodb:DescribeTable", TABLES)
READ_LEDGER = allow("dynamodb:Query dynamodb:Scan", TABLES)  # budget: today's spend
READ_BUCKETS = allow("s3:ListBucket", BUCKETS)  # HeadBucket
READ_QUEUES = allow("sqs:GetQueueAttributes", QUEUES)
READ_DATABASE = allow("rds:DescribeDBClusters", DB_CLUSTER)
READ_CACHE = allow("elasticache:DescribeReplicationGroups", CACHE)
READ_BUDGET = allow("budgets:ViewBudget", BUDGET)  # DescribeBudget, its notifications
READ_COST = allow("ce:GetCostAndUsage ce:GetCostForecast", ANY)

# What health reads (status and verify include it).
READ_HEALTH = union(READ_STACK, READ_FUNCTIONS, READ_ALARMS, READ_TABLES, READ_BUCKETS,
                    READ_QUEUES, READ_DATABASE, READ_CACHE,
                    allow("cloudwatch:GetMetricData", ANY),  # the queues' clocks
                    allow("ssm:GetParameter ssm:GetParameters", PARAMS), READ_OPS)

# The post-deployment checklist's extra reads: bucket security, function roles, logs.
READ_SECURITY = union(
    allow("s3:GetBucketPolicy s3:GetBucketAcl s3:GetBucketPublicAccessBlock", BUCKETS),
    allow("iam:ListRolePolicies iam:GetRolePolicy iam:ListAttachedRolePolicies",
          FUNCTION_ROLES),
    allow("iam:GetPolicy iam:GetPolicyVersion", AWS_MANAGED_POLICIES, ACCOUNT_POLICIES),
    allow("logs:DescribeLogGroups", ANY), DESCRIBE_PARAMS, DECRYPT_PARAMS)

# Idle: what it reads of every kind, and what it changes.
READ_IDLE = union(
    READ_OPS, READ_STACK, READ_DATABASE, READ_ALARMS,
    allow("lambda:ListFunctions lambda:ListEventSourceMappings", ANY),
    allow("lambda:GetFunctionConcurrency lambda:ListProvisionedConcurrencyConfigs", FUNCTIONS),
    allow("lambda:GetProvisionedConcurrencyConfig", FUNCTION_QUALIFIERS),
    allow("lambda:GetEventSourceMapping", EVENT_SOURCE_MAPPINGS),
    allow("events:ListRules", ANY), allow("events:DescribeRule", RULES),
    allow("ecs:ListClusters ecs:ListServices", ANY), allow("ecs:DescribeServices", ECS_SERVICES),
    allow("application-autoscaling:DescribeScalableTargets", ANY),
    allow("sqs:GetQueueUrl sqs:GetQueueAttributes", QUEUES),
    allow("cloudwatch:GetMetricData", ANY))
CHANGE_IDLE = union(
    WRITE_OPS,
    allow("lambda:PutFunctionConcurrency lambda:DeleteFunctionConcurrency "
          "lambda:GetFunctionConfiguration lambda:InvokeFunction", FUNCTIONS),
    allow("lambda:PutProvisionedConcurrencyConfig lambda:DeleteProvisionedConcurrencyConfig",
          FUNCTION_QUALIFIERS),
    allow("lambda:UpdateEventSourceMapping", EVENT_SOURCE_MAPPINGS),
    allow("events:EnableRule events:DisableRule", RULES),
    allow("ecs:UpdateService", ECS_SERVICES),
    allow("application-autoscaling:RegisterScalableTarget", SCALABLE_TARGETS),
    allow("rds:StopDBCluster rds:StartDBCluster", DB_CLUSTER),
    allow("cloudwatch:EnableAlarmActions cloudwatch:DisableAlarmActions", ALARMS))

# Smoke: a try-on session through the API, then its traces removed.
SMOKE = union(
    READ_STACK, allow("ssm:GetParameter", PARAMS),
    allow("s3:PutObject s3:GetObject s3:DeleteObject", OBJECTS),
    allow("sqs:GetQueueAttributes sqs:ReceiveMessage sqs:DeleteMessage", QUEUES),
    allow("dynamodb:GetItem dynamodb:UpdateItem dynamodb:DeleteItem", TABLES))

# The CDK CLI: it assumes the roles `cdk bootstrap` made and works through them.
CDK_DIFF = allow("sts:AssumeRole", CDK_LOOKUP_ROLE)  # reads the deployed template
CDK_DEPLOY = allow("sts:AssumeRole", CDK_DEPLOY_ROLE, CDK_FILE_PUBLISHING_ROLE)
DEPLOY = union(CDK_DEPLOY, READ_STACK, READ_STACK_EVENTS, READ_OPS,
               allow("ssm:PutParameter", OPS_PARAMS))
DESTROY = union(allow("sts:AssumeRole", CDK_DEPLOY_ROLE), READ_STACK, READ_STACK_EVENTS)

# `cdk bootstrap` runs with the caller's own credentials: it creates the CDKToolkit stack
# (its roles, assets bucket and repository, version parameter) and attaches the scoped
# execution policy (docs/iam/cfn-execution.json) to the execution role.
BOOTSTRAP = union(
    allow("cloudformation:CreateChangeSet cloudformation:DescribeChangeSet "
          "cloudformation:ExecuteChangeSet cloudformation:DeleteChangeSet "
          "cloudformation:DescribeStacks cloudformation:DescribeStackEvents "
          "cloudformation:GetTemplate", CDK_TOOLKIT),
    allow("iam:CreateRole iam:DeleteRole iam:GetRole iam:TagRole iam:UntagRole "
          "iam:UpdateAssumeRolePolicy iam:PutRolePolicy iam:DeleteRolePolicy "
          "iam:GetRolePolicy iam:AttachRolePolicy iam:DetachRolePolicy", CDK_ROLES),
    allow("iam:GetPolicy", CFN_EXECUTION_POLICY),
    allow("s3:CreateBucket s3:DeleteBucket s3:GetBucketPolicy s3:PutBucketPolicy "
          "s3:DeleteBucketPolicy s3:PutEncryptionConfiguration s3:PutBucketVersioning "
          "s3:PutLifecycleConfiguration s3:PutBucketPublicAccessBlock "
          "s3:PutBucketOwnershipControls", CDK_ASSETS_BUCKET),
    allow("ecr:CreateRepository ecr:DeleteRepository ecr:DescribeRepositories "
          "ecr:SetRepositoryPolicy ecr:PutLifecyclePolicy ecr:PutImageScanningConfiguration "
          "ecr:PutImageTagMutability ecr:TagResource", CDK_ASSETS_REPOSITORY),
    allow("ssm:PutParameter ssm:GetParameters ssm:DeleteParameter ssm:AddTagsToResource",
          CDK_VERSION_PARAM))

# --------------------------------------------------------------------------- commands
# One set per command that calls AWS (the registry's ``actions=``).

READ_PARAM = union(allow("ssm:GetParameter", PARAMS), DECRYPT_PARAMS)  # params get
PARAMS_PLAN = union(DESCRIBE_PARAMS, READ_PARAM_TREE, DECRYPT_PARAMS)
PARAMS_PULL = union(READ_PARAM_TREE, DECRYPT_PARAMS)
PARAMS_PUSH = union(PARAMS_PLAN, READ_PARAM, WRITE_PARAMS)
PARAMS_ROLLBACK = union(DESCRIBE_PARAMS, READ_PARAM_HISTORY,
                        allow("ssm:PutParameter", PARAMS), ENCRYPT_PARAMS)
PARAMS_RESTORE = union(PARAMS_ROLLBACK, READ_PARAM_TREE, allow("ssm:DeleteParameter", PARAMS))
HEALTH = READ_HEALTH
STATUS = union(READ_HEALTH, allow("dynamodb:Query", TABLES))
VERIFY = union(READ_HEALTH, READ_SECURITY, READ_BUDGET, SMOKE)  # its workflow rows: smoke
BUDGET_STATUS = union(READ_STACK, READ_LEDGER, READ_BUDGET, allow("ssm:GetParameters", PARAMS))
IDLE_STATUS = READ_IDLE
# Every mutating command appends its audit record (docs/security.md): to the stage's
# log group, and moves the chain's head in SSM; `audit verify` reads the head.
AUDIT_TRAIL = union(allow("logs:CreateLogStream logs:PutLogEvents", AUDIT_LOG_GROUP,
                          AUDIT_LOG_STREAMS),
                    allow("ssm:PutParameter", AUDIT_HEAD))
AUDIT_VERIFY = allow("ssm:GetParameter", AUDIT_HEAD)
PARAMS_EXPORT = PARAMS_PLAN  # every parameter, decrypted (its metadata from Describe)
PARAMS_IMPORT = union(PARAMS_PUSH, allow("ssm:DeleteParameter", PARAMS))  # --prune

# alarms: the stage's alarms, their history, garmaxctl's mute rules; list and test also
# read idle's snapshot (an idle stage's alarms are "muted (idle)").
READ_MUTE_RULES = union(allow("cloudwatch:ListAlarmMuteRules", ANY),
                        allow("cloudwatch:GetAlarmMuteRule", MUTE_RULES))
ALARM_HISTORY = allow("cloudwatch:DescribeAlarmHistory", ALARMS)
ALARMS_LIST = union(READ_ALARMS, READ_MUTE_RULES, READ_OPS)
ALARMS_SHOW = union(READ_ALARMS, READ_MUTE_RULES, ALARM_HISTORY, READ_OPS)
ALARMS_HISTORY = union(READ_ALARMS, ALARM_HISTORY)
ALARMS_TEST = union(ALARMS_SHOW, allow("cloudwatch:SetAlarmState", ALARMS))
# PutAlarmMuteRule is authorised on the rule and on each alarm it targets.
ALARMS_MUTE = union(READ_ALARMS, READ_MUTE_RULES, READ_OPS,
                    allow("cloudwatch:PutAlarmMuteRule", MUTE_RULES, ALARMS))
ALARMS_UNMUTE = union(READ_ALARMS, READ_MUTE_RULES,
                      allow("cloudwatch:DeleteAlarmMuteRule", MUTE_RULES))

# logs: the groups found from the stack (ListStackResources), their events.
FIND_LOG_GROUPS = union(allow("cloudformation:ListStackResources", STACK),
                        allow("logs:DescribeLogGroups", ANY))
LOG_EVENTS = (LOG_GROUPS, LOG_GROUP_STREAMS, API_LOG_GROUP, API_LOG_GROUP_STREAMS)
LOGS_TAIL = union(FIND_LOG_GROUPS,
                  allow("logs:FilterLogEvents logs:StartLiveTail", *LOG_EVENTS))
LOGS_QUERY = union(FIND_LOG_GROUPS, allow("logs:StopQuery", ANY),
                   allow("logs:StartQuery logs:GetQueryResults", *LOG_EVENTS))

# dr: restore the stage's cluster to a new one (and its writer), read the params it would
# change; the drill deletes what it made. KMS is used by RDS for an encrypted cluster.
VIA_RDS = (("StringEquals", "kms:ViaService", f"rds.{REGION}.amazonaws.com"),)
DR_RESTORE = union(
    allow("rds:DescribeDBClusters", DB_CLUSTERS),
    allow("rds:DescribeDBInstances", DB_INSTANCES),
    allow("rds:RestoreDBClusterToPointInTime", DB_CLUSTERS, DB_SUBNET_GROUPS,
          DB_CLUSTER_PARAMETER_GROUPS, DB_OPTION_GROUPS),
    allow("rds:CreateDBInstance", DB_INSTANCES, DB_CLUSTERS, DB_SUBNET_GROUPS,
          DB_PARAMETER_GROUPS, DB_OPTION_GROUPS),
    allow("rds:AddTagsToResource", DB_CLUSTERS, DB_INSTANCES),
    allow("kms:CreateGrant kms:DescribeKey", KMS_KEYS, condition=VIA_RDS),
    allow("ssm:GetParameters", PARAMS), DECRYPT_PARAMS)
DR_DRILL = union(
    (p for p in DR_RESTORE if p.action != "ssm:GetParameters" and p not in DECRYPT_PARAMS),
    allow("rds:DeleteDBCluster", DB_CLUSTERS, DB_CLUSTER_SNAPSHOTS),
    allow("rds:DeleteDBInstance", DB_INSTANCES))
IDLE_DOWN = union(READ_IDLE, CHANGE_IDLE)
IDLE_UP = union(READ_IDLE, CHANGE_IDLE)

# doctor --permissions (real stages): who the caller is, its role's real ARN (an SSO role
# lives under a path), and IAM's policy simulator for every command's actions. The caller
# simulates itself: the principal is its own user or role, which IAM names by account.
DOCTOR = union(allow("sts:GetCallerIdentity", ANY),
               allow("iam:SimulatePrincipalPolicy", CALLER_USERS, CALLER_ROLES),
               allow("iam:GetRole", CALLER_ROLES))

# --------------------------------------------------------------------------- roles
# Which commands each published policy covers (issue 13); a command not yet in the
# registry is skipped. `bootstrap` is an administrator's one-off: docs/iam/bootstrap.json.

ROLES: dict[str, tuple[str, ...]] = {
    "readonly": (
        "doctor", "health", "status", "verify", "outputs", "diff",
        "alarms list", "alarms show", "alarms history", "logs tail", "logs query",
        "logs errors", "audit list", "audit show", "audit verify", "cost report",
        "cost forecast", "budget status",
        "params plan", "params diff", "params list", "params history", "idle status",
    ),
    "operator": (
        "params push", "params apply", "params rollback", "params restore", "params get",
        "params pull", "idle down", "idle up", "alarms test", "alarms mute",
        "alarms unmute", "smoke", "params export", "params import", "dr restore-db",
        "dr drill",
    ),
    # .github/workflows/deploy.yml: what the deploy job runs (docs/ci.md), its rollback
    # (`params restore`) and its alarm gate included.
    "ci-deploy": ("deploy", "params push", "params apply", "params restore", "verify",
                  "smoke", "alarms list", "config show"),
    # .github/workflows/ci.yml: a pull request's diff of each stage, nothing more (a
    # pull request's workflow can be changed by its author: this role must stay small).
    "ci-diff": ("diff", "config show"),
    "bootstrap": ("bootstrap",),
}
INCLUDES: dict[str, tuple[str, ...]] = {"operator": ("readonly",)}


def role_commands(role: str, known: Iterable[str]) -> list[str]:
    """The commands of a role (with those of the roles it includes) that exist."""
    present = set(known)
    wanted = [*ROLES[role], *(c for r in INCLUDES.get(role, ()) for c in ROLES[r])]
    return sorted({c for c in wanted if c in present})


POLICY_DIR = "docs/iam"


def policy_files(command: str) -> list[str]:
    """The published policies that hold ``command``'s actions, as files to attach:
    ``["docs/iam/operator.json beside docs/iam/readonly.json", "docs/iam/ci-deploy.json"]``
    (a role that includes another is attached beside it); ``[]`` when none does."""
    files = []
    for role, commands in ROLES.items():
        if command in commands:
            beside = "".join(f" beside {POLICY_DIR}/{r}.json" for r in INCLUDES.get(role, ()))
            files.append(f"{POLICY_DIR}/{role}.json{beside}")
    return files


def policy_hint(command: str) -> str:
    """What to attach so ``command`` may run (the access-denied message's fix)."""
    files = policy_files(command) if command else []
    if files:
        return (f"`{command}` needs {' or '.join(files)} (see {POLICY_DIR}/commands.md), "
                "or use another --profile")
    if command:
        return (f"no published policy holds `{command}`: its actions are in "
                f"{POLICY_DIR}/commands.md; or use another --profile")
    return f"see {POLICY_DIR}/commands.md, or use a role or profile that allows it (--profile)"


# --------------------------------------------------------------------------- actions
# A call's IAM action: the client's signing name is the service prefix except where AWS
# says otherwise (CloudWatch signs as "monitoring", its actions are "cloudwatch:"), and a
# few operations are authorised as another action (Service Authorization Reference and
# each API's "Permissions" section). The test suite's call recorder (tests/iam/) and the
# access-denied message (garmaxctl.aws) map calls with these.
SERVICE_PREFIX = {"monitoring": "cloudwatch"}
OPERATION_ACTIONS: dict[tuple[str, str], str | None] = {
    ("s3", "HeadBucket"): "s3:ListBucket",  # S3 API reference, HeadBucket "Permissions"
    ("s3", "HeadObject"): "s3:GetObject",  # HeadObject "Permissions"
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    # AWS Budgets: every read of a budget, its notifications and subscribers is ViewBudget.
    ("budgets", "DescribeBudget"): "budgets:ViewBudget",
    ("budgets", "DescribeBudgets"): "budgets:ViewBudget",
    ("budgets", "DescribeNotificationsForBudget"): "budgets:ViewBudget",
    ("budgets", "DescribeSubscribersForNotification"): "budgets:ViewBudget",
    # "No permissions are required to perform this operation" (STS API reference).
    ("sts", "GetCallerIdentity"): None,
    # Made by botocore's assume-role credential provider for a profile with role_arn, with
    # the profile's source credentials: a permission of the source, not of the role the
    # policy is for. (The CDK roles are assumed by the CDK CLI, never in-process.)
    ("sts", "AssumeRole"): None,
}


def iam_action(signing_name: str, operation: str) -> str | None:
    """The IAM action a call of ``operation`` needs (None: none)."""
    prefix = SERVICE_PREFIX.get(signing_name, signing_name)
    if (prefix, operation) in OPERATION_ACTIONS:
        return OPERATION_ACTIONS[(prefix, operation)]
    return f"{prefix}:{operation}"


def policy_document(permissions: Iterable[Permission]) -> dict[str, object]:
    """An IAM policy (Version 2012-10-17): one statement per set of resources (and
    condition), holding every action allowed on exactly that set, so each action stands in
    one statement with all its resources (an action that needs several resource types, as
    RDS's restore does, is allowed only where all of them are named); sorted, so it is
    deterministic."""
    by_action: dict[tuple[str, tuple[tuple[str, str, str], ...]], set[str]] = {}
    for p in permissions:
        by_action.setdefault((p.action, p.condition), set()).add(p.resource)
    merged: dict[tuple[tuple[str, ...], tuple[tuple[str, str, str], ...]], list[str]] = {}
    for (action, condition), resources in sorted(by_action.items()):
        merged.setdefault((tuple(sorted(resources)), condition), []).append(action)
    statements: list[dict[str, object]] = []
    for (named, condition), actions in merged.items():
        statement: dict[str, object] = {
            "Sid": "".join(RESOURCE_NAMES[r] for r in named) + _condition_name(condition),
            "Effect": "Allow",
            "Action": sorted(actions),
            "Resource": named[0] if len(named) == 1 else list(named),
        }
        if condition:
            clauses: dict[str, dict[str, str]] = {}
            for operator, key, value in condition:
                clauses.setdefault(operator, {})[key] = value
            statement["Condition"] = clauses
        statements.append(statement)
    statements.sort(key=lambda s: str(s["Sid"]))
    return {"Version": "2012-10-17", "Statement": statements}


def _condition_name(condition: tuple[tuple[str, str, str], ...]) -> str:
    """``ViaSsm`` for kms:ViaService ssm.…: keeps statement ids unique per condition."""
    return "".join("Via" + value.split(".")[0].capitalize()
                   for _, key, value in condition if key == "kms:ViaService")


def instantiate(text: str, *, stage: str, account: str, region: str) -> str:
    """A generated policy made for one stage: every placeholder replaced."""
    for placeholder, value in (("${Stage}", stage.upper()), ("${stage}", stage.lower()),
                               ("${Account}", account), ("${Region}", region)):
        text = text.replace(placeholder, value)
    return text


# --------------------------------------------------------------------------- bootstrap
# `cdk bootstrap --cloudformation-execution-policies ARN`: the policy CloudFormation works
# with when it deploys the stack (instead of the default AdministratorAccess). It allows
# the services of the resource types the stack synthesizes on its largest stage (PROD: the
# types of cdk.out/PROD/GarmaxAiStack-PROD.template.json), IAM only on the stack's own
# roles and policies, the service-linked roles ECS, RDS and ElastiCache create.
STACK_RESOURCE_SERVICES: dict[str, str] = {
    "AWS::ApiGateway": "apigateway", "AWS::Budgets": "budgets",
    "AWS::CloudWatch": "cloudwatch", "AWS::Cognito": "cognito-idp",
    "AWS::DynamoDB": "dynamodb", "AWS::EC2": "ec2", "AWS::ECS": "ecs",
    "AWS::ElastiCache": "elasticache", "AWS::Events": "events",
    "AWS::Lambda": "lambda", "AWS::Logs": "logs", "AWS::RDS": "rds", "AWS::S3": "s3",
    "AWS::SecretsManager": "secretsmanager", "AWS::SNS": "sns", "AWS::SQS": "sqs",
}
STACK_ROLES = _arn("iam", f"role/{contract.STACK_NAME_PREFIX}-*", region=False)
STACK_POLICIES = _arn("iam", f"policy/{contract.STACK_NAME_PREFIX}-*", region=False)


def cfn_execution_policy() -> dict[str, object]:
    iam = ("iam:CreateRole iam:DeleteRole iam:GetRole iam:UpdateRole iam:TagRole "
           "iam:UntagRole iam:UpdateAssumeRolePolicy iam:PutRolePolicy iam:GetRolePolicy "
           "iam:DeleteRolePolicy iam:AttachRolePolicy iam:DetachRolePolicy iam:PassRole")
    services = sorted(set(STACK_RESOURCE_SERVICES.values()))
    statements: list[dict[str, object]] = [
        {"Sid": "StackServices", "Effect": "Allow",
         "Action": [f"{s}:*" for s in services], "Resource": "*"},
        {"Sid": "StackRoles", "Effect": "Allow", "Action": sorted(iam.split()),
         "Resource": [STACK_ROLES]},
        {"Sid": "StackManagedPolicies", "Effect": "Allow",
         "Action": ["iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy",
                    "iam:DeletePolicyVersion", "iam:GetPolicy", "iam:GetPolicyVersion",
                    "iam:ListPolicyVersions"],
         "Resource": [STACK_POLICIES]},
        {"Sid": "ServiceLinkedRoles", "Effect": "Allow",
         "Action": ["iam:CreateServiceLinkedRole"], "Resource": "*",
         "Condition": {"StringLike": {"iam:AWSServiceName": [
             "ecs.amazonaws.com", "elasticache.amazonaws.com", "rds.amazonaws.com"]}}},
        {"Sid": "CdkBootstrapVersion", "Effect": "Allow", "Action": ["ssm:GetParameters"],
         "Resource": [CDK_VERSION_PARAM]},
    ]
    return {"Version": "2012-10-17", "Statement": statements}
