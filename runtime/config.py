"""Runtime configuration: resource names from the environment, everything else from SSM.

Environment variables carry only names (tables, buckets, queues, bus), the stage, the
version, the parameter prefix and two routing knobs; the full list is ``ENV_VARS_READ``
and none of them is a secret (tested). Secrets, budgets and quotas are read from
Parameter Store at run time with Powertools Parameters, cached for
``PARAMS_MAX_AGE_S``; budgets and quotas fall back to the stage's defaults in
``garmaxctl.shared.stages`` when a parameter is missing or unreadable. Everything is read
inside functions, never at import, so tests and the local workers can set it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters import SSMProvider

from garmaxctl.shared import contract, stages
from runtime import aws
from runtime.domain.errors import ConfigurationError
from runtime.observability import logger

PARAMS_MAX_AGE_S = 300

# Every environment variable the runtime reads. None of them holds a secret: the infra
# passes names only (docs/runtime.md, "Configuration"); tests/runtime pin this list.
ENV_VARS_READ: tuple[str, ...] = (
    *(t.env_var for t in contract.TABLES),
    *(b.env_var for b in contract.BUCKETS if b.env_var),
    *(e.value for e in contract.RuntimeEnv),
)

TABLE_BY_NAME: dict[str, contract.TableSpec] = {t.name: t for t in contract.TABLES}
BUCKET_BY_NAME: dict[str, contract.BucketSpec] = {b.name: b for b in contract.BUCKETS}

# Parameter paths (relative to the prefix) for budgets and quotas, from contract.PARAMETERS.
_P = contract.PARAMS_BY_ENV_KEY
BUDGET_PARAMS: dict[str, str] = {
    "daily_usd": _P["DAILY_BUDGET_USD"].path,
    "bedrock_daily_usd": _P["BEDROCK_DAILY_BUDGET_USD"].path,
    "replicate_daily_usd": _P["REPLICATE_DAILY_BUDGET_USD"].path,
    "gemini_daily_usd": _P["GEMINI_DAILY_BUDGET_USD"].path,
}
QUOTA_PARAMS: dict[str, str] = {
    "max_tryons_per_user_daily": _P["MAX_TRYONS_PER_USER_DAILY"].path,
    "max_renders_per_user_daily": _P["MAX_RENDERS_PER_USER_DAILY"].path,
    "max_concurrent_renders_per_user": _P["MAX_CONCURRENT_RENDERS_PER_USER"].path,
}
SECRET_PATHS: frozenset[str] = frozenset(p.path for p in contract.PARAMETERS if p.secret)


@dataclass(frozen=True)
class RuntimeConfig:
    """What the environment tells a function: stage, version and resource names."""

    stage: str
    version: str
    params_prefix: str
    tables: Mapping[str, str] = field(default_factory=dict)  # logical name -> table name
    buckets: Mapping[str, str] = field(default_factory=dict)  # logical name -> bucket name
    tryon_queue_url: str | None = None
    render_queue_url: str | None = None
    billing_queue_url: str | None = None
    event_bus_name: str | None = None
    render_provider: str = "local"
    gemini_traffic_percent: int = 0

    @property
    def stage_config(self) -> stages.StageConfig:
        return stages.get_stage_config(self.stage)

    def table(self, name: str) -> str:
        """The physical name of table ``name`` (``Sessions``, ``RenderJobs``, ...)."""
        value = self.tables.get(name)
        if not value:
            env = TABLE_BY_NAME[name].env_var
            raise ConfigurationError(f"table {name} is not configured ({env} is not set)")
        return value

    def bucket(self, name: str) -> str:
        value = self.buckets.get(name)
        if not value:
            env = BUCKET_BY_NAME[name].env_var
            raise ConfigurationError(f"bucket {name} is not configured ({env} is not set)")
        return value

    def queue_url(self, queue: contract.Queue) -> str:
        value = {
            contract.Queue.TRYON: self.tryon_queue_url,
            contract.Queue.RENDER: self.render_queue_url,
            contract.Queue.BILLING: self.billing_queue_url,
        }[queue]
        if not value:
            raise ConfigurationError(f"the {queue} queue is not configured")
        return value

    def bus(self) -> str:
        if not self.event_bus_name:
            env = contract.RuntimeEnv.EVENT_BUS_NAME
            raise ConfigurationError(f"the event bus is not configured ({env} is not set)")
        return self.event_bus_name

    def param_path(self, relative: str) -> str:
        return self.params_prefix + relative


def load_config(environ: Mapping[str, str] | None = None) -> RuntimeConfig:
    """Read the configuration from ``environ`` (default: the process environment)."""
    env = os.environ if environ is None else environ
    stage = stages.normalize_stage(env.get(contract.RuntimeEnv.STAGE) or "LOCAL").value
    stage_config = stages.get_stage_config(stage, dict(env))
    prefix = env.get(contract.RuntimeEnv.PARAMS_PREFIX) or contract.params_prefix(stage)
    if not prefix.endswith("/"):
        prefix += "/"
    try:
        gemini_percent = int(env.get(contract.RuntimeEnv.GEMINI_TRAFFIC_PERCENT) or
                             stage_config.gemini_traffic_percent)
    except ValueError:
        gemini_percent = stage_config.gemini_traffic_percent
    return RuntimeConfig(
        stage=stage,
        version=env.get(contract.RuntimeEnv.VERSION) or "dev",
        params_prefix=prefix,
        tables={t.name: env[t.env_var] for t in contract.TABLES if env.get(t.env_var)},
        buckets={b.name: env[b.env_var] for b in contract.BUCKETS
                 if b.env_var and env.get(b.env_var)},
        tryon_queue_url=env.get(contract.RuntimeEnv.TRYON_QUEUE_URL) or None,
        render_queue_url=env.get(contract.RuntimeEnv.RENDER_QUEUE_URL) or None,
        billing_queue_url=env.get(contract.RuntimeEnv.BILLING_QUEUE_URL) or None,
        event_bus_name=env.get(contract.RuntimeEnv.EVENT_BUS_NAME) or None,
        render_provider=(env.get(contract.RuntimeEnv.RENDER_PROVIDER)
                         or stage_config.render_provider).strip().lower(),
        gemini_traffic_percent=max(0, min(100, gemini_percent)),
    )


# --------------------------------------------------------------------------- parameters

_lock = threading.Lock()
_provider: dict[str, SSMProvider] = {}
_typed_cache: dict[tuple[str, str], tuple[float, Any]] = {}


def ssm_provider() -> SSMProvider:
    """The process-wide Powertools SSM provider (its cache honours ``max_age``)."""
    found = _provider.get("ssm")
    if found is None:
        with _lock:
            found = _provider.get("ssm")
            if found is None:
                found = SSMProvider(boto3_client=aws.client("ssm"))
                _provider["ssm"] = found
    return found


def clear_caches() -> None:
    """Forget cached parameters and the provider (tests; never needed in Lambda)."""
    with _lock:
        _provider.clear()
        _typed_cache.clear()
    parameters.clear_caches()


def get_secret(config: RuntimeConfig, relative_path: str) -> str:
    """A SecureString from ``{prefix}{relative_path}``, decrypted and cached.

    Raises ``ConfigurationError`` when it is missing, unreadable or a placeholder. The
    value is never logged; neither is it put in an error message.
    """
    name = config.param_path(relative_path)
    try:
        value = ssm_provider().get(name, decrypt=True, max_age=PARAMS_MAX_AGE_S)
    except parameters.exceptions.GetParameterError:
        logger.warning("secret parameter unavailable", extra={"parameter": name})
        raise ConfigurationError(f"parameter {relative_path} is not available") from None
    if not isinstance(value, str) or contract.is_placeholder(value):
        raise ConfigurationError(f"parameter {relative_path} is not set")
    return value


def get_optional(config: RuntimeConfig, relative_path: str) -> str | None:
    """A plain (String) parameter or ``None`` when it is missing/unreadable/placeholder."""
    return _read_plain(config, {"_": relative_path}).get("_")


def get_plain_many(config: RuntimeConfig, paths: Mapping[str, str]) -> dict[str, str]:
    """``{key: value}`` for the plain parameters ``{key: relative_path}`` that are set."""
    return _read_plain(config, paths)


def _read_plain(config: RuntimeConfig, paths: Mapping[str, str],
                ssm_client: Any = None) -> dict[str, str]:
    """Read several plain parameters at once; missing ones are simply absent."""
    names = {config.param_path(rel): key for key, rel in paths.items()}
    provider = SSMProvider(boto3_client=ssm_client) if ssm_client is not None else ssm_provider()
    try:
        found = provider.get_parameters_by_name(
            parameters={name: {} for name in names},
            decrypt=False,
            max_age=PARAMS_MAX_AGE_S,
            raise_on_error=False,
        )
    except Exception:  # AccessDenied, throttling: fall back to the defaults
        logger.warning("parameters unavailable, using defaults",
                       extra={"parameters": sorted(names)})
        return {}
    errors = found.get("_errors") or []
    if errors:
        logger.debug("parameters missing, using defaults", extra={"parameters": errors})
    out: dict[str, str] = {}
    for name, key in names.items():
        value = found.get(name)
        if isinstance(value, str) and not contract.is_placeholder(value):
            out[key] = value.strip()
    return out


def _typed(config: RuntimeConfig, kind: str, build: Any, ssm_client: Any) -> Any:
    if ssm_client is not None:  # a caller's own client (the CLI): no process cache
        return build()
    key = (config.params_prefix, kind)
    now = time.monotonic()
    hit = _typed_cache.get(key)
    if hit and hit[0] > now:
        return hit[1]
    value = build()
    _typed_cache[key] = (now + PARAMS_MAX_AGE_S, value)
    return value


def load_budgets(config: RuntimeConfig, ssm_client: Any = None) -> stages.Budgets:
    """Daily budgets: ``budget/*`` and ``gemini/daily-budget-usd``, stage defaults as fallback."""

    def build() -> stages.Budgets:
        defaults = config.stage_config.budgets
        # Two reads: the Api function may read budget/* but not gemini/* (FUNCTION_PARAMS),
        # and one denied name fails a whole GetParameters call.
        gemini = {k: v for k, v in BUDGET_PARAMS.items() if not v.startswith("budget/")}
        raw = _read_plain(config, {k: v for k, v in BUDGET_PARAMS.items() if k not in gemini},
                          ssm_client)
        raw |= _read_plain(config, gemini, ssm_client)
        values: dict[str, float] = {}
        for key, text in raw.items():
            try:
                number = float(text)
            except ValueError:
                logger.warning("budget parameter is not a number, using the default",
                               extra={"parameter": BUDGET_PARAMS[key]})
                continue
            if number >= 0:
                values[key] = number
        return replace(defaults, **values)

    return _typed(config, "budgets", build, ssm_client)


def load_quotas(config: RuntimeConfig, ssm_client: Any = None) -> stages.Quotas:
    """Per-user quotas: ``quotas/*``, stage defaults as fallback."""

    def build() -> stages.Quotas:
        defaults = config.stage_config.quotas
        raw = _read_plain(config, QUOTA_PARAMS, ssm_client)
        values: dict[str, int] = {}
        for key, text in raw.items():
            try:
                number = int(float(text))
            except ValueError:
                logger.warning("quota parameter is not a number, using the default",
                               extra={"parameter": QUOTA_PARAMS[key]})
                continue
            if number >= 0:
                values[key] = number
        return replace(defaults, **values)

    return _typed(config, "quotas", build, ssm_client)
