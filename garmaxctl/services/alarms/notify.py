"""``alarms test``: prove that an alarm's notification is accepted, then put it back.

1. The alarm must be able to notify: actions enabled (not off, not muted by idle), no
   active mute rule, at least one SNS topic among its ``AlarmActions``. Otherwise the test
   fails at once and changes nothing.
2. ``SetAlarmState`` ALARM (an alarm already in ALARM is set to OK first: the stack's
   alarms have no OK actions, and a same-state set runs no action).
3. The proof is the alarm history's ``Action`` item for that state change: CloudWatch
   writes "Successfully executed action arn:aws:sns:..." when SNS accepted the publish
   (``Failed to execute action ...`` fails the test at once). On LOCAL the alarm bridge
   writes the same item after moto's SNS took the publish (and the alert inbox receives
   it: docs/alarms.md), so one path serves every stage.
4. The alarm goes back to the state (and reason) it had, whatever happened; CloudWatch's
   next evaluation would put it there anyway.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from garmaxctl.services.alarms.view import actions_of
from garmaxctl.stage import alarms as stage_alarms

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

TEST_REASON = "garmaxctl alarms test: checking that the alarm's notification is accepted"
SUCCESS_PREFIX = "Successfully executed action "
SKEW = dt.timedelta(minutes=5)  # history query window before the state change


@dataclass
class AlarmTest:
    stage: str
    alarm: str
    short: str
    proved: bool
    problem: str  # why not ("" when proved)
    topic: str | None  # the SNS action that accepted the publish
    summary: str | None  # the history item's summary
    notified_at: dt.datetime | None
    waited_s: float
    state_before: str
    state_after: str | None  # the state it was put back to (None: not changed)


def _sns_actions(alarm: dict[str, Any]) -> list[str]:
    return [a for a in alarm.get("AlarmActions", []) if a.split(":")[2:3] == ["sns"]]


def _millis(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _state_updated(cloudwatch: Any, name: str) -> dt.datetime:
    alarm = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    moment: dt.datetime = alarm["StateUpdatedTimestamp"]
    return moment


def _find_proof(cloudwatch: Any, name: str, changed_at: dt.datetime
                ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The Action item of the state change at ``changed_at`` (ms precision), if written."""
    items = cloudwatch.describe_alarm_history(
        AlarmName=name, HistoryItemType="Action", StartDate=changed_at - SKEW,
        ScanBy="TimestampDescending", MaxRecords=20).get("AlarmHistoryItems", [])
    for item in items:
        try:
            data = json.loads(item.get("HistoryData") or "{}")
        except ValueError:
            data = {}
        stamp = data.get("stateUpdateTimestamp")
        if stamp is not None and int(stamp) < _millis(changed_at) - 1000:
            continue  # an earlier state change's action
        if stamp is None and item["Timestamp"] < changed_at:
            continue
        return item, data
    return None


def prove_notification(target: StageTarget, name: str, *, timeout: dt.timedelta,
               poll_s: float = 2.0, sleep: Callable[[float], None] = time.sleep,
               monotonic: Callable[[], float] = time.monotonic) -> AlarmTest:
    alarm = stage_alarms.resolve(target, name)
    full = alarm["AlarmName"]
    short = stage_alarms.short_name(full, target.name)
    before = alarm.get("StateValue", "")
    result = AlarmTest(stage=target.name, alarm=full, short=short, proved=False, problem="",
                       topic=None, summary=None, notified_at=None, waited_s=0.0,
                       state_before=before, state_after=None)
    actions = actions_of(target, alarm)
    topics = _sns_actions(alarm)
    if actions.status != "on":
        result.problem = (f"its actions are {actions.text}: no notification would be sent "
                          + ("(`garmaxctl idle up` restores them)" if actions.by == "idle"
                             else "(`garmaxctl alarms unmute` ends a mute)"
                             if actions.by == "rule" else "(enable its actions first)"))
        return result
    if not topics:
        result.problem = "it has no SNS topic among its alarm actions"
        return result
    cloudwatch = target.client("cloudwatch")
    started = monotonic()
    try:
        if before == "ALARM":
            cloudwatch.set_alarm_state(AlarmName=full, StateValue="OK",
                                       StateReason=TEST_REASON + " (leaving ALARM first)")
        cloudwatch.set_alarm_state(AlarmName=full, StateValue="ALARM", StateReason=TEST_REASON)
        changed_at = _state_updated(cloudwatch, full)
        while True:
            found = _find_proof(cloudwatch, full, changed_at)
            if found is not None:
                item, data = found
                result.summary = item.get("HistorySummary", "")
                result.notified_at = item["Timestamp"]
                if result.summary.startswith(SUCCESS_PREFIX):
                    result.proved = True
                    result.topic = data.get("notificationResource") or \
                        result.summary[len(SUCCESS_PREFIX):]
                else:
                    result.problem = f"CloudWatch says: {result.summary}" + (
                        f" ({data['error']})" if data.get("error") else "")
                break
            if monotonic() - started >= timeout.total_seconds():
                result.problem = (f"no action result in the alarm's history within "
                                  f"{timeout.total_seconds():g} s")
                break
            sleep(poll_s)
    finally:
        result.waited_s = round(monotonic() - started, 3)
        result.state_after = _restore(cloudwatch, alarm)
    return result


def _restore(cloudwatch: Any, alarm: dict[str, Any]) -> str:
    """Put the alarm back in the state and reason it had before the test."""
    state = alarm.get("StateValue", "INSUFFICIENT_DATA")
    if state == "ALARM":
        cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue="ALARM",
                                   StateReason=(alarm.get("StateReason") or TEST_REASON)[:1023])
        return state
    kwargs: dict[str, Any] = {"AlarmName": alarm["AlarmName"], "StateValue": state,
                              "StateReason": (alarm.get("StateReason") or
                                              "garmaxctl alarms test: back")[:1023]}
    if alarm.get("StateReasonData"):
        kwargs["StateReasonData"] = alarm["StateReasonData"][:4000]
    cloudwatch.set_alarm_state(**kwargs)
    return state
