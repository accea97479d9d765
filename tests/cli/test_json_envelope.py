"""`-o json` output of every command parses as one document with the envelope's keys."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import assert_envelope
from tests.conftest import free_port

# (argv, command name in the envelope, exit code without an emulator or .env)
COMMANDS = [
    (["doctor"], "doctor", 1),
    (["config", "show"], "config show", 0),
    (["config", "validate"], "config validate", 2),
    (["local", "status"], "local status", 1),
    (["local", "logs"], "local logs", 0),
    (["local", "down"], "local down", 0),
    (["local", "reset"], "local reset", 1),
]


@pytest.mark.parametrize(("argv", "command", "exit_code"), COMMANDS)
def test_every_command_prints_one_json_document(cli, monkeypatch, argv, command,
                                                exit_code) -> None:
    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))
    result = cli("-o", "json", *argv)
    assert result.exit_code == exit_code, result.stderr
    document = json.loads(result.stdout)  # exactly one document: json.loads rejects extra data
    assert_envelope(document, exit_code=exit_code, command=command)
    assert document["stage"] == "LOCAL"


def test_unhealthy_doctor_is_ok_false_with_its_data(cli, monkeypatch) -> None:
    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))
    result, document = cli.json("doctor")
    assert result.exit_code == 1 and document["ok"] is False
    names = [c["name"] for c in document["data"]["checks"]]
    assert {"python", "node", "npm", "cdk cli", "emulator", ".env"} <= set(names)
    emulator = next(c for c in document["data"]["checks"] if c["name"] == "emulator")
    assert emulator["status"] == "fail" and "local up" in emulator["fix"]
