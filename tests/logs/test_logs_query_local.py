"""``logs query`` and ``logs errors`` on the deployed LOCAL stack (``local_stack``): after
requests to the local API, Logs Insights — run by the emulator's bridge over what the
platform logged — finds an Api function's error line and its REPORT lines."""

from __future__ import annotations

import datetime as dt
import json
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


def _an_api_error(local_stack) -> None:
    """The line the Api function's catch-all writes on an unhandled error
    (runtime/handlers/api.py, Powertools JSON at ERROR), put into its log group in a
    Lambda-style stream as the function would: the platform answers every bad request
    a client can send with a 4xx, so no request makes this line on its own."""
    now = dt.datetime.now(dt.UTC)
    logs = local_stack.client("logs")
    group = contract.function_log_group(contract.Function.API, "LOCAL")
    stream = f"{now:%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    line = {"level": "ERROR", "location": "lambda_handler:47", "message": "unhandled error",
            "timestamp": now.isoformat(timespec="milliseconds"), "service": "garmaxai-api",
            "exception_name": "RuntimeError", "exception": "Traceback ..."}
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
        {"timestamp": int(now.timestamp() * 1000), "message": json.dumps(line)}])


def test_logs_query_and_errors_see_what_the_platform_logged(local_stack, cli: Run) -> None:
    for _ in range(2):  # two invocations: two REPORT lines for the slowest preset
        assert api_request(f"{local_stack.api_url}/api/health")[0] == 200
    _an_api_error(local_stack)

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
