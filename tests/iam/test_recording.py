"""The call recorder itself: what a command's run appends, and that it is off unless set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Run, cli, project  # noqa: F401


@pytest.fixture
def dev_params(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", "123456789012")
    with mock_aws():
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name="/garmaxai/DEV/frontend/url", Value="https://example.com", Type="String")
        yield


def _lines(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_command_run_records_its_calls_by_name(cli: Run, dev_params: None,  # noqa: F811
                                                 tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    record = tmp_path / "calls.jsonl"
    monkeypatch.setenv("GARMAX_RECORD_CALLS", str(record))
    result = cli("--stage", "DEV", "params", "list")
    assert result.exit_code == 0, result.output
    calls = _lines(record)
    assert {"command": "params list", "service": "ssm", "prefix": "ssm",
            "operation": "GetParametersByPath"} in calls
    assert all(c["command"] == "params list" for c in calls)
    assert "example.com" not in record.read_text()  # names only, never a value


def test_nothing_is_recorded_unless_asked(cli: Run, dev_params: None,  # noqa: F811
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.delenv("GARMAX_RECORD_CALLS")
    monkeypatch.chdir(tmp_path)
    result = cli("--stage", "DEV", "params", "list")
    assert result.exit_code == 0, result.output
    assert list(tmp_path.iterdir()) == []
