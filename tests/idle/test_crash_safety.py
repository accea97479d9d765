"""Acceptance 2: a failure injected at each mutating AWS call in turn, then a re-run,
converges to the end state of an uninterrupted run, and the original snapshot survives."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from moto import mock_aws

from garmaxctl.services import idle
from garmaxctl.shared import contract
from tests.idle import builder
from tests.idle.conftest import DevStage, FaultInjector

SNAPSHOT = idle.snapshot_param("DEV")


def _fresh(monkeypatch) -> DevStage:
    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", builder.ACCOUNT)
    dev = DevStage()
    dev.build()
    return dev


def _mutating_calls(monkeypatch, action: str) -> list[str]:
    """The mutating calls of an uninterrupted ``action`` (``up`` after a clean ``down``)."""
    with mock_aws():
        dev = _fresh(monkeypatch)
        if action == "up":
            dev.engine().down()
        counter = FaultInjector()
        getattr(dev.engine(counter), action)()
        return counter.mutating


def _rerun(dev: DevStage, action: str) -> idle.IdleReport:
    """The next run. A crashed run may leave its lock behind: the run after its lease
    expired breaks it with --break-lock (as an operator would)."""
    later = dev.now + idle.LEASE + dt.timedelta(minutes=1)
    return getattr(dev.engine(clock=lambda: later), action)(break_lock=True)


# The uninterrupted runs' mutating calls on the default stage (asserted below): lock,
# snapshot, then each change followed by its recorded result, then the lock's release.
DOWN_CALLS = 34
UP_CALLS = 35


def test_the_cases_cover_every_mutating_call(monkeypatch) -> None:
    down = _mutating_calls(monkeypatch, "down")
    up = _mutating_calls(monkeypatch, "up")
    assert (len(down), len(up)) == (DOWN_CALLS, UP_CALLS), (down, up)
    assert down[0] == "PutParameter" and down[-1] == "DeleteParameter"  # lock in, lock out
    assert "StopDBCluster" in down and "StartDBCluster" in up


@pytest.mark.parametrize("at", range(1, DOWN_CALLS + 1))
def test_down_interrupted_at_each_mutating_call_converges_on_rerun(monkeypatch, at) -> None:
    with mock_aws():
        dev = _fresh(monkeypatch)
        before = dev.observe()
        injector = FaultInjector(fail_at=at)
        report = None
        try:
            report = dev.engine(injector).down()
        except Exception as exc:
            assert "injected" in str(exc).lower(), exc
        assert injector.failed is not None
        assert report is None or not report.ok, "an injected failure was swallowed"
        partial = dev.parameter(SNAPSHOT)
        rerun = _rerun(dev, "down")
        assert rerun.ok, rerun
        assert dev.observe() == builder.idle_expectations(before)
        document = json.loads(dev.parameter(SNAPSHOT))
        assert document["phase"] == "idle"
        if partial is not None:  # the original snapshot survived the re-run
            assert document["resources"] == json.loads(partial)["resources"]
            assert document["created_at"] == json.loads(partial)["created_at"]
        # ... and it is the stage as it was before idle: up restores exactly.
        assert dev.engine().up().ok
        assert dev.observe() == before


@pytest.mark.parametrize("at", range(1, UP_CALLS + 1))
def test_up_interrupted_at_each_mutating_call_converges_on_rerun(monkeypatch, at) -> None:
    with mock_aws():
        dev = _fresh(monkeypatch)
        before = dev.observe()
        assert dev.engine().down().ok
        original = json.loads(dev.parameter(SNAPSHOT))
        injector = FaultInjector(fail_at=at)
        report = None
        try:
            report = dev.engine(injector).up()
        except Exception as exc:
            assert "injected" in str(exc).lower(), exc
        assert injector.failed is not None
        assert report is None or not report.ok, "an injected failure was swallowed"
        survived = dev.parameter(SNAPSHOT)
        if survived is not None:  # not archived until everything is back
            assert json.loads(survived)["resources"] == original["resources"]
        else:  # the failure hit after archiving (the lock's release): nothing lost
            assert report is not None and report.archived_to
        rerun = _rerun(dev, "up")
        assert rerun.ok, rerun
        assert dev.observe() == before
        assert dev.parameter(SNAPSHOT) is None
        archives = dev.parameters_under(contract.ops_prefix("DEV") + "idle/archive/")
        assert len(archives) == 1
        assert json.loads(dev.parameter(archives[0]))["resources"] == original["resources"]


def test_a_waiter_that_fails_after_the_change_reports_the_change(monkeypatch) -> None:
    # Found by tests/fuzz/test_idle_faults.py: StartDBCluster went through, its waiter was
    # throttled past retries, and the report said the step "failed" — as if the cluster
    # had not been started. The attribute is now read back after a failed write.
    from botocore.exceptions import ClientError

    with mock_aws():
        dev = _fresh(monkeypatch)
        assert dev.engine().down().ok
        started: list[str] = []

        def throttle_the_waiter(model, **_) -> None:
            if model.name == "StartDBCluster":
                started.append(model.name)
            elif model.name == "DescribeDBClusters" and started and len(started) < 2:
                started.append(model.name)  # the waiter's first poll only
                raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}},
                                  model.name)

        engine = dev.engine()
        engine.ctx.aws.session.events.register("before-parameter-build", throttle_the_waiter)
        report = engine.up()
        assert not report.ok
        (cluster,) = [s for s in report.steps if s.key.startswith("cluster:")]
        assert cluster.status == "done", cluster
        assert cluster.detail.startswith("done, but confirming it failed: ")
        assert "Throttling" in cluster.detail
