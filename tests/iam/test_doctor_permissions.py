"""``garmaxctl doctor --permissions`` against IAM's policy simulator, answered as AWS
answers it (tests/iam/fake_iam.py): allowed, implicit and explicit denies, an assumed role
and an IAM Identity Center role resolved to their roles, a refused simulation, pages."""

# ruff: noqa: F811  (the `cli` fixture is imported, then requested by name)
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from garmaxctl import permissions as P
from garmaxctl.services.access import checked_commands
from tests.cli.conftest import Run, assert_envelope, cli, project  # noqa: F401
from tests.iam.fake_iam import (
    ACCOUNT,
    REGION,
    SSO_ROLE,
    SSO_ROLE_ARN,
    USER_ARN,
    FakeIam,
    install,
)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIam]:
    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", ACCOUNT)
    yield install(monkeypatch, FakeIam())


def _run(cli: Run, *more: str) -> tuple[Any, dict[str, Any]]:
    result = cli("--stage", "DEV", "--region", REGION, "-o", "json", "doctor", "--permissions",
                 *more)
    return result, json.loads(result.stdout)


def _verdicts(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["command"]: c for c in document["data"]["commands"]}


def _expected_batches() -> set[tuple[str, tuple[tuple[str, str, str], ...]]]:
    """What the simulator must be asked: each resource (and condition) of every checked
    command, made for DEV in the account and region."""
    def made(text: str) -> str:
        return P.instantiate(text, stage="DEV", account=ACCOUNT, region=REGION)

    return {(made(p.resource), tuple((o, k, made(v)) for o, k, v in p.condition))
            for e in checked_commands() for p in e.actions}


def test_everything_allowed_asks_once_per_resource_with_concrete_arns(cli, fake) -> None:
    result, document = _run(cli)
    assert result.exit_code == 0, result.stdout
    assert_envelope(document, exit_code=0, command="doctor")
    data = document["data"]
    assert data["caller"] == data["principal"] == USER_ARN
    assert data["denied_commands"] == []
    verdicts = _verdicts(document)
    assert verdicts["params push"]["verdict"] == "allowed"
    assert verdicts["audit list"]["verdict"] == "no AWS action"
    assert "local up" not in verdicts and "params apply" not in verdicts  # LOCAL, alias
    asked = {((s.get("ResourceArns") or ["*"])[0], tuple(
        ("StringEquals", c["ContextKeyName"], c["ContextKeyValues"][0])
        for c in s.get("ContextEntries", []))) for s in fake.simulations}
    assert asked == _expected_batches()
    assert len(fake.simulations) == len(asked) == data["requests"]  # one request each
    assert all("${" not in str(s) for s in fake.simulations)
    assert not any(s.get("ResourceArns") == ["*"] for s in fake.simulations)
    assert all(s["PolicySourceArn"] == USER_ARN for s in fake.simulations)
    # KMS is allowed only through Parameter Store / RDS: the simulation carries it.
    kms = [s for s in fake.simulations if any(a.startswith("kms:") for a in s["ActionNames"])]
    assert kms and {(c["ContextKeyName"], c["ContextKeyValues"][0])
                    for s in kms for c in s["ContextEntries"]} == {
        ("kms:ViaService", f"ssm.{REGION}.amazonaws.com"),
        ("kms:ViaService", f"rds.{REGION}.amazonaws.com")}


def test_implicit_deny_names_the_commands_and_actions(cli, fake) -> None:
    params = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/garmaxai/DEV/*"
    fake.decide = lambda action, resource: ("implicitDeny" if action == "ssm:PutParameter"
                                            and resource == params else "allowed")
    result, document = _run(cli)
    assert result.exit_code == 0  # a report: a read-only role is denied writes by design
    verdicts = _verdicts(document)
    for command in ("params push", "params rollback", "params restore", "params import"):
        assert verdicts[command]["verdict"] == "denied"
        assert verdicts[command]["denied"] == [
            {"action": "ssm:PutParameter", "resource": params, "decision": "implicitDeny"}]
    assert verdicts["params plan"]["verdict"] == "allowed"
    assert verdicts["deploy"]["verdict"] == "allowed"  # PutParameter on /garmaxai/ops/DEV/
    assert set(document["data"]["denied_commands"]) == {
        "params push", "params rollback", "params restore", "params import"}

    table = cli("--stage", "DEV", "--region", REGION, "doctor", "--permissions")
    assert table.exit_code == 0
    row = next(line for line in table.stdout.splitlines()
               if line.split()[:2] == ["params", "push"])
    assert "denied" in row and "ssm: PutParameter" in row
    assert "cannot run: params push, params rollback" in " ".join(table.stdout.split())


def test_explicit_deny_is_its_own_verdict(cli, fake) -> None:
    fake.decide = lambda action, resource: ("explicitDeny" if action == "logs:PutLogEvents"
                                            else "allowed")
    result, document = _run(cli)
    assert result.exit_code == 0
    verdicts = _verdicts(document)
    assert verdicts["idle down"]["verdict"] == "explicit deny"  # every mutating command
    assert {d["decision"] for d in verdicts["idle down"]["denied"]} == {"explicitDeny"}
    assert verdicts["idle status"]["verdict"] == "allowed"


def test_an_assumed_role_is_simulated_as_its_role(cli, fake) -> None:
    fake.caller = f"arn:aws:sts::{ACCOUNT}:assumed-role/GarmaxOps/alice@example.com"
    fake.roles["GarmaxOps"] = f"arn:aws:iam::{ACCOUNT}:role/GarmaxOps"
    result, document = _run(cli)
    assert result.exit_code == 0
    assert document["data"]["principal"] == f"arn:aws:iam::{ACCOUNT}:role/GarmaxOps"
    assert {s["PolicySourceArn"] for s in fake.simulations} == {
        f"arn:aws:iam::{ACCOUNT}:role/GarmaxOps"}


def test_an_sso_role_is_simulated_with_its_path(cli, fake) -> None:
    fake.caller = f"arn:aws:sts::{ACCOUNT}:assumed-role/{SSO_ROLE}/alice@example.com"
    fake.roles[SSO_ROLE] = SSO_ROLE_ARN
    result, document = _run(cli)
    assert result.exit_code == 0
    assert {s["PolicySourceArn"] for s in fake.simulations} == {SSO_ROLE_ARN}
    assert document["data"]["principal"] == SSO_ROLE_ARN


def test_an_sso_role_without_get_role_is_not_guessed(cli, fake) -> None:
    fake.caller = f"arn:aws:sts::{ACCOUNT}:assumed-role/{SSO_ROLE}/alice@example.com"
    fake.roles[SSO_ROLE] = SSO_ROLE_ARN
    fake.get_role_allowed = False
    result, document = _run(cli)
    assert result.exit_code == 1
    assert document["error"]["code"] == "simulation_denied"
    assert "iam:GetRole" in document["error"]["message"]
    assert fake.simulations == []


def test_another_role_without_get_role_is_taken_without_a_path(cli, fake) -> None:
    fake.caller = f"arn:aws:sts::{ACCOUNT}:assumed-role/GarmaxOps/ci"
    fake.get_role_allowed = False
    result, document = _run(cli)
    assert result.exit_code == 0
    assert document["data"]["principal"] == f"arn:aws:iam::{ACCOUNT}:role/GarmaxOps"
    assert any("without a path" in note for note in document["data"]["notes"])


def test_a_refused_simulation_says_so_and_exits_1(cli, fake) -> None:
    fake.simulate_allowed = False
    result, document = _run(cli)
    assert result.exit_code == 1
    assert_envelope(document, exit_code=1, command="doctor")
    assert document["error"]["code"] == "simulation_denied"
    message = document["error"]["message"]
    assert "iam:SimulatePrincipalPolicy" in message and USER_ARN in message
    assert "docs/iam/readonly.json" in message
    assert "commands" not in document["data"]  # no verdict guessed


def test_every_page_of_a_truncated_simulation_is_read(cli, fake) -> None:
    fake.page_size = 2
    last = sorted({p.action for p in P.READ_IDLE if p.resource == P.ANY})[-1]
    fake.decide = lambda action, resource: "implicitDeny" if action == last else "allowed"
    result, document = _run(cli)
    assert result.exit_code == 0
    markers = [s.get("Marker") for s in fake.simulations]
    assert "2" in markers and "4" in markers  # the marker of each page was sent back
    assert document["data"]["requests"] == len(fake.simulations) > len(_expected_batches())
    assert _verdicts(document)["idle status"]["denied"] == [
        {"action": last, "resource": "*", "decision": "implicitDeny"}]


def test_the_root_user_cannot_be_simulated(cli, fake) -> None:
    fake.caller = f"arn:aws:iam::{ACCOUNT}:root"
    result, document = _run(cli)
    assert result.exit_code == 1 and document["error"]["code"] == "cannot_simulate"


def test_local_is_refused_with_exit_2(cli) -> None:
    result = cli("-o", "json", "doctor", "--permissions")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["error"]["code"] == "real_stage_only"
    assert "SimulatePrincipalPolicy" in document["error"]["message"]
