"""The Logs Insights subset LOCAL runs (``local/bridges/insights_language.py``), in-process:
parsing edge cases and the semantics the presets rely on (no emulator needed)."""

from __future__ import annotations

import pytest

from garmaxctl.local.bridges.insights_language import MalformedQuery, parse, record, run

GROUP = "/aws/lambda/GarmaxAi-Api-LOCAL"


def _events(*messages: str, step_ms: int = 60_000) -> list[dict]:
    return [record(GROUP, "123456789012", "s", 1_000_000_000_000 + n * step_ms, m, 0, str(n))
            for n, m in enumerate(messages)]


def _rows(query: str, events: list[dict]) -> list[dict[str, str]]:
    outcome = run(parse(query), events)
    return [{c["field"]: c["value"] for c in row} for row in outcome.rows]


def test_a_pipe_inside_a_regex_does_not_end_the_command() -> None:
    rows = _rows("fields @message | filter @message like /alpha|gamma/",
                 _events("alpha", "beta", "gamma"))
    assert [r["@message"] for r in rows] == ["alpha", "gamma"]


def test_and_binds_tighter_than_or_and_not_negates() -> None:
    events = _events('{"a":1,"b":2,"c":9}', '{"a":0,"b":2,"c":3}', '{"a":0,"b":0,"c":3}')
    rows = _rows("fields @message | filter a = 1 or b = 2 and c = 3", events)
    assert len(rows) == 2  # a=1, or (b=2 and c=3)
    rows = _rows("fields @message | filter not (a = 1 or b = 2)", events)
    assert [r["@message"] for r in rows] == ['{"a":0,"b":0,"c":3}']


def test_numbers_compare_as_numbers_and_missing_fields_never_match() -> None:
    events = _events("REPORT RequestId: r1\tDuration: 3.00 ms\t", "no report here")
    assert _rows("fields @requestId | filter @duration > 20", events) == []
    assert [r["@requestId"] for r in _rows("fields @requestId | filter @duration < 20",
                                           events)] == ["r1"]
    assert _rows("fields @message | filter @duration != 5", events)[0]["@message"] \
        .startswith("REPORT")  # the line without @duration does not match != either


def test_stats_without_by_answers_one_row_even_over_nothing() -> None:
    rows = _rows('filter level = "ERROR" | stats count() as errors, max(@duration)',
                 _events("plain"))
    assert rows == [{"errors": "0"}]


def test_percentile_is_the_nearest_rank_and_bins_floor_time() -> None:
    events = _events(*(f"REPORT RequestId: r{n}\tDuration: {n}.00 ms\t"
                       for n in range(1, 11)), step_ms=60_000)
    (row,) = _rows("stats pct(@duration, 90) as p90, avg(@duration) as mean", events)
    assert row == {"p90": "9", "mean": "5.5"}
    rows = _rows("stats count() as n by bin(5m)", events)
    assert sum(int(r["n"]) for r in rows) == 10
    assert all(r["bin(5m)"][14:16] in {f"{m:02d}" for m in range(0, 60, 5)} for r in rows)


@pytest.mark.parametrize("query", [
    "fields @message | limit 0",
    "stats count() by bin(5mo)",
    "fields count()",
    "filter @message in ['a']",
    "stats count() | filter @message like /x/",
    "stats count() | stats count()",
    "",
])
def test_outside_the_subset_is_malformed(query: str) -> None:
    with pytest.raises(MalformedQuery):
        parse(query)
