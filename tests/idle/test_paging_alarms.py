"""Issue 11 item 8, second half: while idle the stage's paging alarms must not page.

Every ``GarmaxAI-*-{STAGE}`` alarm except the activity alarm has its ``ActionsEnabled``
recorded in the snapshot, set to false first in ``down`` (before the API is throttled and
answers 500s) and restored exactly, last in ``up``: an alarm whose actions were already
disabled before idle stays disabled."""

from __future__ import annotations

from garmaxctl.shared import contract
from tests.idle import builder

STAGE = "DEV"


def _actions() -> dict[str, bool]:
    return {alarm["AlarmName"]: alarm["ActionsEnabled"]
            for alarm in builder.client("cloudwatch").describe_alarms()["MetricAlarms"]}


def test_paging_alarms_are_paused_while_idle_and_restored_exactly(dev) -> None:
    dev.build()
    other = builder.default_spec("QA")  # another stage's alarms in the same account
    other.functions, other.rules, other.services, other.clusters = [], {}, [], {}
    builder.build(other)
    before = _actions()
    assert before["GarmaxAI-ApiErrorRate-DEV"] and before["GarmaxAI-TryonDlqNotEmpty-DEV"]
    assert before["GarmaxAI-LambdaDuration-DEV"] is False  # disabled before idle

    down = dev.engine().down()

    assert down.ok, down
    idle = _actions()
    assert idle["GarmaxAI-ApiErrorRate-DEV"] is False
    assert idle["GarmaxAI-TryonDlqNotEmpty-DEV"] is False
    assert idle["GarmaxAI-LambdaDuration-DEV"] is False
    assert idle[contract.alarm_name(contract.Alarm.ACTIVITY, STAGE)] is True
    assert {name: value for name, value in idle.items() if name.endswith("-QA")} == \
        {name: value for name, value in before.items() if name.endswith("-QA")}
    recorded = dev.snapshot()["resources"]["alarms"]
    assert recorded["GarmaxAI-ApiErrorRate-DEV"] == {"actions": True}
    assert recorded["GarmaxAI-LambdaDuration-DEV"] == {"actions": False}
    assert [s.group for s in down.steps if s.status == "done"][:2] == ["paging", "paging"]

    up = dev.engine().up()

    assert up.ok, up
    assert _actions() == before  # LambdaDuration stays disabled


def test_status_flags_a_paging_alarm_re_enabled_while_idle(dev) -> None:
    dev.build()
    dev.engine().down()
    name = contract.alarm_name(contract.Alarm.API_5XX, STAGE)
    builder.client("cloudwatch").enable_alarm_actions(AlarmNames=[name])
    status = dev.engine().status()
    (row,) = [r for r in status.resources if r.resource == name]
    assert row.drift and row.group == "paging" and "pages while the stage is idle" in row.note
    report = dev.engine().down()
    assert [s.key for s in report.steps if s.status == "done"] == [f"alarm:{name}"]
    assert _actions()[name] is False
