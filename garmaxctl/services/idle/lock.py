"""The idle lock ``/garmaxai/ops/{STAGE}/idle/lock``: created with ``Overwrite=False`` (AWS's
conditional create), holding the holder's identity, the run id, the command and a lease
that a working run renews. Two runs never interleave; a stale lock is broken only on
request (``--break-lock``)."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from garmaxctl import __version__
from garmaxctl.aws import error_code
from garmaxctl.services.idle.context import StepFailed, one_line
from garmaxctl.shared.errors import OperationError
from garmaxctl.stage.idle_state import lock_param, not_found

if TYPE_CHECKING:
    from garmaxctl.aws import AwsTarget

LEASE = dt.timedelta(minutes=45)  # longer than any single waiter
Clock = Callable[[], dt.datetime]


class IdleLockedError(OperationError):
    default_code = "idle_locked"


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_iso(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class LockInfo:
    holder: str
    run_id: str
    command: str
    acquired_at: str
    expires_at: str
    stale: bool


class IdleLock:
    """One run's handle on the stage's lock (and the run's identity, which it records)."""

    def __init__(self, aws: AwsTarget, stage: str, clock: Clock) -> None:
        self.aws = aws
        self.stage = stage
        self.clock = clock
        self.run_id = uuid.uuid4().hex
        self.renew_every = LEASE.total_seconds() / 9  # seconds between lease renewals
        self._renewed = time.monotonic()
        self._identity: str | None = None

    @property
    def name(self) -> str:
        return lock_param(self.stage)

    def identity(self) -> str:
        if self._identity is None:
            try:
                arn = self.aws.caller_identity()["arn"]
            except Exception as exc:  # the lock still names the host and user
                arn = f"unknown caller ({type(exc).__name__})"
            self._identity = f"{arn} ({getpass.getuser()}@{socket.gethostname()} " \
                             f"pid {os.getpid()})"
        return self._identity

    def read(self) -> LockInfo | None:
        try:
            value = self.aws.client("ssm").get_parameter(Name=self.name)["Parameter"]["Value"]
        except Exception as exc:
            if not_found(exc):
                return None
            raise
        data = json.loads(value)
        expires = parse_iso(data.get("expires_at")) or self.clock()
        return LockInfo(holder=data.get("holder", "?"), run_id=data.get("run_id", "?"),
                        command=data.get("command", "?"),
                        acquired_at=data.get("acquired_at", "?"),
                        expires_at=data.get("expires_at", "?"), stale=expires <= self.clock())

    def value(self, command: str) -> str:
        """The lock's JSON for ``idle {command}`` by this run, leased from now."""
        now = self.clock()
        return json.dumps({"holder": self.identity(), "run_id": self.run_id,
                           "command": f"idle {command}", "acquired_at": iso(now),
                           "expires_at": iso(now + LEASE), "tool_version": __version__})

    def acquire(self, command: str, *, break_lock: bool = False) -> dict[str, Any] | None:
        """Create the lock (conditional create). Returns the broken lock, if one was broken."""
        ssm = self.aws.client("ssm")
        broken: dict[str, Any] | None = None
        for _attempt in range(2):
            try:
                ssm.put_parameter(Name=self.name, Value=self.value(command), Type="String",
                                  Overwrite=False, Description="garmaxctl idle lock (do not edit)")
                return broken
            except Exception as exc:
                if error_code(exc) != "ParameterAlreadyExists":
                    raise
            held = self.read()
            if held is None:
                continue  # released between our two calls: try again
            if held.stale and break_lock:
                ssm.delete_parameter(Name=self.name)
                broken = {"holder": held.holder, "run_id": held.run_id,
                          "acquired_at": held.acquired_at, "expires_at": held.expires_at}
                continue
            if held.stale:
                raise IdleLockedError(
                    f"a stale idle lock on {self.stage} is held by {held.holder} "
                    f"({held.command}, since {held.acquired_at}; its lease expired at "
                    f"{held.expires_at})",
                    hint="if that run is gone, rerun with --break-lock")
            raise IdleLockedError(
                f"another idle run holds the lock on {self.stage}: {held.holder} "
                f"({held.command}, since {held.acquired_at}, lease until {held.expires_at})",
                hint="wait for it to finish; a lock whose lease expired can be broken with "
                     "--break-lock")
        raise IdleLockedError(f"could not take the idle lock on {self.stage}")

    def renew(self, command: str, *, force: bool = False) -> None:
        """Extend our lease (every ``renew_every`` seconds); stop if the lock was taken."""
        if not force and time.monotonic() - self._renewed < self.renew_every:
            return
        held = self.read()
        if held is None or held.run_id != self.run_id:
            raise StepFailed(f"the idle lock on {self.stage} was taken over by "
                             f"{held.holder if held else 'nobody (deleted)'}; stopping")
        self.aws.client("ssm").put_parameter(Name=self.name, Value=self.value(command),
                                             Type="String", Overwrite=True)
        self._renewed = time.monotonic()

    def release(self) -> str | None:
        """Delete our lock; returns a problem to report, if any (never raises)."""
        try:
            held = self.read()
            if held is None:
                return "the idle lock was already gone at release"
            if held.run_id != self.run_id:
                return f"the idle lock is now held by {held.holder}: left in place"
            self.aws.client("ssm").delete_parameter(Name=self.name)
            return None
        except Exception as exc:
            return (f"could not release the idle lock {self.name}: "
                    f"{one_line(exc)} (it expires after its lease; or --break-lock)")
