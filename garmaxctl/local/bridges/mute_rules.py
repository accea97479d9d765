"""CloudWatch alarm mute rules on LOCAL (moto 5.2.5 answers 500 to all four APIs).

Real CloudWatch: ``PutAlarmMuteRule`` creates or replaces a rule — a schedule
(``at(yyyy-MM-ddThh:mm)`` once, or ``cron(...)`` recurring, in ``Timezone``, UTC by
default) with a ``Duration`` (ISO 8601, ``PT1M`` to ``P15D``), optional ``StartDate`` and
``ExpireDate``, and up to 100 target alarm names. While a rule is ``ACTIVE`` its alarms
still evaluate and change state but their actions (every state's) are muted; a rule is
``SCHEDULED`` before, ``EXPIRED`` after. ``ListAlarmMuteRules`` (filters ``AlarmName``,
``Statuses``; summaries carry the ARN, not the name), ``GetAlarmMuteRule``
(``ResourceNotFoundException`` for an unknown name) and ``DeleteAlarmMuteRule``
(idempotent) read and remove them.

This bridge answers the four in the model's shape from rules kept on moto's CloudWatch
backend, and :func:`muting_rules` tells the alarm bridge (``alarm_history.transition``)
whether an alarm's actions are muted at a moment, so a muted alarm changes state and
writes its ``StateUpdate`` item but publishes nothing. When the mute ends — the window
passes (seen on the next telemetry tick) or the rule is deleted — with the alarm still in
the state it was muted in, that state's actions run, as AWS documents ("How alarm mute
rules work"; ``alarm_history.release_mutes``). What LOCAL does not do: a ``cron(...)``
rule is stored and listed but never becomes ``ACTIVE`` (no recurring schedule is
evaluated: it reads ``SCHEDULED`` until its ``ExpireDate``); an action muted on AWS
leaves no documented history item, and LOCAL writes none.

The status is computed at :data:`clock` ``()`` (replaceable by tests).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import BridgeInfo

RULES_ATTRIBUTE = "_garmax_mute_rules"
MAX_DURATION = dt.timedelta(days=15)
MIN_DURATION = dt.timedelta(minutes=1)
MAX_TARGETS = 100
DEFAULT_MAX_RECORDS = 50

_lock = threading.RLock()
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2})\)$")
_CRON = re.compile(r"^cron\(.+\)$")
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


clock: Callable[[], dt.datetime] = _utcnow


def rules(backend: Any) -> dict[str, dict[str, Any]]:
    """The backend's mute rules by name."""
    with _lock:
        found = getattr(backend, RULES_ATTRIBUTE, None)
        if found is None:
            found = {}
            setattr(backend, RULES_ATTRIBUTE, found)
        return found


def _invalid(message: str) -> Exception:
    from moto.cloudwatch.exceptions import InvalidParameterValue

    return InvalidParameterValue(message)


def parse_duration(text: str) -> dt.timedelta:
    """An ISO 8601 duration as the API takes it (``PT2H``, ``P2DT12H``)."""
    match = _DURATION.match(text or "")
    if not match or not any(match.groups()):
        raise _invalid(f"Invalid Duration: {text!r} (ISO 8601, e.g. PT4H)")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    duration = dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise _invalid(f"Duration {text} must be between PT1M and P15D")
    return duration


def _aware(value: Any) -> dt.datetime | None:
    from .alarm_history import _as_datetime

    return _as_datetime(value)


def window(rule: dict[str, Any]) -> tuple[dt.datetime, dt.datetime] | None:
    """A one-time rule's mute window (start, end) in UTC; None for a recurring rule."""
    schedule = rule["Rule"]["Schedule"]
    match = _AT.match(schedule["Expression"])
    if not match:
        return None
    zone = ZoneInfo(schedule.get("Timezone") or "UTC")
    start = dt.datetime.fromisoformat(match.group(1)).replace(tzinfo=zone).astimezone(dt.UTC)
    return start, start + parse_duration(schedule["Duration"])


def status(rule: dict[str, Any], now: dt.datetime) -> str:
    """``SCHEDULED``, ``ACTIVE`` or ``EXPIRED`` at ``now``."""
    expire, start_date = _aware(rule.get("ExpireDate")), _aware(rule.get("StartDate"))
    if expire is not None and now >= expire:
        return "EXPIRED"
    span = window(rule)
    if span is None:  # cron(...): not evaluated on LOCAL
        return "SCHEDULED"
    start, end = span
    if now >= end:
        return "EXPIRED"
    if now < start or (start_date is not None and now < start_date):
        return "SCHEDULED"
    return "ACTIVE"


def put_rule(backend: Any, request: dict[str, Any], now: dt.datetime) -> None:
    """``PutAlarmMuteRule``: validate and store (a rule of the same name is replaced)."""
    name = request.get("Name") or ""
    if not 1 <= len(name) <= 255:
        raise _invalid("Name must be between 1 and 255 characters")
    schedule = ((request.get("Rule") or {}).get("Schedule") or {})
    expression = schedule.get("Expression") or ""
    if not (_AT.match(expression) or _CRON.match(expression)):
        raise _invalid(f"Invalid Expression: {expression!r} (at(yyyy-MM-ddThh:mm) or "
                       "cron(...))")
    parse_duration(schedule.get("Duration") or "")
    try:
        ZoneInfo(schedule.get("Timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise _invalid(f"Invalid Timezone: {schedule.get('Timezone')!r}") from None
    targets = list(((request.get("MuteTargets") or {}).get("AlarmNames")) or [])
    if len(targets) > MAX_TARGETS:
        raise _invalid(f"A mute rule targets at most {MAX_TARGETS} alarms")
    rule: dict[str, Any] = {
        "Name": name,
        "AlarmMuteRuleArn": (f"arn:aws:cloudwatch:{backend.region_name}:{backend.account_id}"
                             f":alarm-mute-rule:{name}"),
        "Rule": {"Schedule": {k: v for k, v in schedule.items()
                              if k in ("Expression", "Duration", "Timezone")}},
        "MuteTargets": {"AlarmNames": targets},
        "MuteType": "ONE_TIME" if _AT.match(expression) else "RECURRING",
        "LastUpdatedTimestamp": now,
    }
    if request.get("Description") is not None:
        rule["Description"] = request["Description"]
    for key in ("StartDate", "ExpireDate"):
        if request.get(key) is not None:
            rule[key] = _aware(request[key])
    with _lock:
        rules(backend)[name] = rule


def get_rule(backend: Any, name: str, now: dt.datetime) -> dict[str, Any]:
    from moto.cloudwatch.exceptions import ResourceNotFoundException

    with _lock:
        rule = rules(backend).get(name)
    if rule is None:
        raise ResourceNotFoundException(f"Alarm mute rule {name} does not exist")
    return {**rule, "Status": status(rule, now)}


def list_rules(backend: Any, now: dt.datetime, *, alarm_name: str | None = None,
               statuses: list[str] | None = None, max_records: int | None = None,
               next_token: str | None = None) -> dict[str, Any]:
    """``ListAlarmMuteRules``: summaries (ARN, ExpireDate, Status, MuteType,
    LastUpdatedTimestamp) by name, filtered, paged (NextToken is an offset)."""
    with _lock:
        found = sorted(rules(backend).values(), key=lambda r: r["Name"])
    summaries = []
    for rule in found:
        state = status(rule, now)
        if alarm_name and alarm_name not in rule["MuteTargets"]["AlarmNames"]:
            continue
        if statuses and state not in statuses:
            continue
        summary = {"AlarmMuteRuleArn": rule["AlarmMuteRuleArn"], "Status": state,
                   "MuteType": rule["MuteType"],
                   "LastUpdatedTimestamp": rule["LastUpdatedTimestamp"]}
        if rule.get("ExpireDate") is not None:
            summary["ExpireDate"] = rule["ExpireDate"]
        summaries.append(summary)
    limit = int(max_records or DEFAULT_MAX_RECORDS)
    offset = int(next_token) if next_token and next_token.isdigit() else 0
    answer: dict[str, Any] = {"AlarmMuteRuleSummaries": summaries[offset:offset + limit]}
    if offset + limit < len(summaries):
        answer["NextToken"] = str(offset + limit)
    return answer


def delete_rule(backend: Any, name: str) -> None:
    with _lock:
        rules(backend).pop(name, None)


def muting_rules(backend: Any, alarm_name: str, now: dt.datetime) -> list[str]:
    """The names of the rules muting ``alarm_name``'s actions at ``now``."""
    with _lock:
        found = list(rules(backend).values())
    return [r["Name"] for r in found
            if alarm_name in r["MuteTargets"]["AlarmNames"] and status(r, now) == "ACTIVE"]


# ----------------------------------------------------------------------------- the patch

def install() -> BridgeInfo:
    """Serve the four mute-rule actions from moto's CloudWatch (emulator process only)."""
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult, EmptyResult

    if getattr(CloudWatchResponse.__dict__.get("put_alarm_mute_rule"), "__garmax_bridge__",
               False):
        return _INFO

    def put_alarm_mute_rule(self: Any) -> Any:
        put_rule(self.cloudwatch_backend, {
            key: self._get_param(key) for key in (
                "Name", "Description", "Rule", "MuteTargets", "StartDate", "ExpireDate")},
            clock())
        return EmptyResult()

    def get_alarm_mute_rule(self: Any) -> Any:
        return ActionResult(get_rule(self.cloudwatch_backend,
                                     self._get_param("AlarmMuteRuleName"), clock()))

    def list_alarm_mute_rules(self: Any) -> Any:
        return ActionResult(list_rules(
            self.cloudwatch_backend, clock(), alarm_name=self._get_param("AlarmName"),
            statuses=self._get_param("Statuses") or None,
            max_records=self._get_param("MaxRecords"),
            next_token=self._get_param("NextToken")))

    def delete_alarm_mute_rule(self: Any) -> Any:
        from .alarm_history import release_mutes

        delete_rule(self.cloudwatch_backend, self._get_param("AlarmMuteRuleName"))
        release_mutes(self.cloudwatch_backend, clock())  # AWS: unmuted at once
        return EmptyResult()

    for function in (put_alarm_mute_rule, get_alarm_mute_rule, list_alarm_mute_rules,
                     delete_alarm_mute_rule):
        vars(function)["__garmax_bridge__"] = True
        setattr(CloudWatchResponse, function.__name__, function)
    return _INFO


_INFO = BridgeInfo("cloudwatch-alarm-mute-rules", "patch",
                   "Put/Get/List/DeleteAlarmMuteRule; an ACTIVE rule mutes its alarms' "
                   "actions (state changes still happen)")
