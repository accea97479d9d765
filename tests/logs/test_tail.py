"""``logs tail`` without --follow, the stack's log groups, the transport choice and the
lines people read at 80 columns."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from garmaxctl.shared import contract
from tests.logs.conftest import powertools, put, stack_template

STAGE = "DEV"
API = contract.function_log_group(contract.Function.API, STAGE)
TRYON = contract.function_log_group(contract.Function.TRYON_PROCESSOR, STAGE)


def _ms(minutes_ago: float) -> int:
    return int((dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)).timestamp()
               * 1000)


def _target(stage: str = STAGE, endpoint: str | None = None):
    from garmaxctl.aws import AwsTarget
    from garmaxctl.shared.stages import get_stage_config
    from garmaxctl.stage.target import StageTarget

    return StageTarget(AwsTarget(stage=get_stage_config(stage), endpoint_url=endpoint))


# --------------------------------------------------------------------------- the groups

def test_log_groups_come_from_the_stacks_template(dev_logs) -> None:
    from garmaxctl.stage import log_groups

    groups = log_groups.stack_log_groups(_target())
    assert groups["api"] == API
    assert groups["access"] == contract.api_access_log_group(STAGE)
    assert set(groups) == {"api", "webhook", "tryon", "render", "billing", "access"}
    chosen = log_groups.function_log_groups(_target(), log_groups.parse_functions(
        ["TRYON", "api", "TryonProcessor"]))
    assert [(g.label, g.name) for g in chosen] == [("tryon", TRYON), ("api", API)]


def test_a_function_the_stack_lacks_is_named_with_the_stack(dev_logs) -> None:
    import boto3

    from garmaxctl.shared.errors import OutputMissingError
    from garmaxctl.stage import log_groups

    template = json.loads(stack_template(STAGE))
    del template["Resources"]["BillingProcessorLogGroup"]
    boto3.client("cloudformation", region_name="us-east-1").update_stack(
        StackName=contract.stack_name(STAGE), TemplateBody=json.dumps(template))
    with pytest.raises(OutputMissingError, match="GarmaxAi-BillingProcessor-DEV"):
        log_groups.function_log_groups(_target())


def test_unknown_function_and_level_are_usage_errors(dev_logs, cli) -> None:
    result, document = cli.json("-s", "dev", "logs", "tail", "api", "nosuch")
    assert result.exit_code == 2
    assert "nosuch" in document["error"]["message"]
    assert "api, webhook, tryon, render, billing" in document["error"]["message"]
    result, document = cli.json("-s", "dev", "logs", "tail", "--level", "LOUD")
    assert result.exit_code == 2 and "LOUD" in document["error"]["message"]
    result, document = cli.json("-s", "dev", "logs", "tail", "api", "--all")
    assert result.exit_code == 2


def test_no_stack_exits_1_naming_it(cli, monkeypatch) -> None:
    from moto import mock_aws

    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", "123456789012")
    with mock_aws():
        result, document = cli.json("-s", "dev", "logs", "tail")
    assert result.exit_code == 1
    assert "GarmaxAiStack-DEV" in document["error"]["message"]


# --------------------------------------------------------------------------- transport

def test_transport_follows_the_target_not_the_stage_name(dev_logs) -> None:
    from garmaxctl.services.logs import tail

    assert tail.choose_transport(_target(), 5)[0] == tail.LIVE_TAIL
    assert tail.choose_transport(_target(), 11)[0] == tail.POLLING
    # --endpoint-url on a real stage, and LOCAL (whose target always has an endpoint).
    assert tail.choose_transport(_target(endpoint="http://localhost:1"), 5)[0] == tail.POLLING
    local = _target("LOCAL")
    assert local.aws.endpoint_url
    assert tail.choose_transport(local, 5)[0] == tail.POLLING


# --------------------------------------------------------------------------- the window

UNHANDLED = ("[ERROR] KeyError: 'avatarKey'\nTraceback (most recent call last):\n"
             "  File \"/var/task/handler.py\", line 3, in handler\n")


def _fill(logs) -> None:
    put(logs, API, "2026/01/01/[$LATEST]a", [
        (_ms(9), "START RequestId: 11111111-2222-3333-4444-555555555555 Version: $LATEST"),
        (_ms(8), powertools("request accepted", correlation_id="corr-1")),
        (_ms(6), powertools("request refused: no such session", "WARNING")),
        (_ms(5.5), json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [
            {"Namespace": "GarmaxAi", "Dimensions": [["service"]],
             "Metrics": [{"Name": "Refused", "Unit": "Count"}]}]},
            "service": "garmaxai", "Refused": [1.0]})),
        (_ms(3), "REPORT RequestId: 11111111-2222-3333-4444-555555555555\tDuration: 12.00 "
                 "ms\tBilled Duration: 13 ms\tMemory Size: 512 MB\tMax Memory Used: 80 MB"),
    ])
    put(logs, TRYON, "2026/01/01/[$LATEST]b", [
        (_ms(7), powertools("render failed", "ERROR", correlation_id="corr-2")),
        (_ms(5), "[ERROR]\t2026-01-01T00:00:00.000Z\treq-9\tTraceback: boom"),
        (_ms(4), UNHANDLED),
        (_ms(30), powertools("too old for --since 10m")),
    ])


def test_window_interleaves_groups_by_time_as_one_json_document(dev_logs, cli) -> None:
    _fill(dev_logs)
    result, document = cli.json("-s", "dev", "logs", "tail", "api", "tryon")
    assert result.exit_code == 0, result.output
    events = document["data"]["events"]
    assert [(e["function"], e["level"], e["message"]) for e in events] == [
        ("api", "INFO", "request accepted"),
        ("tryon", "ERROR", "render failed"),
        ("api", "WARNING", "request refused: no such session"),
        ("tryon", "ERROR", "Traceback: boom"),
        ("tryon", "ERROR", UNHANDLED.removeprefix("[ERROR] ").rstrip("\n")),
    ]
    assert events[0]["correlation_id"] == "corr-1"
    assert events[0]["group"] == API and events[0]["event_id"]
    assert events[3]["request_id"] == "req-9" and events[3]["kind"] == "runtime"
    assert document["data"]["stats"]["events"] == 5
    # --raw: as stored, the platform's START/REPORT lines and the EMF metrics line too.
    _, document = cli.json("-s", "dev", "logs", "tail", "api", "--raw")
    messages = [e["message"] for e in document["data"]["events"]]
    assert messages[0].startswith("START RequestId:")
    assert messages[-1].startswith("REPORT RequestId:")
    assert [e["kind"] for e in document["data"]["events"]] == [
        "platform", "powertools", "powertools", "metrics", "platform"]


def test_level_filters_on_the_client_where_the_pattern_is_loose(dev_logs, cli, hooks) -> None:
    _fill(dev_logs)
    patterns: list[str] = []
    hooks.handlers["FilterLogEvents"] = lambda p: patterns.append(p.get("filterPattern"))
    result, document = cli.json("-s", "dev", "logs", "tail", "--level", "error")
    assert result.exit_code == 0
    # moto matches `?` patterns against everything; the client keeps ERROR and above.
    assert patterns and all(p == "?ERROR ?CRITICAL ?FATAL" for p in patterns)
    assert [e["message"][:15] for e in document["data"]["events"]] == [
        "render failed", "Traceback: boom", "KeyError: 'avat"]
    assert document["data"]["level"] == "ERROR"


def test_lines_read_at_80_columns(dev_logs, cli) -> None:
    long = ("the render provider answered 429 Too Many Requests for the third time, so "
            "the job goes back to the queue with a visibility timeout of ninety seconds")
    put(dev_logs, API, "s", [(_ms(2), powertools(long, "ERROR", correlation_id=
                                                 "8f14e45f-ceea-467f-a8f5-0b4c1a7b6a9e"))])
    result = cli("-s", "dev", "logs", "tail", "api", env={"COLUMNS": "80"})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert re.match(r"^\d\d:\d\d:\d\d api     ERROR the render provider", lines[0])
    assert all(len(line) <= 80 for line in lines)
    assert len(lines) > 2 and all(line.startswith(" " * 22) for line in lines[1:])
    words = " ".join(line.strip() for line in lines).split()
    # Every word of the message is whole (wrapped on word boundaries only), id included.
    for word in [*long.split(), "8f14e45f-ceea-467f-a8f5-0b4c1a7b6a9e)"]:
        assert word in words
    assert "1 lines from api" in result.stderr
