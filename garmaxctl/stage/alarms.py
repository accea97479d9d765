"""The stage's CloudWatch alarms (``GarmaxAI-{Name}-{STAGE}``), read for every command that
shows them: the alarms themselves, their short names, their history, and whether their
actions are muted (by idle, by an alarm mute rule, or off).

Muting (docs/alarms.md):

- **idle** keeps its own mechanism: ``idle down`` disables a paging alarm's
  ``ActionsEnabled`` and records the value it had in the idle snapshot
  (``resources.alarms.{name}.actions``); ``idle up`` writes it back;
- an **operator** mutes through a CloudWatch alarm mute rule (``alarms mute``): one rule
  per alarm, named :func:`mute_rule_name` so ``alarms unmute`` finds it; actions muted,
  the alarm still evaluated, expiring on its own.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from garmaxctl.shared import contract
from garmaxctl.shared.errors import UsageError

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")
MUTE_RULE_PREFIX = "garmaxctl-mute-"
# ListAlarmMuteRules' statuses (botocore model: AlarmMuteRuleStatus).
MUTE_ACTIVE = "ACTIVE"


def stage_alarms(target: StageTarget, *, state: str | None = None) -> list[dict[str, Any]]:
    """The stage's metric alarms, optionally only those in ``state`` (ALARM, OK, ...)."""
    cloudwatch = target.client("cloudwatch")
    kwargs: dict[str, Any] = {"AlarmNamePrefix": contract.ALARM_PREFIX}
    if state:
        kwargs["StateValue"] = state
    found: list[dict[str, Any]] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(**kwargs):
        # Filtered here too: moto ignores StateValue when a name prefix is given.
        found += [a for a in page.get("MetricAlarms", [])
                  if is_stage_alarm(a["AlarmName"], target.name)
                  and (state is None or a.get("StateValue") == state)]
    return found


def alarms_in_alarm(target: StageTarget) -> list[dict[str, Any]]:
    """The stage's alarms currently in ALARM."""
    return stage_alarms(target, state="ALARM")


# ----------------------------------------------------------------------------- names

def is_stage_alarm(name: str, stage: str) -> bool:
    """Whether ``name`` is one of the stage's alarms, ``GarmaxAI-{Name}-{STAGE}``."""
    prefix, suffix = contract.ALARM_PREFIX, f"-{stage}"
    return name.startswith(prefix) and name.endswith(suffix) and \
        len(name) > len(prefix) + len(suffix)


def short_name(name: str, stage: str) -> str:
    """``GarmaxAI-LambdaErrors-DEV`` -> ``LambdaErrors`` (other names unchanged)."""
    if is_stage_alarm(name, stage):
        return name[len(contract.ALARM_PREFIX):-len(stage) - 1]
    return name


def resolve(target: StageTarget, name: str) -> dict[str, Any]:
    """The stage's alarm called ``name`` (short or full, any case); an unknown name is a
    usage error (exit 2) that lists the stage's alarms."""
    alarms = stage_alarms(target)
    write_name_cache(target.name, [a["AlarmName"] for a in alarms])
    wanted = name.strip().lower()
    for alarm in alarms:
        full = alarm["AlarmName"]
        if wanted in (full.lower(), short_name(full, target.name).lower()):
            return alarm
    known = ", ".join(sorted(short_name(a["AlarmName"], target.name) for a in alarms))
    raise UsageError(f"no alarm {name!r} on stage {target.name}", code="unknown_alarm",
                     hint=f"the stage's alarms: {known}" if known else
                     "the stage has no alarms: deploy it first")


def mute_rule_name(alarm: str) -> str:
    """The one mute rule garmaxctl keeps for an alarm (the alarm's name carries the stage):
    ``garmaxctl-mute-GarmaxAI-LambdaErrors-DEV``."""
    return MUTE_RULE_PREFIX + alarm


def rule_name_from_arn(arn: str) -> str:
    """``arn:aws:cloudwatch:{region}:{account}:alarm-mute-rule:{name}`` -> ``{name}``
    (``ListAlarmMuteRules`` answers ARNs, not names)."""
    return re.sub(r"^arn:[^:]+:cloudwatch:[^:]*:[^:]*:alarm-mute-rule:", "", arn)


# ----------------------------------------------------------------------------- mutes

@dataclass(frozen=True)
class MuteRule:
    """An active alarm mute rule that targets an alarm."""

    name: str
    arn: str
    expires: dt.datetime | None  # the summary's ExpireDate (None: not configured)
    ours: bool  # written by `alarms mute` (named by mute_rule_name)


def active_mute_rules(target: StageTarget, alarm: str) -> list[MuteRule]:
    """The ACTIVE mute rules that target ``alarm`` (``ListAlarmMuteRules`` filtered by
    alarm name and status, every page)."""
    cloudwatch = target.client("cloudwatch")
    rules: list[MuteRule] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"AlarmName": alarm, "Statuses": [MUTE_ACTIVE]}
        if token:
            kwargs["NextToken"] = token
        page = cloudwatch.list_alarm_mute_rules(**kwargs)
        for summary in page.get("AlarmMuteRuleSummaries", []):
            if summary.get("Status", MUTE_ACTIVE) != MUTE_ACTIVE:
                continue
            arn = summary.get("AlarmMuteRuleArn", "")
            name = rule_name_from_arn(arn)
            rules.append(MuteRule(name=name, arn=arn, expires=summary.get("ExpireDate"),
                                  ours=name == mute_rule_name(alarm)))
        token = page.get("NextToken")
        if not token:
            return rules


def any_active_mute_rule(target: StageTarget) -> bool:
    """Whether any ACTIVE mute rule exists in the account and region: one request. A
    rule's summary does not name the alarms it targets, so a "yes" still needs
    :func:`active_mute_rules` per alarm; a "no" (the usual case) needs nothing more."""
    page = target.client("cloudwatch").list_alarm_mute_rules(Statuses=[MUTE_ACTIVE],
                                                             MaxRecords=1)
    return any(s.get("Status", MUTE_ACTIVE) == MUTE_ACTIVE
               for s in page.get("AlarmMuteRuleSummaries", [])) or bool(page.get("NextToken"))


def idle_muted(target: StageTarget, alarm: dict[str, Any]) -> bool:
    """Whether idle down disabled this alarm's actions: the stage is idle, the snapshot
    recorded the alarm with its actions enabled, and they are disabled now."""
    if alarm.get("ActionsEnabled", True):
        return False
    snapshot = target.idle_snapshot()
    if snapshot is None:
        return False
    recorded = ((snapshot.get("resources") or {}).get("alarms") or {}).get(alarm["AlarmName"])
    return isinstance(recorded, dict) and bool(recorded.get("actions"))


# ----------------------------------------------------------------------------- name cache

NAME_CACHE_DIR = "cache"


def name_cache_path(stage: str) -> Path:
    """``{state dir}/cache/alarm-names-{STAGE}.json``: the stage's alarm names as the last
    ``alarms list`` (or a name lookup) saw them, for shell completion (issue 14), which
    must never call AWS: ``{"stage", "written_at", "names": [full names]}``."""
    from garmaxctl.settings import state_dir

    return state_dir() / NAME_CACHE_DIR / f"alarm-names-{stage}.json"


def write_name_cache(stage: str, names: list[str]) -> None:
    """Best effort: a cache that cannot be written is no reason to fail a command."""
    path = name_cache_path(stage)
    document = {"stage": stage, "written_at": dt.datetime.now(dt.UTC).isoformat(),
                "names": sorted(names)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass


def cached_names(stage: str, *, short: bool = True) -> list[str]:
    """The cached alarm names of the stage (short by default); [] when none are cached."""
    try:
        names = json.loads(name_cache_path(stage).read_text(encoding="utf-8"))["names"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [short_name(n, stage) if short else n for n in names if isinstance(n, str)]
