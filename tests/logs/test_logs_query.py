"""``logs query`` and ``logs errors`` on a real stage: Logs Insights polled with back-off,
a query that completes late, times out (stopped) or fails; the scan limit; malformed
queries; presets and a project's own; the tables at 80 columns."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from garmaxctl.services.logs import presets
from garmaxctl.services.logs import query as insights
from garmaxctl.shared import contract
from garmaxctl.shared.errors import ExitCode, GarmaxError
from tests.cli.conftest import Run, assert_envelope, render_outcome
from tests.logs.insights_fake import FakeInsights

ACCOUNT = "123456789012"
DEV = "DEV"
GROUPS = [contract.function_log_group(f, DEV) for f in contract.Function]
START = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
END = dt.datetime(2026, 1, 5, 11, 0, tzinfo=dt.UTC)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeInsights]:
    """A DEV stage under ``mock_aws`` whose stack created the five function log groups;
    Logs Insights answered by a :class:`FakeInsights` with its own clock."""
    import boto3
    from moto import mock_aws

    from garmaxctl import aws

    fake = FakeInsights()
    wire = aws.log_the_wire
    monkeypatch.setattr(aws, "log_the_wire", lambda session: fake.install(wire(session)))
    monkeypatch.setattr(insights, "Poll", functools.partial(insights.Poll, clock=fake.clock,
                                                            sleep=fake.sleep))
    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", ACCOUNT)
    with mock_aws():
        template = {"Resources": {
            f"Logs{f}": {"Type": "AWS::Logs::LogGroup",
                         "Properties": {"LogGroupName": contract.function_log_group(f, DEV)}}
            for f in contract.Function}}
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName=contract.stack_name(DEV), TemplateBody=json.dumps(template))
        yield fake


@pytest.fixture
def cli(tmp_path: Path) -> Run:
    """The CLI run in an empty project directory (``tmp_path``: no .env)."""
    return Run(tmp_path)


def _target() -> Any:
    from garmaxctl.aws import AwsTarget
    from garmaxctl.shared.stages import get_stage_config
    from garmaxctl.stage.target import StageTarget

    return StageTarget(AwsTarget(stage=get_stage_config(DEV)))


def _run(fake: FakeInsights, *, timeout_s: float = 60.0, **kwargs: Any) -> Any:
    target = _target()
    groups = insights.groups_for(target, [])
    return insights.run_query(target, "fields @timestamp, @message", groups, START, END,
                              poll=insights.Poll(timeout_s=timeout_s), **kwargs)


# --------------------------------------------------------------------------- polling

def test_a_query_that_completes_late_is_polled_with_back_off(fake: FakeInsights) -> None:
    fake.statuses = ["Scheduled", "Running", "Running", "Complete"]
    fake.results = [{"@timestamp": "2026-01-05 10:12:00.000", "@message": "boom"}]
    seen: list[str] = []
    result = _run(fake, on_status=seen.append)
    assert fake.operations() == ["StartQuery"] + ["GetQueryResults"] * 4
    assert fake.sleeps == [0.5, 0.75, 1.125]  # back-off, never a fixed sleep
    assert seen == ["Scheduled", "Running", "Running", "Complete"]
    start = fake.request("StartQuery")
    assert start["logGroupNames"] == GROUPS
    assert (start["startTime"], start["endTime"]) == (int(START.timestamp()),
                                                       int(END.timestamp()))
    assert result.rows == [{"@timestamp": "2026-01-05 10:12:00.000", "@message": "boom"}]
    assert result.fields == ["@timestamp", "@message"]  # @ptr is not shown
    assert (result.records_scanned, result.records_matched) == (1000, 2)
    assert result.bytes_scanned == 3 * 1024 ** 3
    assert result.cost_usd == pytest.approx(0.015)  # 3 GB at $0.005/GB


def test_a_query_that_does_not_complete_in_time_is_stopped(fake: FakeInsights) -> None:
    fake.statuses = ["Running"]
    with pytest.raises(GarmaxError) as caught:
        _run(fake, timeout_s=4)
    error = caught.value
    assert (error.exit_code, error.code) == (ExitCode.FAILURE, "query_timeout")
    assert "did not complete within 4s" in error.message
    assert "stopped it (StopQuery)" in error.message
    assert fake.operations()[-1] == "StopQuery"
    assert fake.request("StopQuery") == {"queryId": "0f1e2d3c-query"}
    assert sum(fake.sleeps) == pytest.approx(4)  # never sleeps past the timeout


@pytest.mark.parametrize("final", ["Failed", "Cancelled", "Timeout"])
def test_a_query_that_fails_is_an_error(fake: FakeInsights, final: str) -> None:
    fake.statuses = ["Running", final]
    with pytest.raises(GarmaxError) as caught:
        _run(fake)
    assert (caught.value.exit_code, caught.value.code) == (ExitCode.FAILURE, "query_failed")
    assert caught.value.data["status"] == final
    assert "StopQuery" not in fake.operations()


def test_ctrl_c_while_waiting_stops_the_query(fake: FakeInsights) -> None:
    fake.statuses = ["Running"]
    fake.interrupt_after_sleeps = 2
    with pytest.raises(KeyboardInterrupt):
        _run(fake)
    assert fake.operations()[-1] == "StopQuery"


def test_a_malformed_query_is_a_usage_error_with_where(fake: FakeInsights) -> None:
    fake.malformed = ("unexpected symbol found parse", 23, 28)
    with pytest.raises(GarmaxError) as caught:
        _run(fake)
    assert (caught.value.exit_code, caught.value.code) == (ExitCode.USAGE, "malformed_query")
    assert "(characters 23-28): unexpected symbol found parse" in caught.value.message


def test_max_scan_gb_refuses_before_starting_the_query(fake: FakeInsights) -> None:
    import boto3

    logs = boto3.client("logs", region_name="us-east-1")
    for group in GROUPS[:2]:
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
            {"timestamp": int(dt.datetime.now(dt.UTC).timestamp() * 1000),
             "message": "x" * 600}])
    with pytest.raises(GarmaxError) as caught:
        _run(fake, max_scan_gb=1000 / 1024 ** 3)  # 1,000 bytes; the groups hold 1,200
    assert (caught.value.exit_code, caught.value.code) == (ExitCode.USAGE, "scan_limit")
    assert "not started" in caught.value.message
    assert "StartQuery" not in fake.operations()
    result = _run(fake, max_scan_gb=1300 / 1024 ** 3)
    assert result.stored_bytes == 1200


# --------------------------------------------------------------------------- the CLI

def test_query_preset_as_json(cli: Run, fake: FakeInsights) -> None:
    fake.results = [{"@timestamp": "2026-01-05 10:12:00.000",
                     "@log": f"{ACCOUNT}:{GROUPS[0]}", "@message": "boom"}]
    result, document = cli.json("--stage", "dev", "logs", "query", "--preset", "errors",
                                "api", "render")
    assert result.exit_code == 0, result.stderr
    assert_envelope(document, exit_code=0, command="logs query")
    data = document["data"]
    assert data["preset"] == "errors" and data["status"] == "Complete"
    assert data["rows"] == fake.results
    assert [g["label"] for g in data["groups"]] == ["api", "render"]
    assert data["bytes_scanned"] == 3 * 1024 ** 3 and data["cost_usd"] == pytest.approx(0.015)
    start = fake.request("StartQuery")
    assert start["queryString"] == presets.built_in()["errors"].query
    assert start["logGroupNames"] == [GROUPS[0], GROUPS[3]]
    assert start["endTime"] - start["startTime"] == 3600  # the preset's since: 1h


def test_query_timeout_exits_1_and_says_so(cli: Run, fake: FakeInsights) -> None:
    fake.statuses = ["Running"]
    result = cli("--stage", "dev", "logs", "query", "--query", "fields @message",
                 "--timeout", "2s")
    assert result.exit_code == 1
    assert "did not complete within 2s" in result.stderr
    assert "StopQuery" in result.stderr
    assert fake.operations()[-1] == "StopQuery"


def test_query_needs_exactly_one_of_preset_and_query(cli: Run, fake: FakeInsights) -> None:
    for args in ([], ["--preset", "errors", "--query", "fields @message"]):
        result = cli("--stage", "dev", "logs", "query", *args)
        assert result.exit_code == 2, result.stderr
    result = cli("--stage", "dev", "logs", "query", "--preset", "nope")
    assert result.exit_code == 2 and "--list" in result.stderr
    assert fake.requests == []


def test_a_project_file_adds_and_overrides_presets(cli: Run, fake: FakeInsights,
                                                   tmp_path: Path) -> None:
    (tmp_path / presets.PROJECT_FILE).write_text(
        '[errors]\ndescription = "Ours"\nquery = "fields @message | limit 5"\n\n'
        '[timeouts]\ndescription = "Timeouts"\nsince = "1d"\nfunctions = ["tryon"]\n'
        'query = "filter @message like /Task timed out/"\n')
    result, document = cli.json("logs", "query", "--list")
    assert result.exit_code == 0
    found = {p["name"]: p for p in document["data"]["presets"]}
    assert found["errors"]["query"] == "fields @message | limit 5"
    assert found["errors"]["source"].endswith(presets.PROJECT_FILE)
    assert found["slowest"]["source"] == "built-in"  # the rest stay
    result = cli("--stage", "dev", "logs", "query", "--preset", "timeouts")
    assert result.exit_code == 0, result.stderr
    start = fake.request("StartQuery")
    assert start["queryString"] == "filter @message like /Task timed out/"
    assert start["logGroupNames"] == [GROUPS[2]]
    assert start["endTime"] - start["startTime"] == 86400


def test_a_bad_project_file_is_a_config_error(cli: Run, tmp_path: Path) -> None:
    (tmp_path / presets.PROJECT_FILE).write_text('[mine]\nquerry = "fields @message"\n')
    result = cli("logs", "query", "--list")
    assert result.exit_code == 2
    assert "unknown keys: querry" in result.stderr


def test_errors_counts_per_function_and_bin(cli: Run, fake: FakeInsights) -> None:
    api, render = (f"{ACCOUNT}:{GROUPS[0]}", f"{ACCOUNT}:{GROUPS[3]}")
    fake.results = [
        {"bin(15m)": "2026-01-05 10:00:00.000", "@log": api, "errors": "2"},
        {"bin(15m)": "2026-01-05 10:15:00.000", "@log": api, "errors": "1"},
        {"bin(15m)": "2026-01-05 10:15:00.000", "@log": render, "errors": "4"}]
    result, document = cli.json("--stage", "dev", "logs", "errors", "--by", "15m")
    assert result.exit_code == 0, result.stderr
    assert "bin(15m)" in fake.request("StartQuery")["queryString"]
    data = document["data"]
    assert data["functions"] == ["api", "webhook", "tryon", "render", "billing"]
    assert [(b["start"], b["total"]) for b in data["bins"]] == [
        ("2026-01-05T10:00:00Z", 2), ("2026-01-05T10:15:00Z", 5)]
    assert data["bins"][1]["counts"] == {"api": 1, "webhook": 0, "tryon": 0, "render": 4,
                                         "billing": 0}
    assert data["totals"]["render"] == 4 and data["total"] == 7
    assert data["peak"]["start"] == "2026-01-05T10:15:00Z"
    table = cli("--stage", "dev", "logs", "errors", "--by", "15m").stdout
    assert "2026-01-05 10:15" in table and "peak: 2026-01-05 10:15 UTC, 5 errors" in table


def test_errors_rejects_a_bad_bin(cli: Run, fake: FakeInsights) -> None:
    result = cli("--stage", "dev", "logs", "errors", "--by", "5 minutes")
    assert result.exit_code == 2
    assert fake.requests == []


# --------------------------------------------------------------------------- 80 columns

def _render(outcome: Any) -> str:
    text = render_outcome(outcome)
    words = {w for t in outcome.tables for row in t.rows for c in row for w in str(c).split()}
    words |= {w for t in outcome.tables for w in " ".join(t.columns).split()}
    assert not [w for w in words if w not in text.split()], text
    return text


def test_tables_read_at_80_columns(fake: FakeInsights) -> None:
    from garmaxctl.commands.logs_query import errors_outcome, list_outcome, query_outcome

    stream = "2026/01/05/[$LATEST]0123456789abcdef0123456789abcdef"
    message = json.dumps({"level": "ERROR", "location": "lambda_handler:47",
                          "message": "unhandled error", "function_request_id": "a" * 36},
                         separators=(",", ":"))
    fake.results = [{"@timestamp": "2026-01-05 10:12:00.000", "@log": f"{ACCOUNT}:{g}",
                     "@logStream": stream, "@requestId": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
                     "@message": message} for g in GROUPS]
    text = _render(query_outcome(_run(fake)))
    assert "#1 @message: " + message in text.replace("\n", "")
    fake.requests.clear()
    fake.results = [{"bin(5m)": "2026-01-05 10:15:00.000", "@log": f"{ACCOUNT}:{g}",
                     "errors": "12345"} for g in GROUPS]
    report = insights.errors(_target(), [], START, END, by="5m",
                             preset=presets.built_in()[presets.ERRORS_PRESET],
                             poll=insights.Poll())
    _render(errors_outcome(report))
    _render(list_outcome(presets.built_in()))
