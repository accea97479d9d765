"""Reading the stage's alarms: ``alarms list``, ``alarms show``, ``alarms history``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from garmaxctl.aws import error_code
from garmaxctl.stage import alarms as stage_alarms

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

OPERATORS = {
    "GreaterThanThreshold": ">", "GreaterThanOrEqualToThreshold": "≥",
    "LessThanThreshold": "<", "LessThanOrEqualToThreshold": "≤",
    "LessThanLowerOrGreaterThanUpperThreshold": "outside the band",
    "LessThanLowerThreshold": "below the band", "GreaterThanUpperThreshold": "above the band",
}
FLAPPING_TRANSITIONS = 4  # this many state changes within FLAPPING_WINDOW: flapping
FLAPPING_WINDOW = dt.timedelta(hours=1)
LAST_TRANSITIONS = 5


# ----------------------------------------------------------------------------- list

@dataclass
class Actions:
    """Whether the alarm's actions run: ``on``, ``muted`` (``by`` idle or a mute rule) or
    ``off`` (ActionsEnabled false, not by idle)."""

    status: str  # on | muted | off
    by: str | None = None  # idle | rule
    until: dt.datetime | None = None  # the latest ExpireDate of the muting rules
    rules: list[str] = field(default_factory=list)  # active mute rules targeting it

    @property
    def text(self) -> str:
        if self.status != "muted":
            return self.status
        if self.by == "idle":
            return "muted (idle)"
        return f"muted until {self.until:%m-%d %H:%M}" if self.until else "muted (rule)"


@dataclass
class AlarmRow:
    name: str  # full: GarmaxAI-LambdaErrors-DEV
    short: str  # LambdaErrors
    state: str
    since: dt.datetime | None
    reason: str
    actions: Actions


@dataclass
class AlarmList:
    stage: str
    state_filter: str | None
    alarms: list[AlarmRow]
    notes: list[str] = field(default_factory=list)


def actions_of(target: StageTarget, alarm: dict[str, Any],
               notes: list[str] | None = None, *, rules_exist: bool = True) -> Actions:
    """How the alarm's actions stand: idle's ActionsEnabled, then active mute rules
    (not asked for when ``rules_exist`` is False: no ACTIVE rule exists at all)."""
    rules: list[stage_alarms.MuteRule] = []
    try:
        if rules_exist:
            rules = stage_alarms.active_mute_rules(target, alarm["AlarmName"])
    except ClientError as exc:  # no permission, or an endpoint without the API
        if notes is not None and not any(n.startswith("mute rules unreadable") for n in notes):
            notes.append(f"mute rules unreadable ({error_code(exc)}): mutes not shown")
    names = [r.name for r in rules]
    expiries = [r.expires for r in rules if r.expires is not None]
    until = max(expiries) if expiries and len(expiries) == len(rules) else None
    if not alarm.get("ActionsEnabled", True):
        if stage_alarms.idle_muted(target, alarm):
            return Actions("muted", "idle", rules=names)
        return Actions("off", rules=names)
    if rules:
        return Actions("muted", "rule", until, names)
    return Actions("on")


def row_of(target: StageTarget, alarm: dict[str, Any], notes: list[str], *,
           rules_exist: bool = True) -> AlarmRow:
    return AlarmRow(name=alarm["AlarmName"],
                    short=stage_alarms.short_name(alarm["AlarmName"], target.name),
                    state=alarm.get("StateValue", ""),
                    since=alarm.get("StateUpdatedTimestamp"),
                    reason=alarm.get("StateReason", ""),
                    actions=actions_of(target, alarm, notes, rules_exist=rules_exist))


def list_alarms(target: StageTarget, *, state: str | None = None) -> AlarmList:
    """The stage's alarms (optionally in one state), and the names cached for completion."""
    everything = stage_alarms.stage_alarms(target)
    stage_alarms.write_name_cache(target.name, [a["AlarmName"] for a in everything])
    chosen = [a for a in everything if state is None or a.get("StateValue") == state]
    notes: list[str] = []
    try:  # one request for the usual case, no mute rule at all; else one per alarm
        rules_exist = bool(chosen) and stage_alarms.any_active_mute_rule(target)
    except ClientError:
        rules_exist = True  # each alarm's own request says what is unreadable
    rows = [row_of(target, a, notes, rules_exist=rules_exist)
            for a in sorted(chosen, key=lambda a: a["AlarmName"])]
    if target.idle:
        notes.append("the stage is idle: idle down muted its paging alarms "
                     "(`garmaxctl idle up` restores them)")
    return AlarmList(stage=target.name, state_filter=state, alarms=rows, notes=notes)


# ----------------------------------------------------------------------------- show

def period_words(seconds: int | None) -> str:
    if not seconds:
        return "?"
    for size, unit in ((86400, "day"), (3600, "h"), (60, "min")):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}" + ("s" if unit == "day" and count != 1 else "")
    return f"{seconds} s"


def number(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:g}"


def _metric_words(metric: dict[str, Any]) -> str:
    dims = ", ".join(d["Value"] for d in metric.get("Dimensions", []))
    return f"{metric['MetricName']}" + (f" ({dims})" if dims else "")


def condition_words(alarm: dict[str, Any]) -> str:
    """``Errors Sum over 5 min ≥ 1 for 1 of 1 periods; missing data: notBreaching``."""
    operator = OPERATORS.get(alarm.get("ComparisonOperator", ""),
                             alarm.get("ComparisonOperator", "?"))
    n = alarm.get("EvaluationPeriods")
    m = alarm.get("DatapointsToAlarm") or n
    if alarm.get("MetricName"):
        statistic = alarm.get("Statistic") or alarm.get("ExtendedStatistic") or "?"
        subject = f"{alarm['MetricName']} {statistic}"
        period = alarm.get("Period")
    else:
        returned = [q for q in alarm.get("Metrics", []) if q.get("ReturnData", True)]
        query = returned[0] if returned else {}
        subject = query.get("Expression") or query.get("Label") or query.get("Id", "?")
        stats = {q["MetricStat"].get("Stat") for q in alarm.get("Metrics", [])
                 if "MetricStat" in q}
        names = {q["MetricStat"]["Metric"]["MetricName"] for q in alarm.get("Metrics", [])
                 if "MetricStat" in q}
        if len(stats) == 1 and len(names) == 1:
            subject += f" of {names.pop()} {stats.pop()}"
        period = query.get("Period") or next(
            (q["MetricStat"].get("Period") for q in alarm.get("Metrics", [])
             if "MetricStat" in q), None)
    threshold = number(alarm.get("Threshold"))
    return (f"{subject} over {period_words(period)} {operator} {threshold} for {m} of {n} "
            f"periods; missing data: {alarm.get('TreatMissingData') or 'missing'}")


def metrics_of(alarm: dict[str, Any]) -> list[str]:
    """The metrics the alarm reads: ``AWS/Lambda Errors (GarmaxAi-Api-DEV)`` lines."""
    if alarm.get("MetricName"):
        return [f"{alarm.get('Namespace')} {_metric_words(alarm)}"]
    lines = []
    for query in alarm.get("Metrics", []):
        if "MetricStat" in query:
            stat = query["MetricStat"]
            lines.append(f"{query['Id']} = {stat['Metric'].get('Namespace')} "
                         f"{_metric_words(stat['Metric'])} {stat.get('Stat')}")
        elif query.get("Expression"):
            lines.append(f"{query['Id']} = {query['Expression']}")
    return lines


@dataclass
class HistoryEvent:
    time: dt.datetime
    alarm: str  # full name
    short: str
    type: str  # StateUpdate | Action
    summary: str  # CloudWatch's HistorySummary
    old_state: str | None = None
    new_state: str | None = None
    reason: str | None = None
    action: str | None = None  # the action's resource (an SNS topic ARN)
    action_state: str | None = None  # Succeeded | Failed
    error: str | None = None

    @property
    def change(self) -> str:
        if self.type == "StateUpdate":
            return f"{self.old_state} → {self.new_state}"
        topic = (self.action or "").rsplit(":", 1)[-1]
        return f"{'notified' if self.action_state == 'Succeeded' else 'failed'} {topic}"


@dataclass
class AlarmDetail:
    name: str
    short: str
    description: str
    state: str
    since: dt.datetime | None
    reason: str
    condition: str
    metrics: list[str]
    actions: Actions
    alarm_actions: list[str]
    ok_actions: list[str]
    insufficient_data_actions: list[str]
    transitions: list[HistoryEvent]
    notes: list[str] = field(default_factory=list)


def show_alarm(target: StageTarget, name: str) -> AlarmDetail:
    alarm = stage_alarms.resolve(target, name)
    notes: list[str] = []
    transitions = read_history(target, alarm["AlarmName"], item_type="StateUpdate",
                               limit=LAST_TRANSITIONS, notes=notes)
    return AlarmDetail(
        name=alarm["AlarmName"], short=stage_alarms.short_name(alarm["AlarmName"], target.name),
        description=alarm.get("AlarmDescription", ""), state=alarm.get("StateValue", ""),
        since=alarm.get("StateUpdatedTimestamp"), reason=alarm.get("StateReason", ""),
        condition=condition_words(alarm), metrics=metrics_of(alarm),
        actions=actions_of(target, alarm, notes),
        alarm_actions=list(alarm.get("AlarmActions", [])),
        ok_actions=list(alarm.get("OKActions", [])),
        insufficient_data_actions=list(alarm.get("InsufficientDataActions", [])),
        transitions=transitions, notes=notes)


# ----------------------------------------------------------------------------- history

def event_of(item: dict[str, Any], stage: str) -> HistoryEvent:
    """One ``DescribeAlarmHistory`` item as an event (its HistoryData read as JSON)."""
    try:
        data = json.loads(item.get("HistoryData") or "{}")
    except ValueError:
        data = {}
    event = HistoryEvent(time=item["Timestamp"], alarm=item["AlarmName"],
                         short=stage_alarms.short_name(item["AlarmName"], stage),
                         type=item.get("HistoryItemType", ""),
                         summary=item.get("HistorySummary", ""))
    if event.type == "StateUpdate":
        event.old_state = (data.get("oldState") or {}).get("stateValue")
        event.new_state = (data.get("newState") or {}).get("stateValue")
        event.reason = (data.get("newState") or {}).get("stateReason")
    elif event.type == "Action":
        event.action = data.get("notificationResource")
        event.action_state = data.get("actionState") or (
            "Succeeded" if event.summary.startswith("Successfully") else "Failed")
        event.error = data.get("error")
    return event


def history_items(target: StageTarget, *, alarm: str | None = None,
                  item_type: str | None = None, start: dt.datetime | None = None,
                  end: dt.datetime | None = None,
                  limit: int | None = None) -> Iterable[dict[str, Any]]:
    """``DescribeAlarmHistory``, newest first, every page (or the first ``limit``)."""
    kwargs: dict[str, Any] = {"ScanBy": "TimestampDescending"}
    if alarm:
        kwargs["AlarmName"] = alarm
    if item_type:
        kwargs["HistoryItemType"] = item_type
    if start:
        kwargs["StartDate"] = start
    if end:
        kwargs["EndDate"] = end
    if limit:
        kwargs["MaxRecords"] = min(limit, 100)
    seen = 0
    paginator = target.client("cloudwatch").get_paginator("describe_alarm_history")
    for page in paginator.paginate(**kwargs):
        for item in page.get("AlarmHistoryItems", []):
            yield item
            seen += 1
            if limit and seen >= limit:
                return


def read_history(target: StageTarget, alarm: str | None, *, item_type: str | None = None,
                 start: dt.datetime | None = None, end: dt.datetime | None = None,
                 limit: int | None = None, notes: list[str] | None = None
                 ) -> list[HistoryEvent]:
    events = []
    for item in history_items(target, alarm=alarm, item_type=item_type, start=start,
                              end=end, limit=limit):
        if not stage_alarms.is_stage_alarm(item["AlarmName"], target.name):
            continue
        if item.get("HistoryItemType") not in ("StateUpdate", "Action"):
            continue
        events.append(event_of(item, target.name))
    return events


@dataclass
class Flapping:
    alarm: str
    short: str
    transitions: int  # the most state changes within one hour
    window_start: dt.datetime


@dataclass
class AlarmHistory:
    stage: str
    alarm: str | None
    start: dt.datetime
    end: dt.datetime
    events: list[HistoryEvent]  # newest first
    flapping: list[Flapping]
    flapping_only: bool


def flapping(events: list[HistoryEvent]) -> list[Flapping]:
    """Alarms with ≥ 4 state changes within an hour (the busiest hour of each)."""
    by_alarm: dict[str, list[HistoryEvent]] = {}
    for event in events:
        if event.type == "StateUpdate":
            by_alarm.setdefault(event.alarm, []).append(event)
    found = []
    for alarm, changes in sorted(by_alarm.items()):
        times = sorted(e.time for e in changes)
        best, best_start, first = 0, times[0], 0
        for last, moment in enumerate(times):
            while moment - times[first] > FLAPPING_WINDOW:
                first += 1
            if last - first + 1 > best:
                best, best_start = last - first + 1, times[first]
        if best >= FLAPPING_TRANSITIONS:
            found.append(Flapping(alarm, changes[0].short, best, best_start))
    return found


def alarm_history(target: StageTarget, *, name: str | None, start: dt.datetime,
                  end: dt.datetime, flapping_only: bool = False) -> AlarmHistory:
    full = stage_alarms.resolve(target, name)["AlarmName"] if name else None
    target.connect()
    events = read_history(target, full, start=start, end=end)
    flaps = flapping(events)
    if flapping_only:
        flappers = {f.alarm for f in flaps}
        events = [e for e in events if e.alarm in flappers]
    return AlarmHistory(stage=target.name, alarm=full, start=start, end=end, events=events,
                        flapping=flaps, flapping_only=flapping_only)
