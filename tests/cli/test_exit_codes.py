"""Every row of the exit-code table (docs/exit-codes.md), in table and JSON mode.

Real paths where issue 2's commands reach them (unknown stage, invalid .env, emulator
not running, credentials, account); for the rest, a scaffold command raises the genuine
exception (a botocore ClientError, Click's Abort, KeyboardInterrupt) so that app.py's one
mapping is what is tested.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from garmaxctl.app import app
from garmaxctl.shared.errors import EXIT_CODE_TABLE, ChangesFound
from tests.cli.conftest import assert_envelope

REPO = Path(__file__).resolve().parents[2]


def _client_error(code: str, message: str = "nope") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "GetParametersByPath")


RAISERS: dict[str, BaseException] = {
    "access-denied": _client_error("AccessDeniedException", "User is not authorized"),
    "throttled": _client_error("ThrottlingException", "Rate exceeded"),
    "expired": _client_error("ExpiredTokenException", "The security token has expired"),
    "no-credentials": NoCredentialsError(),
    "endpoint": EndpointConnectionError(endpoint_url="https://ssm.us-east-1.amazonaws.com/"),
    "changes": ChangesFound("3 parameters would change"),
    "ctrl-c": KeyboardInterrupt(),
    "abort": typer.Abort(),
    "unexpected": RuntimeError("kaboom\nsecond line"),
}


@pytest.fixture
def raising_command() -> Iterator[None]:
    """A scaffold command `raise-for-test KIND` that raises a genuine exception."""

    def raise_for_test(kind: str) -> None:
        raise RAISERS[kind]

    app.command("raise-for-test", hidden=True)(raise_for_test)
    yield
    app.registered_commands[:] = [c for c in app.registered_commands
                                  if c.name != "raise-for-test"]


def _one_line_error(result, exit_code: int) -> str:
    assert result.exit_code == exit_code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    return lines[0]


def _json_error(result, exit_code: int, command: str) -> dict:
    assert result.exit_code == exit_code
    assert "Traceback" not in result.stderr + result.stdout
    document = json.loads(result.stdout)
    assert_envelope(document, exit_code=exit_code, command=command)
    return document["error"]


@pytest.mark.parametrize(("kind", "exit_code", "code", "words"), [
    ("access-denied", 1, "access_denied", "--profile"),
    ("throttled", 1, "throttled", "run the command again"),
    ("expired", 1, "expired_credentials", "aws sso login"),
    ("no-credentials", 1, "no_credentials", "aws sso login"),
    ("endpoint", 1, "endpoint_unreachable", "check the network"),
    ("changes", 3, "changes", "would change"),
    ("unexpected", 1, "internal_error", "--verbose"),
])
def test_exception_maps_to_exit_code(cli, raising_command, kind, exit_code, code, words) -> None:
    table = cli("-s", "dev", "raise-for-test", kind)
    line = _one_line_error(table, exit_code)
    assert words in line
    document = cli("-s", "dev", "-o", "json", "raise-for-test", kind)
    error = _json_error(document, exit_code, "raise-for-test")
    assert error["code"] == code
    assert words in error["message"]


@pytest.mark.parametrize("kind", ["ctrl-c", "abort"])
def test_interrupt_exits_130(cli, raising_command, kind) -> None:
    result = cli("raise-for-test", kind)
    assert result.exit_code == 130
    assert "Traceback" not in result.stderr
    document = cli("-o", "json", "raise-for-test", kind)
    assert _json_error(document, 130, "raise-for-test")["code"] == "interrupted"


def test_endpoint_error_on_local_says_start_the_emulator(cli, raising_command) -> None:
    line = _one_line_error(cli("raise-for-test", "endpoint"), 1)
    assert "garmaxctl local up" in line


def test_unknown_stage_exits_2(cli) -> None:
    line = _one_line_error(cli("-s", "staging", "doctor"), 2)
    assert "unknown stage 'staging'" in line and "LOCAL, DEV, QA, PROD" in line
    error = _json_error(cli("doctor", "-s", "staging", "-o", "json"), 2, "doctor")
    assert error["code"] == "unknown_stage"


def test_unknown_option_exits_2(cli) -> None:
    line = _one_line_error(cli("doctor", "--frobnicate"), 2)
    assert "--frobnicate" in line
    error = _json_error(cli("-o", "json", "doctor", "--frobnicate"), 2, "doctor")
    assert error["code"] == "usage"


def test_invalid_env_exits_2(cli, write_env) -> None:
    write_env("ALERT_EMAIL=not-an-email\nMAX_RENDERS_PER_USER_DAILY=lots\n")
    table = cli("config", "validate")
    assert table.exit_code == 2
    assert "ALERT_EMAIL" in table.stdout and "MAX_RENDERS_PER_USER_DAILY" in table.stdout
    error = _json_error(cli("-o", "json", "config", "validate"), 2, "config validate")
    assert error["code"] == "invalid_config"


def test_emulator_not_running_exits_1(cli, monkeypatch) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))
    line = _one_line_error(cli("local", "reset"), 1)
    assert "not running" in line and "garmaxctl local up --detach" in line
    error = _json_error(cli("-o", "json", "local", "reset"), 1, "local reset")
    assert error["code"] == "emulator_not_running"


def test_account_mismatch_fails_doctor(cli) -> None:
    from moto import mock_aws

    with mock_aws():  # moto's account is 123456789012; DEV's is 111111111111
        result, document = cli.json("-s", "dev", "doctor")
    assert result.exit_code == 1
    row = next(c for c in document["data"]["checks"] if c["name"] == "credentials")
    assert row["status"] == "fail"
    assert "111111111111" in row["detail"] and "123456789012" in row["detail"]


def test_account_override_accepts_the_callers_account(cli, monkeypatch) -> None:
    from moto import mock_aws

    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", "123456789012")
    with mock_aws():
        _, document = cli.json("-s", "dev", "doctor")
    row = next(c for c in document["data"]["checks"] if c["name"] == "credentials")
    assert row["status"] == "ok"


def test_missing_credentials_fail_doctor_on_real_stage(cli, monkeypatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    # Point the metadata service at nothing so the chain ends fast.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result, document = cli.json("-s", "qa", "doctor")
    assert result.exit_code == 1
    row = next(c for c in document["data"]["checks"] if c["name"] == "credentials")
    assert row["status"] == "fail" and "no AWS credentials" in row["detail"]


def test_success_exits_0(cli, write_env) -> None:
    write_env("ALERT_EMAIL=ops@example.com\n")
    result, document = cli.json("config", "validate")
    assert result.exit_code == 0
    assert_envelope(document, exit_code=0, command="config validate")


def test_exit_code_doc_matches_code() -> None:
    text = (REPO / "docs" / "exit-codes.md").read_text()
    rows = dict(re.findall(r"^\|\s*(\d+)\s*\|\s*(.+?)\s*\|\s*$", text, re.M))
    assert {int(k) for k in rows} == {code for code, _ in EXIT_CODE_TABLE}
    for code, meaning in EXIT_CODE_TABLE:
        assert rows[str(code)] == meaning
