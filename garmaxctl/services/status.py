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
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from garmaxctl.services.cdk import read_deploy_marker
from garmaxctl.services.health import prepare, run_health
from garmaxctl.shared.errors import GarmaxError, StackNotFoundError
from garmaxctl.shared.stages import STAGE_ORDER, get_stage_config
from garmaxctl.stage.budget import todays_spend

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

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


def stage_status(target: StageTarget, *, health_timeout: float = 10.0) -> StageStatus:
    """Everything ``status`` shows for one stage; raises what the stage's calls raise."""
    if not target.is_local:
        # A quick probe first: an unreachable or credential-less stage answers in seconds,
        # not after the adaptive retry budget of an ordinary client.
        target.client("sts", retries={"mode": "standard", "max_attempts": 2},
                      connect_timeout=3, read_timeout=10).get_caller_identity()
    target.check_account()
    result = StageStatus(stage=target.name, reachable=True)
    marker = read_deploy_marker(target.aws)
    result.version = version_of(marker)
    if marker:
        result.deployed_at, result.deployed_by = marker.get("time"), marker.get("caller")
    try:
        prepare(target)
    except StackNotFoundError as exc:
        result.health, result.problems = "not deployed", [exc.message]
        return result
    result.deployed = True
    if target.smpl_placeholder():
        result.problems.append(
            f"the SMPL processor runs the placeholder image: set GARMAX_{target.name}"
            "_SMPL_IMAGE and deploy")
    result.idle = target.idle
    snapshot = target.idle_snapshot()
    if snapshot:
        result.idle_phase = snapshot.get("phase")
        result.idle_since = snapshot.get("created_at")
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        report_future = pool.submit(run_health, target, timeout=health_timeout)
        spend_future = pool.submit(todays_spend, target)
        report = report_future.result()
        try:
            result.spend = spend_future.result()
        except Exception as exc:
            result.problems.append(f"spend: cannot read today's spend or the budgets: "
                                   f"{_reason(target.name, exc)}")
    if result.spend and result.spend["budget_defaults"] and not target.is_local:
        result.problems.append(
            "budgets not set in Parameter Store ("
            + ", ".join(result.spend["budget_defaults"])
            + "): the stage's defaults are shown; set them in .env and `garmaxctl params push`")
    result.health, result.health_counts = report.status, report.counts()
    result.problems += [f"{c.name}: {c.detail}" for c in report.problems()]
    alarms = next((c for c in report.checks if c.name == "alarms"), None)
    if alarms is not None:
        # Those health calls notable: not the activity alarm outside idle (services.health).
        result.alarms_in_alarm = list(alarms.data.get("notable", []))
    return result


def _reason(stage: str, exc: BaseException) -> str:
    if isinstance(exc, GarmaxError):
        return exc.one_line()
    if type(exc).__module__.startswith(("botocore", "boto3")):
        from garmaxctl.aws import translate_error

        return translate_error(exc, stage).one_line()
    return f"{type(exc).__name__}: {exc}"[:300]


def _unreachable(stage: str, exc: BaseException) -> StageStatus:
    return StageStatus(stage=stage, reachable=False, error=_reason(stage, exc))


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


def all_stages_status(*, health_timeout: float = 10.0, command: str = "") -> StatusReport:
    """Every stage side by side, each with its own profile; concurrently. ``command``:
    the command path the stages' AWS targets serve (``AwsTarget.command``)."""
    from garmaxctl.aws import AwsTarget
    from garmaxctl.stage.target import StageTarget

    def one(stage: str) -> StageStatus:
        try:
            config = get_stage_config(stage)
            return stage_status(StageTarget(AwsTarget(stage=config, command=command)),
                                health_timeout=health_timeout)
        except Exception as exc:
            return _unreachable(stage, exc)

    names = [s.value for s in STAGE_ORDER]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(names)) as pool:
        stages = list(pool.map(one, names))
    return StatusReport(stages=stages, notes=version_notes(stages))
