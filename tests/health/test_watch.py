"""``health --watch``: a stream of reports under -o json (JSON Lines, the closing line
last), the people's rendering otherwise; Ctrl-C ends the watcher with 0, ``--count`` with
the last run's code. The pause between runs is injected: no test waits the interval."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from garmaxctl.commands import health as health_command
from tests.health.conftest import assert_envelope

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")


class Pauses:
    """Stands in for the pause between runs: records each interval, and runs ``then[i]``
    at the i-th pause (break the API, press Ctrl-C) instead of waiting."""

    def __init__(self, *then: Callable[[], None]) -> None:
        self.seen: list[float] = []
        self.then = list(then)

    def __call__(self, seconds: float) -> None:
        self.seen.append(seconds)
        if len(self.seen) <= len(self.then):
            self.then[len(self.seen) - 1]()


def ctrl_c() -> None:
    raise KeyboardInterrupt


def nothing() -> None:
    pass


def json_lines(stdout: str) -> list[dict]:
    """Every line of stdout is one JSON object (a stream is never one indented document)."""
    lines = stdout.splitlines()
    assert lines, "no output"
    return [json.loads(line) for line in lines]


def without_latency(data: dict) -> dict:
    """A report's data with the values that differ between two runs left out."""
    return {**data, "duration_ms": None,
            "checks": [{**c, "latency_ms": None} for c in data["checks"]]}


def test_json_watch_streams_one_report_per_run_then_the_closing_line(
        dev, cli, monkeypatch) -> None:
    pauses = Pauses()
    monkeypatch.setattr(health_command, "sleep", pauses)
    _, single = cli.json("--stage", "DEV", "health")
    result = cli("--stage", "DEV", "-o", "json", "health", "--watch", "30", "--count", "3")
    assert result.exit_code == 0, result.stdout
    events = json_lines(result.stdout)
    assert [e["event"] for e in events] == ["report", "report", "report", "end"]
    assert pauses.seen == [30, 30]  # between the runs, never after the last
    for event in events:
        assert event["schema"] == 1 and event["command"] == "health"
        assert event["stage"] == "DEV"
    for report in events[:-1]:  # exactly what `health -o json` prints in data
        assert without_latency(report["data"]) == without_latency(single["data"])
    end = events[-1]
    assert_envelope(end, exit_code=0, command="health")
    assert end["data"] == {"runs": 3, "last_status": "healthy", "stopped_by": "count"}


def test_json_watch_with_count_exits_as_its_last_run(dev, cli, monkeypatch) -> None:
    def break_api() -> None:
        dev.api.mode = "down"

    monkeypatch.setattr(health_command, "sleep", Pauses(nothing, break_api))
    result = cli("--stage", "DEV", "-o", "json", "health", "--watch", "5", "--count", "3")
    events = json_lines(result.stdout)
    assert [e["data"]["status"] for e in events[:-1]] == ["healthy", "healthy", "unhealthy"]
    end = events[-1]
    assert result.exit_code == 1 and end["event"] == "end"
    assert_envelope(end, exit_code=1, command="health")
    assert end["error"]["code"] == "unhealthy"
    assert end["data"]["last_status"] == "unhealthy"


def test_ctrl_c_ends_a_json_watch_with_0_and_a_closing_line(dev, cli, monkeypatch) -> None:
    def break_api() -> None:
        dev.api.mode = "down"

    # Unhealthy when stopped: the watcher still exits 0 (Ctrl-C is how it is stopped).
    monkeypatch.setattr(health_command, "sleep", Pauses(break_api, ctrl_c))
    result = cli("--stage", "DEV", "-o", "json", "health", "--watch", "5")
    events = json_lines(result.stdout)
    assert [e["event"] for e in events] == ["report", "report", "end"]
    assert events[1]["data"]["status"] == "unhealthy"
    assert result.exit_code == 0
    assert_envelope(events[-1], exit_code=0, command="health")
    assert events[-1]["data"] == {"runs": 2, "last_status": "unhealthy",
                                  "stopped_by": "ctrl-c"}
    assert "stopped (Ctrl-C)" in result.stderr


def test_ctrl_c_ends_a_watch_for_people_with_0(dev, cli, monkeypatch) -> None:
    monkeypatch.setattr(health_command, "sleep", Pauses(nothing, ctrl_c))
    result = cli("--stage", "DEV", "health", "--watch", "5")
    assert result.exit_code == 0
    assert result.stdout.count("DEV: healthy") == 2  # each run shown as it came
    assert "next run in 5 s (Ctrl-C to stop)" in result.stderr
    assert "{" not in result.stdout  # people get tables, not JSON


def test_count_ends_a_watch_for_people_as_its_last_run(dev, cli, monkeypatch) -> None:
    def break_api() -> None:
        dev.api.mode = "down"

    monkeypatch.setattr(health_command, "sleep", Pauses(break_api))
    result = cli("--stage", "DEV", "health", "--watch", "5", "--count", "2")
    assert result.exit_code == 1
    assert result.stdout.count("DEV: healthy") == 1
    assert result.stdout.count("DEV: unhealthy") == 1


def test_count_without_watch_and_a_non_positive_interval_are_usage_errors(dev, cli) -> None:
    result, document = cli.json("--stage", "DEV", "health", "--count", "2")
    assert result.exit_code == 2 and "--watch" in document["error"]["message"]
    result, document = cli.json("--stage", "DEV", "health", "--watch", "0")
    assert result.exit_code == 2 and document["error"]["code"] == "usage"
