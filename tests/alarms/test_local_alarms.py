"""``garmaxctl alarms`` on the deployed LOCAL stack (the ``local_stack`` session fixture).

Acceptance 5 on LOCAL: ``alarms test`` proves delivery — the history's Action item, and the
alert inbox really received CloudWatch's notification — and leaves the alarm in its
evaluated state; a poison message in a DLQ moves a muted alarm to ALARM on the telemetry
tick and the inbox receives nothing, until ``unmute`` with the alarm still in ALARM.
The shared stack runs no automatic tick: the test ticks through the local gateway.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from garmaxctl.local import inbox
from garmaxctl.local.supervisor import inbox_messages
from garmaxctl.services.alarms.notify import TEST_REASON
from garmaxctl.shared import contract
from tests.cli.conftest import Run
from tests.conftest import api_request, wait_for

pytestmark = pytest.mark.slow
STAGE = "LOCAL"


def _notifications(local_stack, alarm: str) -> list[dict]:
    return [m for m in inbox_messages(local_stack.state_dir / "local")
            if isinstance(m["message"], dict) and m["message"].get("AlarmName") == alarm]


def _tick(local_stack, at: dt.datetime | None = None) -> dict:
    status, body = api_request(f"{local_stack.api_url}/_local/telemetry/tick", "POST",
                               {"at": at.isoformat()} if at else {})
    assert status == 200, body
    return body


def test_alarms_test_round_trip_and_a_mute_on_local(local_stack, monkeypatch,
                                                    tmp_path) -> None:
    local_stack.use(monkeypatch)
    cli = Run(tmp_path)
    cloudwatch = local_stack.client("cloudwatch")
    tryon = contract.alarm_name(contract.Alarm.TRYON_DLQ, STAGE)
    render = contract.alarm_name(contract.Alarm.RENDER_DLQ, STAGE)

    result, document = cli.json("alarms", "list")
    assert result.exit_code == 0, result.stdout + result.stderr
    listed = {a["name"]: a for a in document["data"]["alarms"]}
    assert {tryon, render, contract.alarm_name(contract.Alarm.LAMBDA_ERRORS, STAGE)} <= \
        set(listed)
    assert listed[contract.alarm_name(contract.Alarm.ACTIVITY, STAGE)]["actions"]["text"] \
        == "off"  # the stack deploys it disabled; idle down enables it
    before = cloudwatch.describe_alarms(AlarmNames=[tryon])["MetricAlarms"][0]

    # `local up` returns once the platform's inbox is subscribed (a publish before that
    # would reach no inbox, as on SNS): no waiting here, even on a fresh deploy.
    topic = local_stack.outputs[contract.OutputKey.ALERT_TOPIC_ARN]
    assert [s for s in local_stack.client("sns").list_subscriptions_by_topic(
        TopicArn=topic)["Subscriptions"] if s["Endpoint"].endswith(inbox.QUEUE_NAME)]

    # alarms test: the Action item proves SNS took it; the inbox shows it arrived.
    result, document = cli.json("alarms", "test", "TryonDlqNotEmpty", "--timeout", "30s")
    assert result.exit_code == 0, result.stdout + result.stderr
    data = document["data"]
    topic = local_stack.outputs[contract.OutputKey.ALERT_TOPIC_ARN]
    assert data["proved"] is True and data["topic"] == topic
    after = cloudwatch.describe_alarms(AlarmNames=[tryon])["MetricAlarms"][0]
    assert (after["StateValue"], after["StateReason"]) == (before["StateValue"],
                                                           before["StateReason"])
    delivered = wait_for(lambda: [m for m in _notifications(local_stack, tryon)
                                  if m["message"]["NewStateReason"] == TEST_REASON],
                         timeout=20)
    assert delivered[0]["topic_arn"] == topic
    assert delivered[0]["message"]["NewStateValue"] == "ALARM"

    # A muted alarm: a poison message moves it to ALARM on the tick; nothing is published.
    result = cli("alarms", "mute", "RenderDlqNotEmpty", "--for", "1h", "--reason", "e2e")
    assert result.exit_code == 0, result.stdout + result.stderr
    _, document = cli.json("alarms", "list")
    (row,) = [a for a in document["data"]["alarms"] if a["name"] == render]
    assert row["actions"]["muted_by"] == "rule"
    sqs = local_stack.client("sqs")
    dlq = local_stack.outputs[contract.OutputKey.RENDER_DLQ_URL]
    seen_before = len(_notifications(local_stack, render))
    started = dt.datetime.now(dt.UTC)
    sqs.send_message(QueueUrl=dlq, MessageBody="poison from tests/alarms")
    try:
        assert _tick(local_stack)["alarms_changed"].get(render) == "ALARM"
        history = cloudwatch.describe_alarm_history(
            AlarmName=render, StartDate=started - dt.timedelta(seconds=5))["AlarmHistoryItems"]
        # The transition, and no Action item: a muted alarm's actions do not run.
        # (Other kinds may be there: a ConfigurationUpdate of the stack's own alarms.)
        kinds = [h["HistoryItemType"] for h in history]
        assert kinds.count("StateUpdate") == 1 and "Action" not in kinds, kinds
        result, document = cli.json("alarms", "history", "RenderDlqNotEmpty", "--since", "5m")
        assert [e["new_state"] for e in document["data"]["events"]] == ["ALARM"]
        time.sleep(3)  # the inbox drains every second: a publish would have arrived
        assert len(_notifications(local_stack, render)) == seen_before
        # Unmuted while still in ALARM: its ALARM actions run now (AWS's documented rule).
        result = cli("alarms", "unmute", "RenderDlqNotEmpty")
        assert result.exit_code == 0, result.stdout + result.stderr
        late = wait_for(lambda: _notifications(local_stack, render)[seen_before:], timeout=20)
        assert late[0]["message"]["NewStateValue"] == "ALARM"
    finally:
        sqs.purge_queue(QueueUrl=dlq)
        cli("alarms", "unmute", "RenderDlqNotEmpty")
        _tick(local_stack, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
    assert cloudwatch.list_alarm_mute_rules(AlarmName=render)["AlarmMuteRuleSummaries"] == []
    assert cloudwatch.describe_alarms(AlarmNames=[render])["MetricAlarms"][0][
        "StateValue"] == "OK"
    assert json.loads(cli("-o", "json", "alarms", "list").stdout)["ok"] is True
