"""With no emulator running, every command that needs it fails at once with the fix.

The tree is walked from the registry, so a new command is covered the day it is added;
the few that do not talk to the emulator are named here with why.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import pytest

from garmaxctl import registry
from tests.conftest import free_port
from tests.params.conftest import WALKER_EXPORT, WALKER_IDENTITY, WALKER_RECIPIENT

# Commands that do not need the emulator (and what they do instead).
NO_EMULATOR = {
    "synth": "synthesizes offline",
    "config show": "reads .env and the stage config",
    "config validate": "reads .env",
    "local up": "starts the emulator",
    "local down": "stops what local up started",
    "local logs": "reads the log file",
    "doctor": "reports the emulator as one of its checks (below); its tool checks run "
              "node, npm, cdk --version",
    "dr restore-db": "LOCAL has no database: refused (exit 2) before any AWS call",
    "dr drill": "LOCAL has no database: refused (exit 2) before any AWS call",
    "audit list": "reads the local audit files",
    "audit show": "reads the local audit files",
    "audit verify": "checks the local chains; the head in SSM is 'not checked' (below)",
}
ARGS = {
    "params get": ["FRONTEND_URL"],
    "params history": ["FRONTEND_URL"],
    "params rollback": ["FRONTEND_URL", "--to-version", "1"],
    "params restore": ["--as-of", "1h"],
    "params export": ["--out", str(Path(tempfile.gettempdir())
                                   / f"garmaxctl-never-written-{os.getpid()}.age"),
                      "--recipient", WALKER_RECIPIENT],
    "params import": [str(WALKER_EXPORT), "--identity", str(WALKER_IDENTITY)],
    "destroy": ["--yes"],
    "alarms show": ["LambdaErrors"],
    "alarms test": ["LambdaErrors"],
    "alarms mute": ["--all", "--for", "2h", "--reason", "maintenance"],
    "alarms unmute": ["--all"],
    "logs query": ["--preset", "errors"],
    "audit show": ["0123abcd"],
}
NEEDS_EMULATOR = [e.path for e in registry.commands()
                  if e.path not in NO_EMULATOR and not e.hidden]
LIMIT_S = 2.0


@pytest.mark.parametrize("path", NEEDS_EMULATOR)
def test_a_stopped_emulator_fails_fast_with_the_fix(cli, write_env, monkeypatch,
                                                    path: str) -> None:
    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))  # nothing listens there
    write_env("")  # LOCAL needs no external secret
    started = time.perf_counter()
    result = cli("-o", "json", *path.split(), *ARGS.get(path, []))
    elapsed = time.perf_counter() - started
    assert result.exit_code == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["error"]["code"] == "emulator_not_running", document["error"]
    assert "garmaxctl local up" in document["error"]["message"]
    assert "Traceback" not in result.stderr
    assert elapsed < LIMIT_S, f"{path} took {elapsed:.1f} s"


def test_doctor_reports_a_stopped_emulator_with_the_fix(cli, write_env, monkeypatch) -> None:
    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))
    write_env("")
    result = cli("-o", "json", "doctor")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    (row,) = [c for c in document["data"]["checks"] if c["name"] == "emulator"]
    assert row["status"] == "fail" and "garmaxctl local up" in row["fix"]


def test_audit_verify_checks_the_local_chain_without_the_emulator(cli, monkeypatch) -> None:
    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))
    started = time.perf_counter()
    result = cli("-o", "json", "audit", "verify")
    assert result.exit_code == 0, result.stdout
    assert time.perf_counter() - started < LIMIT_S
