"""The stage layer's time ranges: ``--since`` or ``--from``/``--until`` (every command that
takes a range reads it through ``stage.timerange.parse_range``)."""

from __future__ import annotations

import datetime as dt

import pytest

from garmaxctl.shared.errors import ExitCode, UsageError
from garmaxctl.stage.timerange import parse_range

NOW = dt.datetime(2025, 6, 15, 12, 0, tzinfo=dt.UTC)


def test_since_is_a_range_ending_now() -> None:
    assert parse_range(since="15m", now=NOW) == (NOW - dt.timedelta(minutes=15), NOW)
    assert parse_range(since="1h", now=NOW) == (NOW - dt.timedelta(hours=1), NOW)
    assert parse_range(since="7d", now=NOW) == (NOW - dt.timedelta(days=7), NOW)
    assert parse_range(default_since="30d", now=NOW) == (NOW - dt.timedelta(days=30), NOW)


def test_from_until_reads_iso_and_until_defaults_to_now() -> None:
    start, end = parse_range(from_="2025-06-01", until="2025-06-10T06:00:00+02:00", now=NOW)
    assert start == dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
    assert end == dt.datetime(2025, 6, 10, 4, tzinfo=dt.UTC)
    assert parse_range(from_="1h", now=NOW) == (NOW - dt.timedelta(hours=1), NOW)


@pytest.mark.parametrize("kwargs", [
    {"from_": "2025-06-10", "until": "2025-06-01"},  # --from after --until
    {"from_": "2025-06-10", "until": "2025-06-10"},  # an empty range
    {"since": "1d", "from_": "2025-06-01"},
    {"until": "2025-06-01"},
    {"from_": "2999-01-01"},
])
def test_bad_ranges_are_usage_errors(kwargs: dict) -> None:
    with pytest.raises(UsageError) as caught:
        parse_range(now=NOW, **kwargs)
    assert caught.value.exit_code == ExitCode.USAGE
    assert caught.value.code == "bad_time"


def test_durations_read_with_the_same_units() -> None:
    from garmaxctl.stage.timerange import parse_duration

    assert parse_duration("90s") == dt.timedelta(seconds=90)
    assert parse_duration("2h") == dt.timedelta(hours=2)
    assert parse_duration("15d") == dt.timedelta(days=15)
    assert parse_duration("1w") == dt.timedelta(weeks=1)
    for bad in ("0m", "2h ago", "soon", "2025-01-01"):
        with pytest.raises(UsageError) as error:
            parse_duration(bad, option="--for")
        assert error.value.code == "bad_time" and error.value.exit_code == ExitCode.USAGE
