"""The idle lock ``/garmaxai/ops/{STAGE}/idle/lock``: created with ``Overwrite=False`` (AWS's
conditional create), holding the holder's identity, the run id, the command and a lease.

Parameter Store has no compare-and-swap, so the lock is made safe by three rules
(docs/idle.md, "The lock"):

- **A live run never looks stale.** While a run holds the lock a heartbeat thread renews
  the lease every ``renew_every`` seconds (5 minutes; the lease is 45), also during a
  step that waits an hour for Aurora; the steps renew too when a renewal is due.
- **A run that cannot prove it still holds the lock stops first.** Its own view of the
  lease ends ``MARGIN`` before the lease it wrote: past that without a successful
  renewal (or once a renewal finds the lock is not ours) ``check()`` fails the step in
  progress — every waiter polls it — so the run has stopped before anyone may break its
  lock, and it never deletes a lock it may no longer hold.
- **Renewing and breaking replace one known version.** Both read the lock (value and
  version), overwrite it, then verify that the version they wrote follows the one they
  read and that this version still holds the run they read: anything else means another
  writer came in between (a breaker, or a delete and re-create) — the other writer's value
  is put back and the run gives up the lock.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import threading
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

LEASE = dt.timedelta(minutes=45)  # renewed every 5 minutes by the heartbeat
MARGIN = dt.timedelta(minutes=5)  # a run stops this long before a lease it could not renew
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


@dataclass
class _Held:
    """The lock as read: what people see, its version, and the stored JSON."""

    info: LockInfo
    version: int
    data: dict[str, Any]


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
        self._command = ""
        self._acquired_at: str | None = None
        self._valid_until: dt.datetime | None = None  # our lease on our clock, minus MARGIN
        self._lost: str | None = None  # why this run no longer holds the lock
        self._mutex = threading.RLock()  # one renewal at a time (heartbeat and steps)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

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

    # ------------------------------------------------------------------ reading

    def _ssm(self) -> Any:
        return self.aws.client("ssm")

    def _read(self) -> _Held | None:
        try:
            parameter = self._ssm().get_parameter(Name=self.name)["Parameter"]
        except Exception as exc:
            if not_found(exc):
                return None
            raise
        data = json.loads(parameter["Value"])
        expires = parse_iso(data.get("expires_at")) or self.clock()
        info = LockInfo(holder=data.get("holder", "?"), run_id=data.get("run_id", "?"),
                        command=data.get("command", "?"),
                        acquired_at=data.get("acquired_at", "?"),
                        expires_at=data.get("expires_at", "?"), stale=expires <= self.clock())
        return _Held(info, int(parameter.get("Version", 0)), data)

    def read(self) -> LockInfo | None:
        held = self._read()
        return held.info if held else None

    def _run_at(self, version: int) -> str | None:
        """The run id that version ``version`` of the lock holds (None: no such version)."""
        try:
            value = self._ssm().get_parameter(Name=f"{self.name}:{version}")["Parameter"]["Value"]
        except Exception as exc:
            if not_found(exc) or error_code(exc) == "ParameterVersionNotFound":
                return None
            raise
        run_id: str | None = json.loads(value).get("run_id")
        return run_id

    def value(self, command: str, now: dt.datetime | None = None) -> str:
        """The lock's JSON for ``idle {command}`` by this run, leased from ``now``."""
        now = now or self.clock()
        return json.dumps({"holder": self.identity(), "run_id": self.run_id,
                           "command": f"idle {command}",
                           "acquired_at": self._acquired_at or iso(now),
                           "expires_at": iso(now + LEASE), "renewed_at": iso(now),
                           "tool_version": __version__})

    # ------------------------------------------------------------------ taking it

    def _holding(self, command: str, now: dt.datetime) -> None:
        self._command = command
        self._acquired_at = self._acquired_at or iso(now)
        self._valid_until = now + LEASE - MARGIN
        self._renewed = time.monotonic()
        self._lost = None

    def _replace(self, held: _Held, value: str) -> bool:
        """Overwrite the version ``held`` of the lock with ``value``; True if nobody wrote
        in between. Otherwise the other writer's value is put back, and False."""
        ssm = self._ssm()
        written = int(ssm.put_parameter(Name=self.name, Value=value, Type="String",
                                        Overwrite=True)["Version"])
        if written == held.version + 1 and self._run_at(held.version) == held.info.run_id:
            return True
        try:  # we overwrote another writer: give its lock back
            theirs = ssm.get_parameter(Name=f"{self.name}:{written - 1}")["Parameter"]["Value"]
            if json.loads(theirs).get("run_id") != self.run_id:
                ssm.put_parameter(Name=self.name, Value=theirs, Type="String", Overwrite=True)
        except Exception as exc:
            if not (not_found(exc) or error_code(exc) == "ParameterVersionNotFound"):
                raise
        return False

    def acquire(self, command: str, *, break_lock: bool = False) -> dict[str, Any] | None:
        """Create the lock (conditional create). Returns the broken lock, if one was broken."""
        ssm = self._ssm()
        for _attempt in range(2):
            now = self.clock()
            try:
                ssm.put_parameter(Name=self.name, Value=self.value(command, now), Type="String",
                                  Overwrite=False, Description="garmaxctl idle lock (do not edit)")
                self._holding(command, now)
                return None
            except Exception as exc:
                if error_code(exc) != "ParameterAlreadyExists":
                    raise
            held = self._read()
            if held is None:
                continue  # released between our two calls: try again
            info = held.info
            if info.stale and break_lock:
                now = self.clock()
                if not self._replace(held, self.value(command, now)):
                    raise IdleLockedError(
                        f"the stale idle lock on {self.stage} was taken by another run while "
                        "this one was breaking it; nothing was changed",
                        hint="run `garmaxctl idle status` to see who holds it now")
                self._holding(command, now)
                return {"holder": info.holder, "run_id": info.run_id,
                        "acquired_at": info.acquired_at, "expires_at": info.expires_at}
            if info.stale:
                raise IdleLockedError(
                    f"a stale idle lock on {self.stage} is held by {info.holder} "
                    f"({info.command}, since {info.acquired_at}; its lease expired at "
                    f"{info.expires_at})",
                    hint="if that run is gone, rerun with --break-lock")
            raise IdleLockedError(
                f"another idle run holds the lock on {self.stage}: {info.holder} "
                f"({info.command}, since {info.acquired_at}, lease until {info.expires_at})",
                hint="wait for it to finish; a lock whose lease expired can be broken with "
                     "--break-lock")
        raise IdleLockedError(f"could not take the idle lock on {self.stage}")

    # ------------------------------------------------------------------ keeping it

    def _lose(self, reason: str) -> StepFailed:
        self._lost = self._lost or reason
        return StepFailed(self._lost)

    def check(self) -> None:
        """Raise ``StepFailed`` unless this run still holds the lock: taken over, or its
        lease could not be renewed and ends within ``MARGIN``."""
        if self._lost:
            raise StepFailed(self._lost)
        if self._valid_until is not None and self.clock() >= self._valid_until:
            raise self._lose(
                f"the idle lock on {self.stage} could not be renewed and its lease ends at "
                f"{iso(self._valid_until + MARGIN)}; stopping before another run may break it")

    def renew(self, command: str | None = None, *, force: bool = False) -> None:
        """Extend our lease if a renewal is due (every ``renew_every`` seconds, or ``force``);
        raise ``StepFailed`` if the lock is no longer ours. A renewal that fails on an AWS
        error is tried again at the next one; ``check`` stops the run before the lease
        ends."""
        with self._mutex:
            self.check()
            if not force and time.monotonic() - self._renewed < self.renew_every:
                return
            now = self.clock()
            try:
                held = self._read()
                if held is None or held.info.run_id != self.run_id:
                    raise self._lose(
                        f"the idle lock on {self.stage} was taken over by "
                        f"{held.info.holder if held else 'nobody (deleted)'}; stopping")
                if not self._replace(held, self.value(command or self._command, now)):
                    raise self._lose(f"the idle lock on {self.stage} was taken by another "
                                     "run while this one renewed it; stopping")
            except StepFailed:
                raise
            except Exception:
                return  # not renewed this time: the lease still runs, check() guards it
            self._valid_until = now + LEASE - MARGIN
            self._renewed = time.monotonic()

    def start(self) -> None:
        """Renew the lease from a heartbeat thread while the run works (also mid-step)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name=f"idle-lock-{self.stage}",
                                        daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(max(self.renew_every, 0.01)):
            try:
                self.renew()
            except StepFailed:
                return  # lost: the run's next check() stops it

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    def release(self) -> str | None:
        """Stop the heartbeat and delete our lock; returns a problem to report, if any
        (never raises). A lock this run may no longer hold is left in place."""
        self.stop()
        with self._mutex:
            try:
                self.check()
                lost = None
            except StepFailed as exc:
                lost = str(exc)
            try:
                held = self._read()
                if held is None:
                    return "the idle lock was already gone at release"
                if held.info.run_id != self.run_id:
                    return f"the idle lock is now held by {held.info.holder}: left in place"
                if lost:
                    return (f"{lost}: the idle lock {self.name} was left in place (it goes "
                            "stale when its lease ends; then --break-lock)")
                self._ssm().delete_parameter(Name=self.name)
                self._valid_until = None
                return None
            except Exception as exc:
                return (f"could not release the idle lock {self.name}: "
                        f"{one_line(exc)} (it expires after its lease; or --break-lock)")
