"""Idle keeps its own switch (``ActionsEnabled``, snapshotted and restored); an operator's
mute rule is a different one. ``idle down`` + ``idle up`` leave mute rules untouched and
put every ``ActionsEnabled`` back exactly; ``alarms list`` tells the two apart."""

from __future__ import annotations

from garmaxctl.shared import contract
from tests.alarms.conftest import AwsCloudWatchExtras
from tests.cli.conftest import Run
from tests.idle import builder
from tests.idle.conftest import quiet_moto


def _actions(document: dict) -> dict[str, str]:
    return {a["short_name"]: a["actions"]["text"] for a in document["data"]["alarms"]}


def test_idle_down_and_up_restore_mutes_exactly(extras: AwsCloudWatchExtras, cli: Run) -> None:
    quiet_moto()
    builder.build(builder.default_spec("DEV"))
    result = cli("-s", "dev", "alarms", "mute", "TryonDlqNotEmpty", "--for", "4h",
                 "--reason", "replaying the DLQ")
    assert result.exit_code == 0, result.stdout + result.stderr
    rules_before = {name: dict(rule) for name, rule in extras.rules.items()}
    _, document = cli.json("-s", "dev", "alarms", "list")
    before = _actions(document)
    assert before["ApiErrorRate"] == "on" and before["LambdaDuration"] == "off"
    assert before["TryonDlqNotEmpty"].startswith("muted until ")
    assert before["IdleActivity"] == "off"  # enabled by idle down only

    result = cli("-s", "dev", "idle", "down")
    assert result.exit_code == 0, result.stdout + result.stderr

    _, document = cli.json("-s", "dev", "alarms", "list")
    idle = _actions(document)
    assert idle["ApiErrorRate"] == "muted (idle)"
    assert idle["TryonDlqNotEmpty"] == "muted (idle)"  # idle's switch shows first
    assert idle["LambdaDuration"] == "off"  # it was off before idle: not idle's doing
    assert idle["IdleActivity"] == "on"
    tryon = next(a for a in document["data"]["alarms"] if a["short_name"] == "TryonDlqNotEmpty")
    assert tryon["actions"]["mute_rules"] == [
        f"garmaxctl-mute-{contract.alarm_name('TryonDlqNotEmpty', 'DEV')}"]
    assert extras.rules == rules_before  # idle never touches mute rules

    result = cli("-s", "dev", "idle", "up")
    assert result.exit_code == 0, result.stdout + result.stderr

    _, document = cli.json("-s", "dev", "alarms", "list")
    assert _actions(document) == before
    assert extras.rules == rules_before
    assert [op for op in extras.operations() if op.endswith("AlarmMuteRule")] == [
        "PutAlarmMuteRule"]
