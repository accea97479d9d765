"""Fixtures for LOCAL's telemetry: moto in this process (mock_aws), an injectable clock.

The telemetry writers and the alarm evaluator write into moto's backends directly, as
they do inside the emulator's process; here those backends are ``mock_aws``'s. No bridge
is installed in this process (they patch moto process-wide): what needs a bridge is
tested against the bridged emulator (tests/emulator) or the deployed stack.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator

import pytest


class FakeClock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    # Recent (moto drops log events older than 14 days), on a 5-minute boundary.
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    return FakeClock(now - dt.timedelta(minutes=now.minute % 5 + 30))


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def route_output(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call in the test body (pytest sets its own sys.stdout after fixtures run): routes
    sys.stdout/sys.stderr per thread for the test, restored afterwards."""
    from garmaxctl.local import capture

    def route() -> None:
        monkeypatch.setattr(sys, "stdout", sys.stdout)
        monkeypatch.setattr(sys, "stderr", sys.stderr)
        capture.install()

    return route
