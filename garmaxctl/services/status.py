"""``garmaxctl status``: one screen per stage, or every stage side by side.

For a stage: the deployed version (the deploy marker under ``/garmaxai/ops/{STAGE}/``),
the health summary (``services.health``), alarms in ALARM, the idle state (the idle
snapshot parameter exists), and today's AI spend against the daily budget, read from the
runtime's budget ledger with the runtime's own ``breaker_state`` and the budgets in
Parameter Store (the stage's defaults where unset).

Every stage is reached with its own profile from ``stages.py``; a stage that cannot be
reached (no credentials, wrong account, emulator down) is reported as unreachable with
the reason, never a crash. Side by side, a stage that runs another version than the stage
before it (DEV → QA → PROD) gets a note.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from garmaxctl import contract
from garmaxctl.errors import GarmaxError, StackNotFoundError
from garmaxctl.stages import STAGE_ORDER, Budgets, StageConfig, get_stage_config

if TYPE_CHECKING:
    from garmaxctl.aws import AwsTarget

BUDGET_PARAMS: dict[str, str] = {  # Budgets field -> parameter path (contract mapping)
    "daily_usd": "budget/daily-usd",
    "bedrock_daily_usd": "budget/bedrock-daily-usd",
    "replicate_daily_usd": "budget/replicate-daily-usd",
    "gemini_daily_usd": "gemini/daily-budget-usd",
}


@dataclass
class StageStatus:
    stage: str
    reachable: bool
    error: str | None = None
    deployed: bool = False
    version: str | None = None  # git sha (or tool version) of the last deploy
    deployed_at: str | None = None
    deployed_by: str | None = None
    health: str | None = None  # healthy | degraded | unhealthy
    health_counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    alarms_in_alarm: list[str] = field(default_factory=list)
    idle: bool = False
    idle_phase: str | None = None
    idle_since: str | None = None
    spend: dict[str, Any] | None = None


@dataclass
class StatusReport:
    stages: list[StageStatus]
    notes: list[str] = field(default_factory=list)


def version_of(marker: dict[str, Any] | None) -> str | None:
    if not marker:
        return None
    return marker.get("git_sha") or (f"garmaxctl {marker['tool_version']}"
                                     if marker.get("tool_version") else None)


def read_budgets(aws: AwsTarget, config: StageConfig) -> Budgets:
    """The daily budgets from Parameter Store, each falling back to the stage's default."""
    prefix = contract.params_prefix(str(config.stage))
    names = {prefix + path: attr for attr, path in BUDGET_PARAMS.items()}
    values: dict[str, float] = {}
    try:
        found = aws.client("ssm").get_parameters(Names=list(names))["Parameters"]
    except Exception:
        found = []
    for parameter in found:
        try:
            values[names[parameter["Name"]]] = float(parameter["Value"])
        except (KeyError, ValueError):
            continue
    defaults = config.budgets
    return Budgets(**{attr: values.get(attr, getattr(defaults, attr))
                      for attr in BUDGET_PARAMS})


def todays_spend(aws: AwsTarget, outputs: dict[str, str]) -> dict[str, Any] | None:
    from runtime.domain.budget import breaker_state

    ledger = outputs.get(str(contract.OutputKey.LEDGER_TABLE))
    if not ledger:
        return None
    config = aws.stage
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    state = breaker_state(ledger, str(config.stage), day, aws.client("dynamodb"),
                          read_budgets(aws, config))
    return {"day": state.day, "spent_usd": state.spent_usd, "budget_usd": state.budget_usd,
            "percent": state.percent, "level": state.level.value, "renders": state.renders}


def stage_status(aws: AwsTarget, *, health_timeout: float = 10.0) -> StageStatus:
    """Everything ``status`` shows for one stage; raises what the stage's calls raise."""
    from garmaxctl.services.cdk import read_deploy_marker
    from garmaxctl.services.health import resolve_target, run_health

    stage = str(aws.stage.stage)
    if aws.is_local:
        from garmaxctl.stage.local import require_running

        require_running(str(aws.endpoint_url))
    else:
        # A quick probe first: an unreachable or credential-less stage answers in seconds,
        # not after the adaptive retry budget of an ordinary client.
        aws.client("sts", retries={"mode": "standard", "max_attempts": 2},
                   connect_timeout=3, read_timeout=10).get_caller_identity()
        aws.check_account()
    result = StageStatus(stage=stage, reachable=True)
    marker = read_deploy_marker(aws)
    result.version = version_of(marker)
    if marker:
        result.deployed_at, result.deployed_by = marker.get("time"), marker.get("caller")
    try:
        target = resolve_target(aws)
    except StackNotFoundError as exc:
        result.health, result.problems = "not deployed", [exc.message]
        return result
    result.deployed = True
    result.idle = target.idle
    if target.idle_snapshot:
        result.idle_phase = target.idle_snapshot.get("phase")
        result.idle_since = target.idle_snapshot.get("created_at")
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        report_future = pool.submit(run_health, aws, target=target, timeout=health_timeout)
        spend_future = pool.submit(todays_spend, aws, target.outputs)
        report = report_future.result()
        try:
            result.spend = spend_future.result()
        except Exception as exc:
            result.problems.append(f"spend: {type(exc).__name__}")
    result.health, result.health_counts = report.status, report.counts()
    result.problems += [f"{c.name}: {c.detail}" for c in report.problems()]
    alarms = next((c for c in report.checks if c.name == "alarms"), None)
    if alarms is not None:
        result.alarms_in_alarm = list(alarms.data.get("in_alarm", []))
    return result


def _unreachable(stage: str, exc: BaseException) -> StageStatus:
    if isinstance(exc, GarmaxError):
        reason = exc.one_line()
    elif type(exc).__module__.startswith(("botocore", "boto3")):
        from garmaxctl.aws import translate_error

        reason = translate_error(exc, stage).one_line()
    else:
        reason = f"{type(exc).__name__}: {exc}"[:300]
    return StageStatus(stage=stage, reachable=False, error=reason)


def version_notes(stages: list[StageStatus]) -> list[str]:
    """A note for each stage whose version differs from the stage before it."""
    notes = []
    real = [s for s in stages if s.stage != "LOCAL"]
    for before, after in itertools.pairwise(real):
        if not (before.version and after.version) or before.version == after.version:
            continue
        ahead = before.stage if (before.deployed_at or "") > (after.deployed_at or "") \
            else after.stage
        notes.append(f"{after.stage} runs {after.version}, {before.stage} runs "
                     f"{before.version}: {ahead} was deployed more recently")
    return notes


def all_stages_status(*, health_timeout: float = 10.0,
                      make_target: Any = None) -> StatusReport:
    """Every stage side by side, each with its own profile; concurrently."""
    from garmaxctl.aws import AwsTarget

    def one(stage: str) -> StageStatus:
        try:
            config = get_stage_config(stage)
            aws = make_target(config) if make_target else AwsTarget(stage=config)
            return stage_status(aws, health_timeout=health_timeout)
        except Exception as exc:
            return _unreachable(stage, exc)

    names = [s.value for s in STAGE_ORDER]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(names)) as pool:
        stages = list(pool.map(one, names))
    return StatusReport(stages=stages, notes=version_notes(stages))
