"""The audit trail on the deployed LOCAL stack: the stack's own `/garmaxai/LOCAL/audit` log
group (created by the CDK deploy into the emulator) receives a real `alarms mute`'s record,
and the head in SSM follows."""

from __future__ import annotations

import json

from garmaxctl.services import audit
from garmaxctl.shared import contract
from tests.audit.conftest import chain
from tests.cli.conftest import Run


def test_a_mute_on_the_local_stack_is_recorded_and_sent_to_the_stack_log_group(
        local_stack, monkeypatch, tmp_path) -> None:
    local_stack.use(monkeypatch)
    cli = Run(tmp_path)
    muted = cli("-o", "json", "alarms", "mute", "LambdaErrors", "--for", "1h", "--reason",
                "audit e2e")
    unmuted = cli("-o", "json", "alarms", "unmute", "LambdaErrors")
    assert (muted.exit_code, unmuted.exit_code) == (0, 0), muted.stdout + unmuted.stdout
    records = chain("LOCAL")
    mute, unmute = records[-2:]
    assert (mute["command"], unmute["command"]) == ("alarms mute", "alarms unmute")
    assert mute["outcome"] == "ok" and mute["arguments"]["reason"] == "audit e2e"
    assert mute["changed"][0].startswith("muted LambdaErrors until ")
    assert unmute["changed"] == ["unmuted LambdaErrors"]
    assert mute["caller"] and mute["caller"].startswith("arn:aws:")  # the emulator's
    assert audit.sent_seq("LOCAL") == unmute["seq"]

    logs = local_stack.client("logs")
    group = contract.audit_log_group("LOCAL")
    sent = [json.loads(e["message"]) for s in logs.describe_log_streams(
        logGroupName=group)["logStreams"] for e in logs.get_log_events(
        logGroupName=group, logStreamName=s["logStreamName"])["events"]]
    assert mute in sent and unmute in sent
    head = json.loads(local_stack.client("ssm").get_parameter(
        Name=contract.audit_head_parameter("LOCAL"))["Parameter"]["Value"])
    assert (head["seq"], head["hash"]) == (unmute["seq"], unmute["hash"])
    verified = cli("-o", "json", "audit", "verify")
    assert verified.exit_code == 0, verified.stdout
    assert json.loads(verified.stdout)["data"]["chains"][0]["head"] == "matches"
