"""Issue 13, fault injection into `params push` and `params rollback` (a DEV stage on moto,
through the CLI): faults of every kind at random SSM calls, one or several per run.

Always: exit 0 or 1 (1 whenever a write failed), one JSON document; no parameter
half-written — each is its old value or its new one, never anything else, and never
missing when it existed; and the report is the truth: a parameter holds its new value
exactly when the report says "written". A parameter that is neither is a lost write.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from garmaxctl.shared import contract
from tests.cli.conftest import Run
from tests.fuzz.budget import TALLY, family_settings
from tests.fuzz.faults import KINDS, FaultPlan, inject, instant_retries  # noqa: F401
from tests.params.conftest import MOTO_ACCOUNT, VALUES, env_text

KEYS = sorted(VALUES)
FAILED_CODES = {"partial_failure", "throttled", "aws_error", "timeout", "access_denied",
                "expired_credentials"}
# A push makes ~2 reads and one write per parameter; a rollback a handful of calls.
faults = st.dictionaries(st.integers(1, 16), st.sampled_from(KINDS), min_size=1, max_size=3)
rollback_faults = st.dictionaries(st.integers(1, 6), st.sampled_from(KINDS), min_size=1,
                                  max_size=2)


def _path(key: str) -> str:
    return contract.PARAMS_BY_ENV_KEY[key].full_path("DEV")


def _stored(ssm: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(
            Path="/garmaxai/DEV/", Recursive=True, WithDecryption=True):
        found.update({p["Name"]: p["Value"] for p in page["Parameters"]})
    return found


def _run(cli: Run, monkeypatch: pytest.MonkeyPatch, plan: FaultPlan,
         *args: str) -> tuple[int, dict]:
    with monkeypatch.context() as mp:
        inject(mp, plan)
        result = cli("-o", "json", "-s", "dev", *args)
    if "Traceback" in result.stderr:
        TALLY.add("params faults", tracebacks=1)
    assert "Traceback" not in result.stderr, result.stderr
    return int(result.exit_code), json.loads(result.stdout)


def _check_exit(code: int, document: dict, findings: list[str]) -> None:
    error = document.get("error") or {}
    if code not in (0, 1) or (code == 1 and error.get("code") not in FAILED_CODES):
        findings.append(f"exit {code}: {error}")


@pytest.fixture
def stage(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", MOTO_ACCOUNT)
    return monkeypatch


@family_settings("params faults")
@given(env_keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=12, unique=True),
       stored_keys=st.lists(st.sampled_from(KEYS), max_size=12, unique=True), plan=faults)
def test_a_faulted_push_writes_each_parameter_wholly_or_not_at_all(
        stage: pytest.MonkeyPatch, instant_retries: None, tmp_path_factory: Any,  # noqa: F811
        env_keys: list[str], stored_keys: list[str], plan: dict[int, str]) -> None:
    cwd = tmp_path_factory.mktemp("push-fault")
    (cwd / ".env").write_text(env_text({k: VALUES[k] for k in env_keys}))
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        for key in stored_keys:
            secret = contract.PARAMS_BY_ENV_KEY[key].secret
            ssm.put_parameter(Name=_path(key), Value=f"old-{key.lower()}",
                              Type="SecureString" if secret else "String")
        before = _stored(ssm)
        faults = FaultPlan(at=dict(plan))
        code, document = _run(Run(cwd), stage, faults, "params", "push")
        after = _stored(ssm)
    findings: list[str] = []
    _check_exit(code, document, findings)
    results = {r["key"]: r for r in
               ((document.get("data") or {}).get("report") or {}).get("results", [])}
    lost = 0
    for key in env_keys:
        path, new = _path(key), VALUES[key]
        if after.get(path) not in (before.get(path), new):
            lost += 1
            findings.append(f"{key}: neither its old nor its new value")
        written = (results.get(key) or {}).get("status") == "written"
        if before.get(path) != new and written != (after.get(path) == new):
            lost += 1
            findings.append(f"{key}: the report says written={written}, the store disagrees")
    if code == 0 and any(after.get(_path(k)) != VALUES[k] for k in env_keys):
        findings.append("exit 0 with a parameter not written")
    untouched = {p: v for p, v in before.items() if p not in {_path(k) for k in env_keys}}
    if any(after.get(p) != v for p, v in untouched.items()):
        findings.append("a parameter outside the .env changed")
    TALLY.add("params faults", examples=1, faults_injected=len(faults.injected),
              runs_with_a_fault=int(bool(faults.injected)),
              lost_writes=lost, findings=len(findings))
    assert not findings, (findings, faults.injected, document)


@family_settings("params faults")
@given(plan=rollback_faults,
       key=st.sampled_from(["FRONTEND_URL", "JWT_SECRET", "DAILY_BUDGET_USD"]))
def test_a_faulted_rollback_leaves_the_old_value_or_the_rolled_back_one(
        stage: pytest.MonkeyPatch, instant_retries: None, tmp_path_factory: Any,  # noqa: F811
        plan: dict[int, str], key: str) -> None:
    cwd: Path = tmp_path_factory.mktemp("rollback-fault")
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        kind = "SecureString" if contract.PARAMS_BY_ENV_KEY[key].secret else "String"
        ssm.put_parameter(Name=_path(key), Value="version-one", Type=kind)
        ssm.put_parameter(Name=_path(key), Value="version-two", Type=kind, Overwrite=True)
        faults = FaultPlan(at=dict(plan))
        code, document = _run(Run(cwd), stage, faults, "params", "rollback", key,
                              "--to-version", "1")
        value = _stored(ssm).get(_path(key))
    findings: list[str] = []
    _check_exit(code, document, findings)
    results = ((document.get("data") or {}).get("report") or {}).get("results", [])
    written = any(r["status"] == "written" for r in results)
    lost = int(value not in ("version-one", "version-two"))
    if lost:
        findings.append(f"rolled back to {value!r}")
    if written != (value == "version-one"):
        lost += 1
        findings.append(f"the report says written={written}, the store holds {value!r}")
    TALLY.add("params faults", examples=1, faults_injected=len(faults.injected),
              runs_with_a_fault=int(bool(faults.injected)),
              lost_writes=lost, findings=len(findings))
    assert not findings, (findings, faults.injected, document)
