"""Issue 13, fault injection into `idle down` / `idle up` (through the CLI, a DEV stage on
moto built by tests/idle/builder.py from a randomized starting state).

Each example draws a starting state and faults — one or several, each a kind
(tests/fuzz/faults.py) at a randomly numbered AWS call, reads and writes alike — for the
`down` run, the `up` run or both. Always:

- the faulted run exits 0 or 1, never 2/3/130, with one JSON document and no internal
  error; exit 0 only when the stage reached its target;
- its report says what was changed: every attribute that changed is a "done" step;
- the next run finishes the job (after the failed run's lease ends, if the fault kept it
  from releasing its lock: ``--break-lock``, as docs/idle.md says), and after `up` the
  stage equals the snapshot taken before `down`: no inexact restore.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from garmaxctl.stage.idle_state import snapshot_param
from tests.cli.conftest import Run
from tests.fuzz.budget import TALLY, family_settings
from tests.fuzz.faults import KINDS, FaultPlan, inject, instant_retries  # noqa: F401
from tests.idle import builder
from tests.idle.conftest import DevStage, quiet_moto
from tests.idle.test_exact_restore import stage_specs

FAILED_CODES = {"partial_failure", "throttled", "aws_error", "timeout", "access_denied",
                "expired_credentials"}
LOCK = "/garmaxai/ops/DEV/idle/lock"

faults = st.dictionaries(st.integers(1, 70), st.sampled_from(KINDS), min_size=1, max_size=3)


def _normal(key: str, mappings: dict[str, str]) -> str:
    """A report step's key as builder.observe() names the attribute."""
    kind, _, name = key.partition(":")
    if kind == "mapping":
        return f"mapping:{mappings.get(name, name)}"
    if kind in ("desired", "scaling"):
        return f"{kind}:{name.rsplit('/', 1)[-1]}"
    return key


def _mappings() -> dict[str, str]:
    lam = builder.client("lambda")
    return {m["UUID"]: m["FunctionArn"].rsplit(":", 1)[-1]
            for m in lam.list_event_source_mappings()["EventSourceMappings"]}


def _expire_lock(dev: DevStage) -> bool:
    """End the lease of a lock a failed run could not release (as time would)."""
    value = dev.parameter(LOCK)
    if value is None:
        return False
    lock = json.loads(value)
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat()
    lock["expires_at"] = past
    builder.client("ssm").put_parameter(Name=LOCK, Value=json.dumps(lock), Type="String",
                                        Overwrite=True)
    return True


class IdleRun:
    def __init__(self, cli: Run, dev: DevStage) -> None:
        self.cli = cli
        self.dev = dev
        self.findings: list[str] = []

    def faulted(self, action: str, plan: FaultPlan, monkeypatch: pytest.MonkeyPatch) -> int:
        before = self.dev.observe()
        with monkeypatch.context() as mp:
            inject(mp, plan)
            result = self.cli("-o", "json", "-s", "dev", "idle", action)
        after = self.dev.observe()
        try:
            document = json.loads(result.stdout)
        except ValueError:
            self.findings.append(f"{action}: stdout is not one JSON document")
            return int(result.exit_code)
        code = (document.get("error") or {}).get("code")
        if result.exit_code not in (0, 1):
            self.findings.append(f"{action}: exit {result.exit_code} ({code})")
        if result.exit_code == 1 and code not in FAILED_CODES:
            self.findings.append(f"{action}: error code {code}: {document.get('error')}")
        if "Traceback" in result.stderr:
            self.findings.append(f"{action}: traceback")
        steps = (document.get("data") or {}).get("steps") or []
        mappings = _mappings()
        # What the report says changed: "done" steps, and failed ones it says were left
        # elsewhere or could not be read back.
        said = {_normal(s["key"], mappings) for s in steps if s["status"] == "done" or
                "left at" in s["detail"] or "could not be read" in s["detail"]}
        changed = {k for k in after if after[k] != before.get(k)}
        if changed - said:
            self.findings.append(f"{action}: changed but the report does not say so: "
                                 f"{sorted(changed - said)}")
        return int(result.exit_code)

    def finish(self, action: str) -> None:
        """The next run (or the one after the dead run's lease): it must succeed."""
        result, document = self.cli.json("-s", "dev", "idle", action)
        if result.exit_code != 0 and _expire_lock(self.dev):
            result, document = self.cli.json("-s", "dev", "idle", action, "--break-lock")
        if result.exit_code != 0:
            self.findings.append(f"the next `idle {action}` did not finish: "
                                 f"{document.get('error')}")


@family_settings("idle faults")
@given(spec=stage_specs(), down_faults=faults, up_faults=faults,
       where=st.sampled_from(["down", "up", "both"]))
def test_a_fault_anywhere_in_idle_loses_nothing_and_the_next_run_finishes(
        monkeypatch: pytest.MonkeyPatch, instant_retries: None, tmp_path_factory: Any,  # noqa: F811
        spec: builder.StageSpec, down_faults: dict[int, str], up_faults: dict[int, str],
        where: str) -> None:
    quiet_moto()
    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", builder.ACCOUNT)
    cli = Run(tmp_path_factory.mktemp("idle-fault"))
    with mock_aws():
        dev = DevStage()
        dev.build(spec)
        before = dev.observe()
        run = IdleRun(cli, dev)
        injected = 0
        for action, planned in (("down", down_faults), ("up", up_faults)):
            if where in (action, "both"):
                plan = FaultPlan(at=dict(planned))
                code = run.faulted(action, plan, monkeypatch)
                injected += len(plan.injected)
                target = builder.idle_expectations(before) if action == "down" else before
                if code == 0 and dev.observe() != target:
                    run.findings.append(f"{action} exited 0 short of its target")
                if code != 0 or dev.observe() != target:
                    run.finish(action)
            else:
                run.finish(action)
            if action == "down" and dev.observe() != builder.idle_expectations(before):
                run.findings.append("idle after down + the next run is not the idle state")
        inexact = dev.observe() != before
        if inexact:
            run.findings.append("inexact restore: " + str(
                {k: (before.get(k), v) for k, v in dev.observe().items() if before.get(k) != v}))
        snapshot_left = dev.parameter(snapshot_param("DEV"))
    TALLY.add("idle faults", examples=1, faults_injected=injected, runs_with_a_fault=int(
              injected > 0),
              tracebacks=sum(f.endswith(": traceback") for f in run.findings),
              inexact_restores=int(inexact), findings=len(run.findings))
    assert snapshot_left is None, "the snapshot was not archived after up"
    assert not run.findings, run.findings
