"""Issue 11, item 19: every command that changes a stage (``mutates`` in the registry)
refuses PROD without ``--yes`` when there is no terminal to ask — exit 2, and no AWS call
but reads before the refusal. The list comes from the registry, so a new mutating command
is covered the day it is registered."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from garmaxctl import registry
from garmaxctl.shared import contract
from tests.cli.test_golden_documents import FAKE_CDK, _script
from tests.params.conftest import VALUES, WALKER_EXPORT, WALKER_IDENTITY, env_text

READ_ONLY = ("Get", "Describe", "List")
ARGS: dict[str, list[str]] = {
    "params rollback": ["JWT_SECRET", "--to-version", "1"],
    "params restore": ["--as-of", "1h", "--prune"],
    "params import": [str(WALKER_EXPORT), "--identity", str(WALKER_IDENTITY),
                      "--from-stage", "LOCAL"],
    "smoke": ["--allow-spend", "--token", "e30.e30.sig"],
    "dr restore-db": ["--latest"],
    "alarms test": ["LambdaErrors"],
    "alarms mute": ["--all", "--for", "2h", "--reason", "maintenance"],
    "alarms unmute": ["--all"],
}
# LOCAL-only commands refuse every other stage outright (exit 2, code usage).
LOCAL_ONLY = {"local reset"}
LOCAL_ONLY |= {"dr drill"}  # DEV/QA only: PROD is refused outright the same way
MUTATING = [e.path for e in registry.commands() if e.mutates]


@pytest.fixture
def prod_world(monkeypatch, project, write_env) -> list[str]:
    """PROD under moto with a parameter of two versions; records every AWS operation."""
    from moto import mock_aws

    from garmaxctl.aws import AwsTarget

    monkeypatch.setenv("GARMAX_PROD_ACCOUNT", "123456789012")
    write_env(env_text(VALUES))
    root = project / "checkout"
    _script(root / "node_modules" / ".bin" / "cdk", FAKE_CDK)
    monkeypatch.setenv("GARMAX_PROJECT_DIR", str(root))
    calls: list[str] = []
    make_session = AwsTarget._make_session
    # The audit trail's own writes (its log group, its head in SSM) record the refusal:
    # they are not the command's change.
    audit = {contract.audit_log_group("PROD"), contract.audit_head_parameter("PROD")}

    def record(model: Any, params: dict, **_: Any) -> None:
        if not {params.get("logGroupName"), params.get("Name")} & audit:
            calls.append(model.name)

    def recording(self: AwsTarget) -> Any:
        session = make_session(self)
        session.events.register("before-parameter-build", record)
        return session

    monkeypatch.setattr(AwsTarget, "_make_session", recording)
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        name = "/garmaxai/PROD/security/jwt-secret"
        ssm.put_parameter(Name=name, Value="v1-secret-value", Type="SecureString")
        ssm.put_parameter(Name=name, Value="v2-secret-value", Type="SecureString",
                          Overwrite=True)
        yield calls


def test_the_registry_marks_the_commands_that_change_a_stage() -> None:
    assert {"deploy", "destroy", "bootstrap", "params push", "params rollback",
            "params restore", "idle down", "idle up", "alarms test", "alarms mute",
            "alarms unmute"} <= set(MUTATING)
    assert not {"params plan", "status", "health", "idle status", "alarms list",
                "alarms show", "alarms history"} & set(MUTATING)


@pytest.mark.parametrize("path", MUTATING)
def test_prod_without_yes_and_without_a_terminal_is_refused(cli, prod_world: list[str],
                                                            path: str) -> None:
    result = cli("-s", "prod", "-o", "json", *path.split(), *ARGS.get(path, []))
    assert result.exit_code == 2, result.stdout + result.stderr
    error = json.loads(result.stdout)["error"]
    expected = "usage" if path in LOCAL_ONLY else "confirmation_required"
    assert error["code"] == expected, error
    writes = [c for c in prod_world if not c.startswith(READ_ONLY)
              and c != "GetCallerIdentity"]
    assert writes == [], f"{path} called {writes} before asking"
