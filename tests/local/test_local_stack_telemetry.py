"""Issue 12, acceptance 1, on the deployed LOCAL stack (the `local_stack` session fixture).

After a try-on through the local API, the aws CLI (not garmaxctl) finds the Api's and
the TryonProcessor's log lines in their log groups and non-zero AWS/Lambda Invocations
for both; a message put straight into a DLQ moves its alarm to ALARM on the next
telemetry tick, its history shows the transition and the alert inbox the notification.
The shared stack runs no automatic tick (tests/conftest.py): this test ticks through the
gateway's ``POST /_local/telemetry/tick``, once now and once at an injected time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from garmaxctl.local.supervisor import inbox_messages
from garmaxctl.shared import contract
from tests.conftest import api_request, wait_for

pytestmark = pytest.mark.slow
STAGE = "LOCAL"
AWS = str(Path(sys.executable).with_name("aws"))


def aws_cli(local_stack, *args: str) -> dict:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""}
    done = subprocess.run([AWS, "--endpoint-url", local_stack.endpoint, "--output", "json",
                           *args], env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout or "{}")


def tick(local_stack, at: dt.datetime | None = None) -> dict:
    status, body = api_request(f"{local_stack.api_url}/_local/telemetry/tick", "POST",
                           {"at": at.isoformat()} if at else {})
    assert status == 200, body
    return body


def test_tryon_telemetry_and_a_dlq_alarm_reach_the_inbox(local_stack) -> None:
    started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    user = f"user-{uuid.uuid4().hex[:8]}"
    s3 = local_stack.client("s3")
    uploads = local_stack.outputs[contract.OutputKey.UPLOADS_BUCKET]
    for key in ("avatar.jpg", "garment.jpg"):
        s3.put_object(Bucket=uploads, Key=f"users/{user}/{key}", Body=b"\xff\xd8\xff jpeg")
    status, session = api_request(f"{local_stack.api_url}/api/tryon/sessions", "POST",
                              {"avatarKey": "avatar.jpg", "garmentKey": "garment.jpg",
                               "quality": "sd"}, user)
    assert status == 201, session
    session_id = session["sessionId"]

    def processed() -> bool:
        code, body = api_request(f"{local_stack.api_url}/api/tryon/sessions/{session_id}",
                             user=user)
        return code == 200 and body["status"] in ("preview_ready", "failed")

    wait_for(processed)
    # A refused request: the Api handler's Powertools logger writes "request refused".
    code, _ = api_request(f"{local_stack.api_url}/api/tryon/sessions/no-such-session", user=user)
    assert code == 404

    # Logs, through the aws CLI: START/REPORT and the handlers' Powertools JSON.
    for function in (contract.Function.API, contract.Function.TRYON_PROCESSOR):
        group = contract.function_log_group(function, STAGE)
        events = aws_cli(local_stack, "logs", "filter-log-events", "--log-group-name",
                         group)["events"]
        messages = [e["message"] for e in events]
        assert any(m.startswith("START RequestId: ") for m in messages), group
        reports = [m for m in messages if m.startswith("REPORT RequestId: ")]
        assert reports and all("\tMemory Size: " in r for r in reports), group
        powertools = [json.loads(m) for m in messages if m.startswith("{")]
        assert any(p.get("function_name") == contract.function_name(function, STAGE)
                   and p.get("function_request_id") for p in powertools), (group, messages)
        # Each Powertools line carries its own function's context, never another's
        # (the handlers share one process: their logger state is kept per thread).
        assert all(p["function_name"] == contract.function_name(function, STAGE)
                   for p in powertools if "function_name" in p), (group, messages)
        assert all(re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}",
                                e["logStreamName"]) for e in events), group
    access = aws_cli(local_stack, "logs", "filter-log-events", "--log-group-name",
                     contract.api_access_log_group(STAGE))["events"]
    lines = [json.loads(e["message"]) for e in access]
    assert any(line["httpMethod"] == "POST" and line["status"] == "201" for line in lines)

    # Metrics, through the aws CLI.
    for function in (contract.Function.API, contract.Function.TRYON_PROCESSOR):
        points = aws_cli(
            local_stack, "cloudwatch", "get-metric-statistics", "--namespace", "AWS/Lambda",
            "--metric-name", "Invocations", "--dimensions",
            f"Name=FunctionName,Value={contract.function_name(function, STAGE)}",
            "--start-time", started.isoformat(),
            "--end-time", (started + dt.timedelta(hours=1)).isoformat(),
            "--period", "3600", "--statistics", "Sum")["Datapoints"]
        assert sum(p["Sum"] for p in points) > 0, function

    # A poison message straight into the try-on DLQ: ALARM on the next tick.
    sqs = local_stack.client("sqs")
    dlq = local_stack.outputs[contract.OutputKey.TRYON_DLQ_URL]
    alarm = contract.alarm_name(contract.Alarm.TRYON_DLQ, STAGE)
    sqs.send_message(QueueUrl=dlq, MessageBody="poison from tests/local")
    try:
        assert tick(local_stack)["alarms_changed"].get(alarm) == "ALARM"
        described = aws_cli(local_stack, "cloudwatch", "describe-alarms", "--alarm-names",
                            alarm)["MetricAlarms"][0]
        assert described["StateValue"] == "ALARM"
        assert described["StateReason"].startswith("Threshold Crossed: 1 out of the last 1")
        history = aws_cli(local_stack, "cloudwatch", "describe-alarm-history",
                          "--alarm-name", alarm)["AlarmHistoryItems"]
        updates = [h for h in history if h["HistoryItemType"] == "StateUpdate"]
        assert updates[0]["HistorySummary"].endswith(" to ALARM")
        topic = local_stack.outputs[contract.OutputKey.ALERT_TOPIC_ARN]
        assert any(h["HistoryItemType"] == "Action" and
                   h["HistorySummary"] == f"Successfully executed action {topic}"
                   for h in history)

        def notified():
            return [m for m in inbox_messages(local_stack.state_dir / "local")
                    if isinstance(m["message"], dict)
                    and m["message"].get("AlarmName") == alarm
                    and m["message"].get("NewStateValue") == "ALARM"]

        delivered = wait_for(notified, timeout=20)
        assert delivered[0]["topic_arn"] == topic
        assert delivered[0]["subject"] == f'ALARM: "{alarm}" in US East (N. Virginia)'
    finally:
        sqs.purge_queue(QueueUrl=dlq)
        # Injected clock: ten minutes on, the DLQ is empty and every period is past.
        tick(local_stack, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
    assert local_stack.client("cloudwatch").describe_alarms(AlarmNames=[alarm])[
        "MetricAlarms"][0]["StateValue"] == "OK"
