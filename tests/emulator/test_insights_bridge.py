"""LOCAL's Logs Insights bridge: the presets' subset of the query language runs over the
events moto stores (moto alone ignores filter/stats/bin), with statistics computed from
what was scanned, and MalformedQueryException in AWS's shape for the rest."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from botocore.exceptions import ClientError

from garmaxctl.services.logs import presets

API = "/aws/lambda/GarmaxAi-Api-LOCAL"
RENDER = "/aws/lambda/GarmaxAi-AiRenderProcessor-LOCAL"
STREAM = "2025/06/15/[$LATEST]0123456789abcdef0123456789abcdef"
# A 5-minute boundary (epoch ms) an hour ago: CloudWatch Logs (and moto) refuse events
# older than 14 days.
T0 = (int(time.time()) - 3600) * 1000 // 300_000 * 300_000


def _powertools(level: str, message: str, **extra: object) -> str:
    return json.dumps({"level": level, "location": "handler:1", "message": message,
                       "service": "garmaxai", "cold_start": False, **extra},
                      separators=(",", ":"))


def _report(request: str, duration: float, init: float | None = None) -> str:
    line = (f"REPORT RequestId: {request}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {int(duration) + 1} ms\tMemory Size: 512 MB\t")
    return line + (f"Init Duration: {init:.2f} ms\t" if init is not None else "")


@pytest.fixture
def logs(emu):
    client = emu.client("logs")
    events = {
        API: [
            (T0 + 1_000, "START RequestId: r1 Version: $LATEST"),
            (T0 + 1_100, _powertools("INFO", "request refused", code="not_found")),
            (T0 + 1_200, _powertools("ERROR", "unhandled error", code="boom")),
            (T0 + 1_300, "END RequestId: r1"),
            (T0 + 1_300, _report("r1", 300.0, init=812.5)),
            (T0 + 301_000, "[ERROR] RuntimeError: boom\nTraceback (most recent call last):"),
            (T0 + 301_500, _report("r2", 40.0)),
        ],
        RENDER: [
            (T0 + 2_000, _powertools("INFO", "render message processed")),
            (T0 + 2_500, _report("r3", 1500.0)),
            (T0 + 305_000, _powertools("ERROR", "render could not be marked failed")),
            (T0 + 305_100, "2025-06-15T12:00:00Z r4 Task timed out after 3.00 seconds"),
            (T0 + 305_200, _report("r4", 3000.0, init=400.0)),
            (T0 - 600_000, _powertools("ERROR", "before the range")),
        ],
    }
    for group, items in events.items():
        client.create_log_group(logGroupName=group)
        client.create_log_stream(logGroupName=group, logStreamName=STREAM)
        client.put_log_events(logGroupName=group, logStreamName=STREAM,
                              logEvents=[{"timestamp": t, "message": m}
                                         for t, m in sorted(items, key=lambda e: e[0])])
    client.sizes = {group: [len(m.encode()) for t, m in items if t >= T0]
                    for group, items in events.items()}
    return client


def _query(logs, query: str, groups=(API, RENDER)) -> dict:
    query_id = logs.start_query(logGroupNames=list(groups), startTime=T0 // 1000,
                                endTime=(T0 + 3_600_000) // 1000,
                                queryString=query)["queryId"]
    deadline = time.monotonic() + 10
    while True:
        answer = logs.get_query_results(queryId=query_id)
        if answer["status"] == "Complete" or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def _when(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}"


def _rows(answer: dict) -> list[dict[str, str]]:
    return [{c["field"]: c["value"] for c in row} for row in answer["results"]]


def _preset(name: str, bin: str | None = None) -> str:
    return presets.built_in()[name].query_text(bin)


def test_errors_preset_filters_and_counts_what_it_scanned(logs) -> None:
    answer = _query(logs, _preset("errors"))
    rows = _rows(answer)
    assert [r["@message"] for r in rows] == [  # newest first; only the errors in range
        "2025-06-15T12:00:00Z r4 Task timed out after 3.00 seconds",
        _powertools("ERROR", "render could not be marked failed"),
        "[ERROR] RuntimeError: boom\nTraceback (most recent call last):",
        _powertools("ERROR", "unhandled error", code="boom")]
    assert rows[-1]["@log"] == f"123456789012:{API}"
    assert rows[-1]["@timestamp"] == _when(T0 + 1_200)  # Insights' format, milliseconds
    stats = answer["statistics"]
    scanned = sum(len(v) for v in logs.sizes.values())
    assert stats["recordsScanned"] == scanned == 12  # the 13th event is outside the range
    assert stats["recordsMatched"] == 4
    assert stats["bytesScanned"] == sum(sum(v) for v in logs.sizes.values())


def test_errors_by_function_counts_per_bin_and_group(logs) -> None:
    rows = _rows(_query(logs, _preset("errors-by-function", "5m")))
    counts = {(r["bin(5m)"], r["@log"].split(":", 1)[1]): r["errors"] for r in rows}
    first, second = _when(T0), _when(T0 + 300_000)
    assert counts == {(first, API): "1", (second, API): "1", (second, RENDER): "2"}


def test_report_lines_give_duration_fields_and_cold_starts(logs) -> None:
    slowest = _rows(_query(logs, _preset("slowest")))
    assert [r["@duration"] for r in slowest] == ["3000", "1500", "300", "40"]
    assert set(slowest[0]) == {"@timestamp", "@log", "@requestId", "@duration", "@ptr"}
    assert slowest[0]["@requestId"] == "r4"
    cold = {r["@log"].split(":", 1)[1]: r for r in _rows(_query(logs, _preset("cold-starts")))}
    assert cold[API]["cold_starts"] == "1" and cold[API]["max_init_ms"] == "812.5"
    assert cold[RENDER]["avg_init_ms"] == "400"
    perf = _rows(_query(logs, _preset("render-performance"), groups=(RENDER,)))
    assert [(r["invocations"], r["avg_ms"], r["p95_ms"], r["max_ms"]) for r in perf] == [
        ("1", "1500", "1500", "1500"), ("1", "3000", "3000", "3000")]


def test_every_built_in_preset_runs_on_local(logs) -> None:
    for preset in presets.built_in().values():
        assert _query(logs, preset.query_text("5m"))["status"] == "Complete", preset.name


@pytest.mark.parametrize(("query", "where"), [
    ("fields @message | parse @message '* *' as a, b", "parse"),
    ("fields @message | dedup @logStream", "dedup"),
    ("filter strlen(@message) > 3", "strlen"),
    ("stats count_distinct(@logStream)", "count_distinct"),
    ("filter @message like /unterminated", "/unterminated"),
    ("fields @message |", "|"),
])
def test_outside_the_subset_is_a_malformed_query(logs, query: str, where: str) -> None:
    with pytest.raises(ClientError) as caught:
        _query(logs, query)
    response = caught.value.response
    assert response["Error"]["Code"] == "MalformedQueryException"
    location = response["queryCompileError"]["location"]
    assert query[location["startCharOffset"]:location["endCharOffset"]].startswith(
        where[:location["endCharOffset"] - location["startCharOffset"]])


def test_stop_query_answers_instead_of_a_500(logs) -> None:
    query_id = logs.start_query(logGroupName=API, startTime=T0 // 1000,
                                endTime=(T0 + 60_000) // 1000,
                                queryString="fields @message")["queryId"]
    assert logs.stop_query(queryId=query_id)["success"] is False  # already complete
    with pytest.raises(ClientError) as caught:
        logs.stop_query(queryId="no-such-query")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
