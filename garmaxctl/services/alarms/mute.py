"""``alarms mute`` / ``alarms unmute``: an operator's maintenance window, as CloudWatch alarm
mute rules (``PutAlarmMuteRule``): the alarms still evaluate and change state, their actions
are muted, and the rule expires on its own (at most 15 days). One rule per alarm, named
``garmaxctl-mute-{alarm}`` (``stage.alarms.mute_rule_name``), so ``unmute`` removes exactly
what ``mute`` wrote and an operator's own rules are left alone. Idle's mechanism
(``ActionsEnabled``) is separate and untouched."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from garmaxctl.aws import describe_error, error_code
from garmaxctl.shared import contract
from garmaxctl.shared.errors import UsageError
from garmaxctl.stage import alarms as stage_alarms

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

MAX_MUTE = dt.timedelta(days=15)  # the API's longest Duration (P15D)
MIN_MUTE = dt.timedelta(minutes=1)  # its shortest (PT1M)
MAX_DESCRIPTION = 1024


@dataclass
class MuteRow:
    alarm: str  # full name
    short: str
    rule: str  # the mute rule's name
    starts: dt.datetime | None = None
    expires: dt.datetime | None = None
    removed: bool | None = None  # unmute: whether a rule was there
    error: str | None = None  # mute: the rule could not be written (the alarm is not muted)


@dataclass
class MuteResult:
    stage: str
    action: str  # mute | unmute
    reason: str | None
    alarms: list[MuteRow]
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[MuteRow]:
        return [row for row in self.alarms if row.error]


def iso_duration(span: dt.timedelta) -> str:
    """``PT2H``, ``P2DT12H``, ``PT90M`` -> minutes precision (the API's unit)."""
    minutes = math.ceil(span.total_seconds() / 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    time = (f"{hours}H" if hours else "") + (f"{mins}M" if mins else "")
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def check_duration(span: dt.timedelta) -> None:
    if span > MAX_MUTE:
        raise UsageError(f"a mute lasts at most 15 days (CloudWatch's limit), not {span}",
                         code="mute_too_long", hint="--for 15d at most; mute again later")
    if span < MIN_MUTE:
        raise UsageError("a mute lasts at least 1 minute", code="mute_too_short")


def _chosen(target: StageTarget, name: str | None, every: bool) -> list[dict[str, Any]]:
    if bool(name) == every:
        raise UsageError("name one alarm or pass --all", code="usage",
                         hint="garmaxctl alarms mute LambdaErrors --for 2h --reason ...")
    if every:
        found = stage_alarms.stage_alarms(target)
        if not found:
            raise UsageError(f"stage {target.name} has no alarms", code="unknown_alarm")
        return sorted(found, key=lambda a: a["AlarmName"])
    return [stage_alarms.resolve(target, name or "")]


def mute(target: StageTarget, *, name: str | None, every: bool, duration: dt.timedelta,
         reason: str, now: dt.datetime | None = None) -> MuteResult:
    """Put one mute rule per alarm: a one-time window from the start of this minute
    (``at(...)``, the API's precision) lasting ``duration`` rounded up to whole minutes
    (``Duration``), expiring at its end (``ExpireDate``)."""
    check_duration(duration)
    if not reason.strip():
        raise UsageError("say why with --reason (it is kept with the rule)", code="usage")
    if len(reason) > MAX_DESCRIPTION:
        raise UsageError(f"--reason is at most {MAX_DESCRIPTION} characters", code="usage")
    chosen = _chosen(target, name, every)
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    start = now.replace(second=0, microsecond=0)
    window = min(MAX_MUTE, dt.timedelta(minutes=math.ceil(duration.total_seconds() / 60)))
    expires = start + window
    cloudwatch = target.client("cloudwatch")
    rows = []
    for alarm in chosen:
        full = alarm["AlarmName"]
        rule = stage_alarms.mute_rule_name(full)
        row = MuteRow(alarm=full, short=stage_alarms.short_name(full, target.name), rule=rule)
        try:
            cloudwatch.put_alarm_mute_rule(
                Name=rule, Description=reason,
                Rule={"Schedule": {"Expression": f"at({start:%Y-%m-%dT%H:%M})",
                                   "Duration": iso_duration(window), "Timezone": "UTC"}},
                MuteTargets={"AlarmNames": [full]}, ExpireDate=expires,
                Tags=[{"Key": contract.TAG_STAGE, "Value": target.name}])
        except Exception as exc:  # the others are still muted; the report says which not
            row.error = describe_error(exc).line()
        else:
            row.starts, row.expires = start, expires
        rows.append(row)
    notes = []
    try:
        idle = target.idle
    except Exception as exc:  # a note only: the mutes above are done either way
        notes.append(f"could not tell whether the stage is idle: {describe_error(exc).line()}")
        idle = False
    if idle:
        notes.append("the stage is idle: its paging alarms' actions are also off until "
                     "`garmaxctl idle up` (that is idle's own switch, untouched here)")
    return MuteResult(stage=target.name, action="mute", reason=reason, alarms=rows,
                      notes=notes)


def unmute(target: StageTarget, *, name: str | None, every: bool) -> MuteResult:
    """Delete garmaxctl's mute rule of each alarm (an operator's other rules stay)."""
    chosen = _chosen(target, name, every)
    cloudwatch = target.client("cloudwatch")
    rows, notes = [], []
    for alarm in chosen:
        full = alarm["AlarmName"]
        rule = stage_alarms.mute_rule_name(full)
        try:
            cloudwatch.get_alarm_mute_rule(AlarmMuteRuleName=rule)
            existed = True
        except ClientError as exc:
            if error_code(exc) not in ("ResourceNotFoundException", "ResourceNotFound"):
                raise
            existed = False
        if existed:
            cloudwatch.delete_alarm_mute_rule(AlarmMuteRuleName=rule)
        others = [r.name for r in stage_alarms.active_mute_rules(target, full)
                  if r.name != rule]
        if others:
            notes.append(f"{full} is still muted by {', '.join(others)} (not garmaxctl's: "
                         "left alone)")
        rows.append(MuteRow(alarm=full, short=stage_alarms.short_name(full, target.name),
                            rule=rule, removed=existed))
    return MuteResult(stage=target.name, action="unmute", reason=None, alarms=rows,
                      notes=notes)
