"""The idle lock: a conditional create with a lease and the holder's identity."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

from garmaxctl.services import idle
from garmaxctl.services.idle.context import StepFailed
from tests.idle import builder
from tests.idle.conftest import FaultInjector

LOCK = idle.lock_param("DEV")


def test_a_held_lock_refuses_a_second_run_and_names_the_holder(dev) -> None:
    dev.build()
    before = dev.observe()
    holder = dev.engine()
    holder.acquire_lock("down")
    with pytest.raises(idle.IdleLockedError, match="another idle run holds the lock") as info:
        dev.engine().down()
    assert "arn:aws:sts::" in info.value.message and "pid" in info.value.message
    assert info.value.exit_code == 1
    with pytest.raises(idle.IdleLockedError):  # --break-lock does not break a live lease
        dev.engine().down(break_lock=True)
    assert dev.observe() == before
    assert holder.release_lock() is None
    assert dev.parameter(LOCK) is None
    assert dev.engine().down().ok


def test_a_stale_lock_is_reported_and_broken_with_break_lock(dev) -> None:
    dev.build()
    crashed = dev.engine()
    crashed.acquire_lock("down")  # never released: the run died
    later = dev.now + idle.LEASE + dt.timedelta(seconds=1)
    status = dev.engine(clock=lambda: later).status()
    assert status.lock is not None and status.lock.stale
    assert status.lock.holder == crashed.identity()
    with pytest.raises(idle.IdleLockedError, match="stale idle lock") as info:
        dev.engine(clock=lambda: later).down()
    assert "--break-lock" in info.value.one_line()
    report = dev.engine(clock=lambda: later).down(break_lock=True)
    assert report.ok
    assert report.lock_broken["run_id"] == crashed.run_id
    assert dev.parameter(LOCK) is None


def test_the_lock_records_holder_lease_and_command(dev) -> None:
    dev.build()
    engine = dev.engine()
    engine.acquire_lock("up")
    data = json.loads(dev.parameter(LOCK))
    assert data["holder"] == engine.identity() and data["command"] == "idle up"
    acquired = dt.datetime.fromisoformat(data["acquired_at"].replace("Z", "+00:00"))
    expires = dt.datetime.fromisoformat(data["expires_at"].replace("Z", "+00:00"))
    assert expires - acquired == idle.LEASE


def test_two_concurrent_runs_never_interleave(dev) -> None:
    dev.build()
    before = dev.observe()
    engines = [dev.engine(), dev.engine()]
    results: list[object] = [None, None]
    start = threading.Barrier(2)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = engines[i].down()
        except idle.IdleLockedError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    reports = [r for r in results if isinstance(r, idle.IdleReport)]
    refused = [r for r in results if isinstance(r, idle.IdleLockedError)]
    # Either one ran while the other was refused, or they ran one after the other.
    assert reports and all(r.ok for r in reports)
    assert len(reports) + len(refused) == 2
    if len(reports) == 2:
        assert sorted(r.outcome for r in reports) == ["already idle", "idle"]
    from tests.idle import builder

    assert dev.observe() == builder.idle_expectations(before)
    assert dev.parameter(LOCK) is None


def test_a_run_whose_lock_was_taken_over_stops(dev) -> None:
    dev.build()
    engine = dev.engine()
    engine.renew_every = 0  # renew after every step
    intruder = dev.engine()

    def take_over(operation: str, params: dict) -> bool:
        if operation == "DisableRule":
            from tests.idle import builder

            builder.client("ssm").put_parameter(Name=LOCK, Value=intruder.lock.value("down"),
                                                Type="String", Overwrite=True)
        return False

    engine.aws.session.events.register("before-parameter-build",
                                       FaultInjector(when=take_over))
    report = engine.down()
    assert not report.ok and "taken over" in report.error
    assert json.loads(dev.parameter(LOCK))["run_id"] == intruder.run_id  # left in place
    assert any("now held by" in c.detail for c in report.checks)


# --------------------------------------------------------------------------- issue 11 item 14

class LongAuroraStop:
    """AWS's Aurora stop as a long step: after ``StopDBCluster`` the cluster reports
    ``stopping`` for ``minutes`` polls, and each poll moves the run's clock on a minute
    (moto stops a cluster at once). ``on_poll(minute)`` runs at each poll."""

    def __init__(self, dev, minutes: int, on_poll=None) -> None:
        self.now = [dev.now]
        self.minutes = minutes
        self.left = 0
        self.on_poll = on_poll
        self.polled = 0

    def clock(self) -> dt.datetime:
        return self.now[0]

    def after_call(self, model, parsed, **_) -> None:
        if model.name == "StopDBCluster":
            self.left = self.minutes
        elif model.name == "DescribeDBClusters" and self.left > 0:
            self.left -= 1
            self.polled += 1
            parsed["DBClusters"][0]["Status"] = "stopping"
            self.now[0] += dt.timedelta(minutes=1)
            if self.on_poll is not None:
                self.on_poll(self.polled)

    def attach(self, engine) -> None:
        engine.aws.session.events.register("after-call.rds", self.after_call)
        engine.timeouts.aurora = 120  # real seconds: the fake step takes a few


def _lock_document(dev) -> dict:
    return json.loads(dev.parameter(LOCK) or "{}")


def test_a_live_run_never_looks_stale_during_a_step_longer_than_the_lease(dev) -> None:
    """An Aurora stop that takes 70 minutes (the old lease was 45 and renewed only between
    steps): the heartbeat renews the lease during the step, so at no minute does the lock
    look stale, and --break-lock is refused at minute 60."""
    dev.build()
    seen: dict[int, bool] = {}
    refused: list[str] = []

    def observe(minute: int) -> None:
        # Let the heartbeat renew after the clock moved (it renews every 10 ms here); a
        # run without a heartbeat never does, and this gives up after 5 s.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            expires = idle.lock.parse_iso(_lock_document(dev).get("expires_at"))
            if expires and expires > step.clock() + idle.LEASE - dt.timedelta(minutes=1):
                break
            time.sleep(0.01)
        later = dev.engine(clock=step.clock)
        seen[minute] = later.status().lock.stale
        if minute == 60:
            try:
                later.down(break_lock=True)
            except idle.IdleLockedError as exc:
                refused.append(exc.message)

    step = LongAuroraStop(dev, minutes=70, on_poll=observe)
    engine = dev.engine(clock=step.clock)
    engine.renew_every = 0.01
    step.attach(engine)

    report = engine.down()

    assert report.ok, report
    assert step.polled == 70 and len(seen) == 70
    assert not any(seen.values()), [minute for minute, stale in seen.items() if stale]
    assert refused and "another idle run holds the lock" in refused[0]
    assert dev.parameter(LOCK) is None  # released at the end


def test_renewal_never_overwrites_a_lock_a_breaker_took_between_read_and_write(dev) -> None:
    """SSM has no compare-and-swap: between the renewal's read and its write a breaker may
    delete the lock and create its own. The renewal must find out, give the breaker its
    lock back and stop."""
    dev.build()
    engine, breaker = dev.engine(), dev.engine()
    raced: list[str] = []

    def breaker_first(operation: str, params: dict) -> bool:
        if operation == "PutParameter" and params.get("Name") == LOCK and not raced \
                and params.get("Overwrite") is True \
                and json.loads(params["Value"])["run_id"] == engine.run_id:
            raced.append(operation)
            ssm = builder.client("ssm")
            ssm.delete_parameter(Name=LOCK)
            ssm.put_parameter(Name=LOCK, Value=breaker.lock.value("down"), Type="String",
                              Overwrite=False)
        return False

    engine.aws.session.events.register("before-parameter-build",
                                       FaultInjector(when=breaker_first))
    engine.acquire_lock("down")
    with pytest.raises(StepFailed, match="taken by another run"):
        engine.lock.renew("down", force=True)
    assert raced
    assert _lock_document(dev)["run_id"] == breaker.run_id  # the breaker's lock stands
    with pytest.raises(StepFailed):
        engine.lock.check()  # this run stops at its next step
    assert "now held by" in (engine.release_lock() or "")
    assert _lock_document(dev)["run_id"] == breaker.run_id


def test_of_two_runs_breaking_one_stale_lock_only_one_gets_it(dev) -> None:
    dev.build()
    dev.engine().acquire_lock("down")  # a run that died
    later = dev.now + idle.LEASE + dt.timedelta(minutes=1)
    first, second = dev.engine(clock=lambda: later), dev.engine(clock=lambda: later)
    raced: list[object] = []

    def first_breaks_meanwhile(operation: str, params: dict) -> bool:
        """Between the second's read of the stale lock and its write that breaks it."""
        breaking = operation == "DeleteParameter" or (
            operation == "PutParameter" and params.get("Overwrite") is True)
        if breaking and params.get("Name") == LOCK and not raced:
            raced.append(first.acquire_lock("down", break_lock=True))
        return False

    second.aws.session.events.register("before-parameter-build",
                                       FaultInjector(when=first_breaks_meanwhile))
    with pytest.raises(idle.IdleLockedError):
        second.acquire_lock("down", break_lock=True)
    assert raced and raced[0] is not None  # the first broke it ...
    assert _lock_document(dev)["run_id"] == first.run_id  # ... and holds it
    assert first.release_lock() is None


def test_a_run_that_cannot_renew_stops_before_its_lease_ends(dev) -> None:
    """Renewals failing (throttled) during a 50-minute step: the run stops within the step
    once its lease is 5 minutes from its end, instead of working on with a lock that may
    be broken as stale; the lock is left in place, not deleted."""
    dev.build()
    step = LongAuroraStop(dev, minutes=50)
    engine = dev.engine(clock=step.clock)
    engine.renew_every = 0.01
    step.attach(engine)

    def throttle_renewals(model, params: dict, **_) -> None:
        if model.name == "PutParameter" and params.get("Name") == LOCK \
                and params.get("Overwrite") is True:
            raise ClientError({"Error": {"Code": "ThrottlingException",
                                         "Message": "Rate exceeded"}}, "PutParameter")

    engine.aws.session.events.register("before-parameter-build.ssm", throttle_renewals)
    report = engine.down()

    assert not report.ok
    assert "could not be renewed" in (report.error or ""), report.error
    assert step.polled < 50  # stopped within the step
    # AWS took the stop before the run stopped waiting for it: the read-back reports it
    # as done, with why it was not confirmed (the renewals), and nothing is marked failed.
    (cluster,) = [s for s in report.steps if s.attribute == "cluster"]
    assert cluster.status == "done" and "confirming it failed" in cluster.detail
    assert "could not be renewed" in cluster.detail
    assert not [s for s in report.steps if s.status == "failed"]
    assert not any(s.key.startswith("alarm:GarmaxAI-IdleActivity") and s.status == "done"
                   for s in report.steps)  # nothing after the stopped step
    assert _lock_document(dev)["run_id"] == engine.run_id  # left: it goes stale, then breaks
    assert any("left in place" in c.detail for c in report.checks)
