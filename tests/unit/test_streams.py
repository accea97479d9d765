"""The stream primitive every follower uses: JSON Lines under -o json, Ctrl-C ends with 0."""

from __future__ import annotations

import json

import pytest

from garmaxctl import cli, output, redact
from garmaxctl.shared.errors import UnhealthyError


@pytest.fixture(autouse=True)
def json_mode():
    output.reset()
    output.configure(mode="json", command="logs tail", stage="LOCAL")
    yield
    output.reset()


def lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_stream_is_one_object_per_line_then_the_closing_document(capsys) -> None:
    output.begin_stream()
    output.stream_event("log", {"message": "one"})
    output.stream_event("log", {"message": 'two "quoted"\nline'})
    output.emit(output.Outcome(data={"events": 2}), exit_code=0)
    events = lines(capsys)
    assert [e["event"] for e in events] == ["log", "log", "end"]
    assert all(e["schema"] == output.SCHEMA_VERSION and e["command"] == "logs tail"
               and e["stage"] == "LOCAL" for e in events)
    assert events[1]["data"]["message"] == 'two "quoted"\nline'
    assert events[-1]["ok"] is True and events[-1]["data"] == {"events": 2}


def test_an_error_after_a_stream_began_is_its_closing_line(capsys) -> None:
    output.begin_stream()
    output.stream_event("report", {"status": "healthy"})
    output.emit_error("unhealthy", "degraded", 1)
    events = lines(capsys)
    assert events[-1]["event"] == "end" and events[-1]["exit_code"] == 1
    assert events[-1]["error"]["code"] == "unhealthy"


def test_without_a_stream_json_stays_one_indented_document(capsys) -> None:
    output.emit(output.Outcome(data={}), exit_code=0)
    text = capsys.readouterr().out
    assert text.count("\n") > 1 and "event" not in json.loads(text)


def test_stream_lines_are_redacted(capsys) -> None:
    canary = 'sk_live_CANARY"\\\n{"x":1}'
    redact.register(canary)
    try:
        output.begin_stream()
        output.stream_event("log", {"message": f"key={canary}"})
        assert "CANARY" not in capsys.readouterr().out
    finally:
        redact.forget_all()


def test_ctrl_c_inside_a_follower_ends_it_normally(capsys) -> None:
    reached = []
    with cli.until_ctrl_c():
        reached.append("started")
        raise KeyboardInterrupt
    reached.append("after")
    assert reached == ["started", "after"]
    assert "stopped (Ctrl-C)" in capsys.readouterr().err


def test_other_errors_pass_through_the_follower() -> None:
    with pytest.raises(UnhealthyError), cli.until_ctrl_c():
        raise UnhealthyError("x")
