"""A DEV stage under ``mock_aws`` whose CloudWatch answers what moto 5.2.5 lacks as AWS does.

moto answers 500 to ``DescribeAlarmHistory`` and to the four alarm mute-rule APIs, and its
``SetAlarmState`` writes no history and runs no action. ``AwsCloudWatchExtras`` answers
those through botocore hooks on every session the CLI makes (nothing leaves the process),
following the botocore model and the AWS docs:

- ``SetAlarmState`` (moto still sets the state) also records, as CloudWatch does, a
  ``StateUpdate`` item and — when the alarm's actions are enabled and no ACTIVE mute rule
  targets it — one ``Action`` item per SNS action ("Successfully executed action ...",
  ``stateUpdateTimestamp`` of the change), or the ``failing`` answer if a test sets one;
- ``DescribeAlarmHistory`` answers from those items (filters AlarmName, HistoryItemType,
  StartDate/EndDate, ScanBy, MaxRecords; one page);
- ``PutAlarmMuteRule``/``GetAlarmMuteRule``/``ListAlarmMuteRules``/``DeleteAlarmMuteRule``
  keep rules with the documented statuses at ``clock()``: an ``at(...)`` rule is ACTIVE in
  [at, at + Duration) and before its ExpireDate; summaries carry the ARN, not the name.

Every request is validated against the operation's input shape and every answer against
its output shape, as botocore's Stubber does.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.cli.conftest import Run, assert_envelope, cli, project, write_env  # noqa: F401

ACCOUNT = "123456789012"
REGION = "us-east-1"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:GarmaxAiStack-DEV-AlertsTopic"
_AT = re.compile(r"^at\((.+)\)$")
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


def _duration(text: str) -> dt.timedelta:
    days, hours, minutes = (int(g or 0) for g in _DURATION.match(text).groups())
    return dt.timedelta(days=days, hours=hours, minutes=minutes)


@dataclass
class AwsCloudWatchExtras:
    now: dt.datetime | None = None  # AWS's clock: the real time unless a test sets one
    history: list[dict[str, Any]] = field(default_factory=list)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failing: str | None = None  # an SNS error: the Action item says "Failed ..."
    silent: bool = False  # write no Action item at all (a publish never reported)

    def clock(self) -> dt.datetime:
        return self.now or dt.datetime.now(dt.UTC)

    def operations(self) -> list[str]:
        return [op for op, _ in self.requests]

    # ------------------------------------------------------------------ the hooks

    def install(self, session: Any) -> Any:
        session.events.register("before-parameter-build.cloudwatch", self._keep_params)
        session.events.register("before-call.cloudwatch", self._before_call)
        session.events.register("after-call.cloudwatch.SetAlarmState", self._after_set)
        return session

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["garmax_params"] = dict(params)

    def _before_call(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse
        from botocore.validate import validate_parameters

        params = context.get("garmax_params", {})
        self.requests.append((model.name, params))
        if model.name == "SetAlarmState":
            context["garmax_before"] = self._alarm(params["AlarmName"]).state_value
            return None
        handler = getattr(self, model.name, None)
        if handler is None:
            return None  # moto answers
        validate_parameters(params, model.input_shape)
        try:
            answer = handler(params)
        except KeyError as missing:
            parsed = {"Error": {"Code": "ResourceNotFoundException",
                                "Message": f"{missing} not found"},
                      "ResponseMetadata": {"HTTPStatusCode": 404}}
            return AWSResponse("https://monitoring.amazonaws.com/", 404, {}, None), parsed
        if model.output_shape is not None:
            validate_parameters(answer, model.output_shape)
        answer["ResponseMetadata"] = {"HTTPStatusCode": 200}
        return AWSResponse("https://monitoring.amazonaws.com/", 200, {}, None), answer

    @staticmethod
    def _alarm(name: str) -> Any:
        from moto.cloudwatch.models import cloudwatch_backends

        return cloudwatch_backends[ACCOUNT][REGION].alarms[name]

    def _after_set(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        params = context["garmax_params"]
        alarm = self._alarm(params["AlarmName"])
        old, new = context["garmax_before"], params["StateValue"]
        if old == new:
            return
        when = alarm.state_updated_timestamp.replace(tzinfo=dt.UTC)
        self.add(alarm.name, "StateUpdate", f"Alarm updated from {old} to {new}",
                 {"version": "1.0", "oldState": {"stateValue": old},
                  "newState": {"stateValue": new, "stateReason": params["StateReason"]}},
                 when)
        if not alarm.actions_enabled or self.muted(alarm.name) or self.silent:
            return
        actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions,
                   "INSUFFICIENT_DATA": alarm.insufficient_data_actions}[new]
        for action in actions:
            stamp = int(when.timestamp() * 1000)
            if self.failing:
                self.add(alarm.name, "Action", f"Failed to execute action {action}",
                         {"actionState": "Failed", "stateUpdateTimestamp": stamp,
                          "notificationResource": action, "error": self.failing}, when)
            else:
                self.add(alarm.name, "Action", f"Successfully executed action {action}",
                         {"actionState": "Succeeded", "stateUpdateTimestamp": stamp,
                          "notificationResource": action, "publishedMessage": "{}"}, when)

    def add(self, alarm: str, kind: str, summary: str, data: dict[str, Any],
            when: dt.datetime) -> None:
        self.history.append({"AlarmName": alarm, "AlarmType": "MetricAlarm",
                             "Timestamp": when, "HistoryItemType": kind,
                             "HistorySummary": summary, "HistoryData": json.dumps(data)})

    # ------------------------------------------------------------------ answers

    def DescribeAlarmHistory(self, p: dict[str, Any]) -> dict[str, Any]:
        items = [i for i in self.history
                 if p.get("AlarmName") in (None, i["AlarmName"])
                 and p.get("HistoryItemType") in (None, i["HistoryItemType"])
                 and (p.get("StartDate") is None or i["Timestamp"] >= p["StartDate"])
                 and (p.get("EndDate") is None or i["Timestamp"] <= p["EndDate"])]
        items.sort(key=lambda i: i["Timestamp"], reverse=p.get("ScanBy") != "TimestampAscending")
        return {"AlarmHistoryItems": items[:p.get("MaxRecords", 50)]}

    def status(self, rule: dict[str, Any]) -> str:
        start = dt.datetime.fromisoformat(_AT.match(rule["Rule"]["Schedule"]["Expression"])
                                          .group(1)).replace(tzinfo=dt.UTC)
        end = start + _duration(rule["Rule"]["Schedule"]["Duration"])
        expire, now = rule.get("ExpireDate"), self.clock()
        if now >= end or (expire and now >= expire):
            return "EXPIRED"
        return "ACTIVE" if now >= start else "SCHEDULED"

    def muted(self, alarm: str) -> bool:
        return any(alarm in r["MuteTargets"]["AlarmNames"] and self.status(r) == "ACTIVE"
                   for r in self.rules.values())

    def PutAlarmMuteRule(self, p: dict[str, Any]) -> dict[str, Any]:
        self.rules[p["Name"]] = {**p, "LastUpdatedTimestamp": self.clock()}
        return {}

    def _arn(self, name: str) -> str:
        return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm-mute-rule:{name}"

    def GetAlarmMuteRule(self, p: dict[str, Any]) -> dict[str, Any]:
        rule = self.rules[p["AlarmMuteRuleName"]]
        return {"Name": rule["Name"], "AlarmMuteRuleArn": self._arn(rule["Name"]),
                "Description": rule.get("Description", ""), "Rule": rule["Rule"],
                "MuteTargets": rule["MuteTargets"], "ExpireDate": rule["ExpireDate"],
                "Status": self.status(rule), "MuteType": "ONE_TIME",
                "LastUpdatedTimestamp": rule["LastUpdatedTimestamp"]}

    def ListAlarmMuteRules(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"AlarmMuteRuleSummaries": [
            {"AlarmMuteRuleArn": self._arn(r["Name"]), "ExpireDate": r["ExpireDate"],
             "Status": self.status(r), "MuteType": "ONE_TIME",
             "LastUpdatedTimestamp": r["LastUpdatedTimestamp"]}
            for r in self.rules.values()
            if p.get("AlarmName") in (None, *r["MuteTargets"]["AlarmNames"])
            and (not p.get("Statuses") or self.status(r) in p["Statuses"])]}

    def DeleteAlarmMuteRule(self, p: dict[str, Any]) -> dict[str, Any]:
        self.rules.pop(p["AlarmMuteRuleName"], None)  # idempotent, as documented
        return {}


@pytest.fixture
def extras(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsCloudWatchExtras]:
    """A DEV stage (account 123456789012) under ``mock_aws`` with AWS's alarm history and
    mute rules answered by :class:`AwsCloudWatchExtras`."""
    from moto import mock_aws

    from garmaxctl import aws

    fake = AwsCloudWatchExtras()
    wire = aws.log_the_wire
    monkeypatch.setattr(aws, "log_the_wire", lambda session: fake.install(wire(session)))
    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", ACCOUNT)
    with mock_aws():
        yield fake


def put_alarm(name: str, *, stage: str = "DEV", actions_enabled: bool = True,
              state: str | None = None, **extra: Any) -> str:
    """A stage alarm like the stack's (DLQ depth > 0 over 5 min, notBreaching, SNS)."""
    import boto3

    full = f"GarmaxAI-{name}-{stage}"
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    kwargs: dict[str, Any] = dict(
        AlarmName=full, AlarmDescription=f"{name} alarm", Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible", Statistic="Maximum", Period=300,
        Dimensions=[{"Name": "QueueName", "Value": f"{name}-dlq"}], EvaluationPeriods=1,
        Threshold=0, ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching", AlarmActions=[TOPIC],
        ActionsEnabled=actions_enabled)
    kwargs.update(extra)
    cloudwatch.put_metric_alarm(**kwargs)
    if state:
        cloudwatch.set_alarm_state(AlarmName=full, StateValue=state,
                                   StateReason=f"set to {state} by the test")
    return full
