"""The idle lock: a conditional create with a lease and the holder's identity."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest

from garmaxctl.services import idle
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
