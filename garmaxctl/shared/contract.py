"""Names that the CLI, the CDK app and the runtime must agree on.

Everything here is declared once: the stack name, its CloudFormation OutputKeys, the
physical names operators already use, the ``.env`` -> Parameter Store mapping, the
placeholder rule, the reserved ``/garmaxai/ops/{STAGE}/`` prefix, the environment
variables the CDK app hands each function, and the EventBridge source/detail-types.
Pure data and small pure functions: importable by the Lambda bundle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# --------------------------------------------------------------------------- stack

STACK_NAME_PREFIX = "GarmaxAiStack"
TAG_STAGE = "garmaxai:stage"
TAG_PROJECT = "garmaxai:project"
# On each function: its contract.Function name (a cost allocation tag: `cost report --by function`).
TAG_FUNCTION = "garmaxai:function"
PROJECT = "garmaxai"


def stack_name(stage: str) -> str:
    return f"{STACK_NAME_PREFIX}-{stage}"


class OutputKey(StrEnum):
    """CloudFormation outputs of ``GarmaxAiStack-{STAGE}``; the CLI reads them by exact key."""

    API_URL = "ApiUrl"
    API_ID = "ApiId"
    UPLOADS_BUCKET = "UploadsBucketName"
    RENDERS_BUCKET = "RendersBucketName"
    GUIDANCE_BUCKET = "GuidanceBucketName"
    SMPL_ASSETS_BUCKET = "SmplAssetsBucketName"
    LOGS_BUCKET = "LogsBucketName"
    TRYON_QUEUE_URL = "TryonQueueUrl"
    TRYON_DLQ_URL = "TryonDlqUrl"
    RENDER_QUEUE_URL = "RenderQueueUrl"
    RENDER_DLQ_URL = "RenderDlqUrl"
    BILLING_QUEUE_URL = "BillingQueueUrl"
    BILLING_DLQ_URL = "BillingDlqUrl"
    EVENT_BUS_NAME = "EventBusName"
    SESSIONS_TABLE = "SessionsTableName"
    RENDER_JOBS_TABLE = "RenderJobsTableName"
    QUOTAS_TABLE = "QuotasTableName"
    LEDGER_TABLE = "LedgerTableName"
    CREDITS_TABLE = "CreditsTableName"
    IDEMPOTENCY_TABLE = "IdempotencyTableName"
    ALERT_TOPIC_ARN = "AlertTopicArn"
    ACTIVITY_ALARM_NAME = "ActivityAlarmName"
    DASHBOARD_NAME = "DashboardName"
    # Present only where the stage's feature flag deploys them.
    USER_POOL_ID = "UserPoolId"
    USER_POOL_CLIENT_ID = "UserPoolClientId"
    DATABASE_CLUSTER_ID = "DatabaseClusterId"
    CACHE_CLUSTER_ID = "CacheClusterId"
    ECS_CLUSTER_NAME = "EcsClusterName"
    ECS_SERVICE_NAME = "EcsServiceName"
    # "true" while the SMPL service runs the placeholder image (stages.PLACEHOLDER_SMPL_IMAGE)
    # instead of a configured one, else "false"; present where the ECS service is.
    SMPL_PLACEHOLDER = "SmplPlaceholder"
    BUDGET_NAME = "BudgetName"


# --------------------------------------------------------------------------- functions

class Function(StrEnum):
    API = "Api"
    STRIPE_WEBHOOK = "StripeWebhook"
    TRYON_PROCESSOR = "TryonProcessor"
    AI_RENDER_PROCESSOR = "AiRenderProcessor"
    BILLING_PROCESSOR = "BillingProcessor"


# Handler entry points inside the Lambda bundle (the repository's ``runtime`` package).
HANDLERS: dict[Function, str] = {
    Function.API: "runtime.handlers.api.lambda_handler",
    Function.STRIPE_WEBHOOK: "runtime.handlers.stripe_webhook.lambda_handler",
    Function.TRYON_PROCESSOR: "runtime.handlers.tryon_processor.lambda_handler",
    Function.AI_RENDER_PROCESSOR: "runtime.handlers.render_processor.lambda_handler",
    Function.BILLING_PROCESSOR: "runtime.handlers.billing_processor.lambda_handler",
}

# The one route served by the StripeWebhook function, not the Api function (its own
# API Gateway resource, so idle can stop the API while payments keep arriving).
STRIPE_WEBHOOK_PATH = "/api/webhooks/stripe"

# Which queue each processor consumes (the Api and StripeWebhook functions consume none).
class Queue(StrEnum):
    TRYON = "Tryon"
    RENDER = "Render"
    BILLING = "Billing"


CONSUMERS: dict[Queue, Function] = {
    Queue.TRYON: Function.TRYON_PROCESSOR,
    Queue.RENDER: Function.AI_RENDER_PROCESSOR,
    Queue.BILLING: Function.BILLING_PROCESSOR,
}

QUEUE_OUTPUTS: dict[Queue, tuple[OutputKey, OutputKey]] = {
    Queue.TRYON: (OutputKey.TRYON_QUEUE_URL, OutputKey.TRYON_DLQ_URL),
    Queue.RENDER: (OutputKey.RENDER_QUEUE_URL, OutputKey.RENDER_DLQ_URL),
    Queue.BILLING: (OutputKey.BILLING_QUEUE_URL, OutputKey.BILLING_DLQ_URL),
}

DLQ_MAX_RECEIVE_COUNT = 3
# Every work queue and DLQ keeps messages this long: 14 days, SQS's maximum. Idle parks
# messages in the work queues, and a DLQ's clock counts from the original enqueue time.
QUEUE_RETENTION_SECONDS = 14 * 24 * 60 * 60


def function_name(function: Function | str, stage: str) -> str:
    return f"GarmaxAi-{function}-{stage}"


def function_log_group(function: Function | str, stage: str) -> str:
    return f"/aws/lambda/{function_name(function, stage)}"


def api_name(stage: str) -> str:
    return f"GarmaxAi-{stage}"


def api_access_log_group(stage: str) -> str:
    return f"/aws/apigateway/GarmaxAi-{stage}"


def audit_log_group(stage: str) -> str:
    """The stage's audit trail in CloudWatch Logs (created by the stack; docs/security.md)."""
    return f"/garmaxai/{stage}/audit"


def event_bus_name(stage: str) -> str:
    return f"GarmaxAi-Tryon-{stage}"


class Alarm(StrEnum):
    """Alarm names are ``GarmaxAI-{Name}-{STAGE}`` (the guide's operators use them)."""

    API_5XX = "ApiErrorRate"
    LAMBDA_ERRORS = "LambdaErrors"
    LAMBDA_DURATION = "LambdaDuration"
    QUEUE_DEPTH = "QueueDepth"
    TRYON_DLQ = "TryonDlqNotEmpty"
    RENDER_DLQ = "RenderDlqNotEmpty"
    BILLING_DLQ = "BillingDlqNotEmpty"
    ACTIVITY = "IdleActivity"


ALARM_PREFIX = "GarmaxAI-"


def alarm_name(alarm: Alarm | str, stage: str) -> str:
    return f"{ALARM_PREFIX}{alarm}-{stage}"


def dashboard_name(stage: str) -> str:
    return f"{ALARM_PREFIX}{stage}"


def budget_name(stage: str) -> str:
    """The AWS Budgets daily cost budget (``BudgetName`` output)."""
    return f"{ALARM_PREFIX}DailyCost-{stage}"


def api_stage_name(stage: str) -> str:
    """The API Gateway deployment stage: ``{ApiUrl}`` ends in ``/{this}/``."""
    return stage.lower()


def database_cluster_id(stage: str) -> str:
    """The Aurora cluster identifier the guide's operators use (``garmaxai-cluster-prod``)."""
    return f"garmaxai-cluster-{stage.lower()}"


def cache_cluster_id(stage: str) -> str:
    """The ElastiCache Redis replication group id (the guide's ``garmaxai-redis-prod``)."""
    return f"garmaxai-redis-{stage.lower()}"


# --------------------------------------------------------------------------- tables

@dataclass(frozen=True)
class TableSpec:
    name: str  # logical name: construct id and documentation
    output: OutputKey
    env_var: str  # environment variable the runtime reads the table name from
    partition_key: str
    sort_key: str | None = None
    ttl_attribute: str | None = None


TABLES: tuple[TableSpec, ...] = (
    TableSpec("Sessions", OutputKey.SESSIONS_TABLE, "SESSIONS_TABLE", "pk",
              ttl_attribute="expiresAt"),
    TableSpec("RenderJobs", OutputKey.RENDER_JOBS_TABLE, "RENDER_JOBS_TABLE", "pk",
              ttl_attribute="expiresAt"),
    TableSpec("Quotas", OutputKey.QUOTAS_TABLE, "QUOTAS_TABLE", "pk",
              ttl_attribute="expiresAt"),
    TableSpec("BudgetLedger", OutputKey.LEDGER_TABLE, "LEDGER_TABLE", "pk", sort_key="sk"),
    TableSpec("Credits", OutputKey.CREDITS_TABLE, "CREDITS_TABLE", "pk", sort_key="sk"),
    # Powertools idempotency layout: key "id", expiry "expiration".
    TableSpec("Idempotency", OutputKey.IDEMPOTENCY_TABLE, "IDEMPOTENCY_TABLE", "id",
              ttl_attribute="expiration"),
)


@dataclass(frozen=True)
class BucketSpec:
    name: str
    output: OutputKey
    env_var: str | None


BUCKETS: tuple[BucketSpec, ...] = (
    BucketSpec("Uploads", OutputKey.UPLOADS_BUCKET, "UPLOADS_BUCKET"),
    BucketSpec("Renders", OutputKey.RENDERS_BUCKET, "RENDERS_BUCKET"),
    BucketSpec("Guidance", OutputKey.GUIDANCE_BUCKET, "GUIDANCE_BUCKET"),
    BucketSpec("SmplAssets", OutputKey.SMPL_ASSETS_BUCKET, "SMPL_ASSETS_BUCKET"),
    BucketSpec("Logs", OutputKey.LOGS_BUCKET, None),
)


class RuntimeEnv(StrEnum):
    """Environment variables the CDK app sets on every function (never a secret)."""

    STAGE = "GARMAX_STAGE"
    VERSION = "GARMAX_VERSION"
    PARAMS_PREFIX = "GARMAX_PARAMS_PREFIX"  # /garmaxai/{STAGE}/
    TRYON_QUEUE_URL = "TRYON_QUEUE_URL"
    RENDER_QUEUE_URL = "RENDER_QUEUE_URL"
    BILLING_QUEUE_URL = "BILLING_QUEUE_URL"
    EVENT_BUS_NAME = "EVENT_BUS_NAME"
    RENDER_PROVIDER = "RENDER_PROVIDER"
    GEMINI_TRAFFIC_PERCENT = "GEMINI_TRAFFIC_PERCENT"


# --------------------------------------------------------------------------- events

EVENT_SOURCE_TRYON = "garmaxai.tryon"
EVENT_SOURCE_RENDER = "garmaxai.render"
EVENT_SOURCE_BILLING = "garmaxai.billing"


class DetailType(StrEnum):
    TRYON_SESSION_CREATED = "TryonSessionCreated"
    TRYON_SESSION_PROCESSED = "TryonSessionProcessed"
    TRYON_SESSION_FAILED = "TryonSessionFailed"
    RENDER_REQUESTED = "RenderRequested"
    RENDER_COMPLETED = "RenderCompleted"
    RENDER_FAILED = "RenderFailed"
    BUDGET_THRESHOLD_CROSSED = "BudgetThresholdCrossed"


@dataclass(frozen=True)
class RuleSpec:
    """An EventBridge rule on the stage's bus; producers use the same constants."""

    name: str
    description: str
    source: str
    detail_types: tuple[DetailType, ...]
    target_queue: Queue | None


RULES: tuple[RuleSpec, ...] = (
    RuleSpec("TryonProcessed", "Preview ready: queue nothing, kept for observers and idle",
             EVENT_SOURCE_TRYON, (DetailType.TRYON_SESSION_PROCESSED,), None),
    RuleSpec("RenderRequested", "Route render requests to the render queue",
             EVENT_SOURCE_RENDER, (DetailType.RENDER_REQUESTED,), Queue.RENDER),
    RuleSpec("BudgetAlerts", "Budget breaker threshold crossings",
             EVENT_SOURCE_BILLING, (DetailType.BUDGET_THRESHOLD_CROSSED,), None),
)


def rule_name(rule: RuleSpec, stage: str) -> str:
    return f"GarmaxAi-{rule.name}-{stage}"


# --------------------------------------------------------------------------- parameters

PARAMS_ROOT = "/garmaxai"


def params_prefix(stage: str) -> str:
    """``/garmaxai/{STAGE}/``: the tree ``params`` owns."""
    return f"{PARAMS_ROOT}/{stage}/"


def ops_prefix(stage: str) -> str:
    """``/garmaxai/ops/{STAGE}/``: reserved for garmaxctl itself; ``params`` never touches it."""
    return f"{PARAMS_ROOT}/ops/{stage}/"


def audit_head_parameter(stage: str) -> str:
    """The head of the stage's audit chain (the last record sent), so that deleting the
    last local records is detected (``garmaxctl audit verify``)."""
    return ops_prefix(stage) + AUDIT_HEAD_PARAM


# Parameter Store's value size per tier, in bytes (AWS; moto enforces neither: we do).
STANDARD_TIER_LIMIT = 4096
ADVANCED_TIER_LIMIT = 8192


class Kind(StrEnum):
    SECRET = "SecureString"
    PLAIN = "String"


@dataclass(frozen=True)
class ParamSpec:
    env_key: str
    path: str  # relative to params_prefix(stage)
    kind: Kind

    @property
    def secret(self) -> bool:
        return self.kind is Kind.SECRET

    def full_path(self, stage: str) -> str:
        return params_prefix(stage) + self.path


S, P = Kind.SECRET, Kind.PLAIN

# DESIGN.md, "Parameter Store hierarchy": every row, in the guide's order.
PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("REPLICATE_API_KEY", "replicate/api-key", S),
    ParamSpec("STRIPE_SECRET_KEY", "stripe/secret-key", S),
    ParamSpec("STRIPE_WEBHOOK_SECRET", "stripe/webhook-secret", S),
    ParamSpec("STRIPE_PRICE_BASIC_MONTHLY", "stripe/price-basic-monthly", P),
    ParamSpec("STRIPE_PRICE_PRO_MONTHLY", "stripe/price-pro-monthly", P),
    ParamSpec("STRIPE_PRICE_UNLIMITED_MONTHLY", "stripe/price-unlimited-monthly", P),
    ParamSpec("STRIPE_STARTER_PRICE_ID", "stripe/price-starter-monthly", P),
    ParamSpec("COGNITO_USER_POOL_ID", "cognito/user-pool-id", P),
    ParamSpec("COGNITO_CLIENT_ID", "cognito/client-id", P),
    ParamSpec("DATABASE_URL", "database/url", S),
    ParamSpec("REDIS_URL", "redis/url", S),
    ParamSpec("RDS_HOST", "rds/host", P),
    ParamSpec("RDS_USERNAME", "rds/username", P),
    ParamSpec("RDS_PASSWORD", "rds/password", S),
    ParamSpec("JWT_SECRET", "security/jwt-secret", S),
    ParamSpec("REPLICATE_DAILY_BUDGET_USD", "budget/replicate-daily-usd", P),
    ParamSpec("MAX_RENDERS_PER_USER_DAILY", "quotas/max-renders-per-user-daily", P),
    ParamSpec("FRONTEND_URL", "frontend/url", P),
    ParamSpec("DAILY_BUDGET_USD", "budget/daily-usd", P),
    ParamSpec("ALERT_EMAIL", "alerts/email", P),
    ParamSpec("AWS_ACCOUNT_ID", "aws/account-id", P),
    ParamSpec("UPLOADS_BUCKET_NAME", "s3/uploads-bucket", P),
    ParamSpec("RENDERS_BUCKET_NAME", "s3/renders-bucket", P),
    ParamSpec("GUIDANCE_BUCKET_NAME", "s3/guidance-bucket", P),
    ParamSpec("SMPL_ASSETS_BUCKET_NAME", "s3/smpl-assets-bucket", P),
    ParamSpec("GEMINI_API_KEY", "gemini/api-key", S),
    ParamSpec("GEMINI_API_ENDPOINT", "gemini/api-endpoint", P),
    ParamSpec("GEMINI_DAILY_BUDGET_USD", "gemini/daily-budget-usd", P),
    ParamSpec("GEMINI_MAX_BATCH_SIZE", "gemini/max-batch-size", P),
    ParamSpec("GEMINI_SERVICE_ACCOUNT_JSON", "gemini/service-account-json", S),
    ParamSpec("INTERNAL_API_KEY", "security/internal-api-key", S),
    ParamSpec("BEDROCK_DAILY_BUDGET_USD", "budget/bedrock-daily-usd", P),
    ParamSpec("MAX_TRYONS_PER_USER_DAILY", "quotas/max-tryons-per-user-daily", P),
    ParamSpec("MAX_CONCURRENT_RENDERS_PER_USER", "quotas/max-concurrent-renders-per-user", P),
)

PARAMS_BY_ENV_KEY: dict[str, ParamSpec] = {p.env_key: p for p in PARAMETERS}
PARAMS_BY_PATH: dict[str, ParamSpec] = {p.path: p for p in PARAMETERS}
SECRET_ENV_KEYS: frozenset[str] = frozenset(p.env_key for p in PARAMETERS if p.secret)

# Parameters each runtime function may read (IAM grants are scoped to these paths).
FUNCTION_PARAMS: dict[Function, tuple[str, ...]] = {
    Function.API: ("budget/*", "quotas/*", "frontend/url"),
    Function.STRIPE_WEBHOOK: ("stripe/webhook-secret",),
    Function.TRYON_PROCESSOR: ("quotas/*",),
    Function.AI_RENDER_PROCESSOR: (
        "replicate/api-key", "gemini/api-key", "gemini/api-endpoint",
        "gemini/daily-budget-usd", "gemini/service-account-json", "budget/*", "quotas/*",
    ),
    Function.BILLING_PROCESSOR: (
        "stripe/secret-key", "stripe/price-basic-monthly", "stripe/price-pro-monthly",
        "stripe/price-unlimited-monthly", "stripe/price-starter-monthly",
    ),
}

# Placeholders (DESIGN.md "Contracts"): empty, containing PLACEHOLDER, a run of five or
# more x, your-domain, your-company. Such values are never written anywhere.
_PLACEHOLDER_RE = re.compile(r"PLACEHOLDER|x{5,}|your-domain|your-company", re.IGNORECASE)


def is_placeholder(value: str | None) -> bool:
    if value is None:
        return True
    text = value.strip()
    return not text or bool(_PLACEHOLDER_RE.search(text))


# .env keys (and so Parameter Store entries) a stage cannot run without. LOCAL needs none
# of the external secrets: its render provider is offline and its identity a dev header.
REQUIRED_REAL_STAGE_KEYS: tuple[str, ...] = (
    "REPLICATE_API_KEY",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "JWT_SECRET",
    "FRONTEND_URL",
    "ALERT_EMAIL",
)


def required_env_keys(stage: str) -> tuple[str, ...]:
    return () if stage == "LOCAL" else REQUIRED_REAL_STAGE_KEYS


# --------------------------------------------------------------------------- ops paths
# Everything garmaxctl keeps for itself, relative to ops_prefix(stage).
DEPLOY_MARKER_PARAM = "deploy/marker"
IDLE_SNAPSHOT_PARAM = "idle/snapshot"  # JSON: {"schema", "stage", "phase", "created_at", ...}
IDLE_LOCK_PARAM = "idle/lock"
IDLE_ARCHIVE_PREFIX = "idle/archive/"
ALARM_MUTES_PREFIX = "alarms/mutes/"
AUDIT_HEAD_PARAM = "audit/head"  # JSON: {"seq", "hash", "run_id", "time"} of the last sent

# The daily budgets the runtime's breaker reads (``stages.Budgets`` field -> parameter path
# below the stage's prefix; pushed from .env, the stage's defaults where unset).
BUDGET_PARAMS: dict[str, str] = {
    "daily_usd": "budget/daily-usd",
    "bedrock_daily_usd": "budget/bedrock-daily-usd",
    "replicate_daily_usd": "budget/replicate-daily-usd",
    "gemini_daily_usd": "gemini/daily-budget-usd",
}

# LOCAL only: the local gateway takes the caller's identity from this header.
DEV_USER_HEADER = "X-Garmax-Dev-User"


# Short names operators type for the functions (``logs tail api tryon``).
FUNCTION_SHORT_NAMES: dict[str, Function] = {
    "api": Function.API,
    "webhook": Function.STRIPE_WEBHOOK,
    "tryon": Function.TRYON_PROCESSOR,
    "render": Function.AI_RENDER_PROCESSOR,
    "billing": Function.BILLING_PROCESSOR,
}
