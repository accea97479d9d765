"""``logs query`` and ``logs errors`` on the deployed LOCAL stack (``local_stack``): after
requests to the local API, Logs Insights — run by the emulator's bridge over what the
platform logged — finds the Api function's error and its REPORT lines."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

from garmaxctl.shared import contract
from tests.cli.conftest import Run
from tests.conftest import api_request, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def cli(local_stack, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Run:
    local_stack.use(monkeypatch)
    return Run(tmp_path)


def _unhandled_error(api_url: str, user: str) -> int:
    """A body nested deeper than Python's recursion limit: ``json.loads`` raises
    RecursionError (not a ValueError), which the Api handler's catch-all logs at ERROR
    ("unhandled error") and answers with 500. (A platform bug worth a 400 some day; then
    this test needs another real error.)"""
    body = ("[" * 5000 + "]" * 5000).encode()
    request = urllib.request.Request(f"{api_url}/api/tryon/sessions", data=body,
                                     method="POST",
                                     headers={"Content-Type": "application/json",
                                              contract.DEV_USER_HEADER: user})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_logs_query_and_errors_see_what_the_platform_logged(local_stack, cli: Run) -> None:
    user = f"user-{uuid.uuid4().hex[:8]}"
    assert api_request(f"{local_stack.api_url}/api/health")[0] == 200
    assert _unhandled_error(local_stack.api_url, user) == 500

    def errors_row() -> dict | None:
        result = cli("-o", "json", "logs", "query", "--preset", "errors", "--since", "15m")
        assert result.exit_code == 0, result.stderr
        data = json.loads(result.stdout)["data"]
        rows = [r for r in data["rows"] if '"unhandled error"' in r["@message"]]
        return {"row": rows[0], "data": data} if rows else None

    found = wait_for(errors_row, timeout=30)
    row, data = found["row"], found["data"]
    assert json.loads(row["@message"])["level"] == "ERROR"
    assert row["@log"].endswith(contract.function_log_group(contract.Function.API, "LOCAL"))
    assert data["records_scanned"] > data["records_matched"] >= 1  # filtered on LOCAL too
    assert data["bytes_scanned"] > 0

    result = cli("-o", "json", "logs", "errors", "--since", "15m", "--by", "1m")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)["data"]
    assert report["totals"]["api"] >= 1
    assert report["peak"] is not None

    result = cli("-o", "json", "logs", "query", "--preset", "slowest", "api", "--since", "15m")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["data"]["rows"]
    durations = [float(r["@duration"]) for r in rows]
    assert len(durations) >= 2 and durations == sorted(durations, reverse=True)

    table = cli("logs", "errors", "--since", "15m")
    assert table.exit_code == 0
    assert "LOCAL: run by the emulator's Logs Insights bridge" in table.stdout


def test_a_query_outside_the_local_subset_is_refused_with_exit_2(cli: Run) -> None:
    result = cli("-o", "json", "logs", "query", "--query",
                 "fields @message | parse @message '* *' as a, b", "api")
    assert result.exit_code == 2, result.stdout
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "malformed_query"
    assert "parse" in error["message"] and "LOCAL" in error["message"]
