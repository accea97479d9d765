"""Idle scale-down and restore of one stage: ``plan -> snapshot -> apply -> verify``.

The engine is free of CLI concerns (no Typer, no printing) so a scheduled Lambda can run it
too, and knows no resource kind by name: it works on *attributes* — one live, readable,
writable setting of one resource — that the registered kinds (``kinds.KINDS``) discover,
describe, read and write. Each attribute has the value the snapshot recorded before idle
touched it and the value idle wants. Then:

- ``down`` records every attribute's live value in the snapshot *before any change*
  (``/garmaxai/ops/{STAGE}/idle/snapshot``), then writes the idle value of each attribute
  whose live value differs, in the apply order (``kinds.GROUPS``), saving each step's result
  in the snapshot as it completes. A second ``down`` keeps the recorded values (it only adds
  resources the snapshot lacks) and completes what is missing.
- ``up`` writes back the recorded value of each attribute whose live value differs, in
  exactly the reverse order, with waiters and timeouts; then reads every attribute back,
  brings the functions back to Active and warms the restored ones with an event their
  handlers answer cheaply (``warm``), probes ``/api/health``, and only then
  archives the snapshot under ``idle/archive/``.

A lock (``lock.IdleLock``) keeps two runs from interleaving; a heartbeat renews its lease
while the run works, and every wait stops once the run can no longer prove it holds it.
docs/idle.md describes all of it.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any

from garmaxctl import __version__
from garmaxctl.result import CheckResult, Status
from garmaxctl.services.idle import kinds, queues
from garmaxctl.services.idle.context import Context, Timeouts, gone, one_line
from garmaxctl.services.idle.kinds import Attr, Value
from garmaxctl.services.idle.lock import Clock, IdleLock, LockInfo, iso, parse_iso
from garmaxctl.services.idle.report import (
    AttrStatus,
    IdleReport,
    IdleStatus,
    Saving,
    price_item,
    show_value,
    step,
)
from garmaxctl.services.idle.snapshot import (
    MAX_REASON,
    SCHEMA,
    Resources,
    Run,
    Snapshot,
    SnapshotTooLargeError,
)
from garmaxctl.services.idle.warm import warm
from garmaxctl.shared import contract
from garmaxctl.shared.errors import GarmaxError, OperationError
from garmaxctl.stage.http import http_call
from garmaxctl.stage.idle_state import archive_param, read_snapshot, snapshot_param
from garmaxctl.stage.prices import HOURS_PER_MONTH, prices_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from garmaxctl.stage.target import StageTarget

OK, WARN, FAIL, SKIPPED = Status.OK, Status.WARN, Status.FAIL, Status.SKIPPED
OUT_OF_SCOPE_NOTE = ("ElastiCache and NAT gateways are not idled: CloudFormation owns them and "
                     "deleting them out of band makes the stack drift (docs/idle.md)")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class IdleEngine:
    def __init__(self, target: StageTarget, *, clock: Clock = _utcnow,
                 timeouts: Timeouts | None = None,
                 health_url: Callable[[], str | None] | None = None) -> None:
        self.target = target
        self.aws = aws = target.aws
        self.stage = target.name
        self.config = target.config
        self.clock = clock
        self.timeouts = timeouts or Timeouts()
        self._health_url = health_url
        self.ctx = Context(aws, self.timeouts)
        self.notes = self.ctx.notes
        self.lock = IdleLock(aws, self.stage, clock)
        self.ctx.guard = self.lock.check  # every wait stops once the lock is no longer ours

    # ------------------------------------------------------------------ the lock

    @property
    def run_id(self) -> str:
        return self.lock.run_id

    @property
    def renew_every(self) -> float:
        return self.lock.renew_every

    @renew_every.setter
    def renew_every(self, seconds: float) -> None:
        self.lock.renew_every = seconds

    def identity(self) -> str:
        return self.lock.identity()

    def read_lock(self) -> LockInfo | None:
        return self.lock.read()

    def acquire_lock(self, command: str, *, break_lock: bool = False) -> dict[str, Any] | None:
        return self.lock.acquire(command, break_lock=break_lock)

    def release_lock(self) -> str | None:
        return self.lock.release()

    # ------------------------------------------------------------------ snapshot

    def load(self) -> Snapshot | None:
        document = read_snapshot(self.aws, self.stage)
        if document is not None and (document.get("schema") != SCHEMA or
                                     not isinstance(document.get("resources"), dict)):
            raise OperationError(
                f"the idle snapshot {snapshot_param(self.stage)} is not one this garmaxctl "
                f"can restore from (schema {document.get('schema')!r}, "
                f"{'no' if 'resources' not in document else 'unreadable'} resources)",
                code="snapshot_unreadable",
                hint="inspect it with `aws ssm get-parameter`; nothing was changed")
        return Snapshot.from_json(document) if document is not None else None

    def _elapsed(self, snapshot: Snapshot) -> str:
        """A step's time, compactly: seconds since the snapshot was created."""
        created = parse_iso(snapshot.created_at) or self.clock()
        return f"+{int((self.clock() - created).total_seconds())}s"

    def save(self, snapshot: Snapshot, *, name: str | None = None,
             description: str = "garmaxctl idle snapshot (docs/idle.md)") -> None:
        snapshot.updated_at = iso(self.clock())
        try:
            value, tier = snapshot.encode()
        except SnapshotTooLargeError:
            # Restoring must never be blocked by the log: drop the down log (kept in count).
            down = snapshot.steps.get("down")
            if snapshot.phase not in ("restoring", "restored") or not down or "omitted" in down:
                raise
            snapshot.steps["down"] = {"omitted": f"{len(down)} step result(s), to fit 8 KB"}
            value, tier = snapshot.encode()
        if tier == "Advanced" and snapshot.tier != "Advanced":
            snapshot.tier = "Advanced"  # never written back to Standard (AWS refuses)
            value, tier = snapshot.encode()
        self.aws.client("ssm").put_parameter(
            Name=name or snapshot_param(self.stage), Value=value, Type="String",
            Overwrite=True, Tier=tier, Description=description)

    def new_snapshot(self, resources: Resources) -> Snapshot:
        now = iso(self.clock())
        return Snapshot(stage=self.stage, phase="applying", created_at=now,
                        created_by=self.identity(), tool_version=__version__, updated_at=now,
                        resources=resources)

    # ------------------------------------------------------------------ the kinds

    def discover(self) -> Resources:
        """The live state of every resource idle touches, keyed as the snapshot keys it.

        Each kind finds its resources by the names and tags of DESIGN.md's contracts, so
        the deployed stack and resources built by hand (tests, benchmarks) are found the
        same way (docs/idle.md, "Inventory").
        """
        self.ctx.forget()
        resources = Resources({kind.section: dict(kind.discover(self.ctx))
                               if kind.enabled(self.config) else {} for kind in kinds.KINDS})
        self.ctx.forget()
        return resources

    def attributes(self, resources: Resources) -> list[Attr]:
        """Every attribute, in apply order (``up`` walks this list backwards)."""
        attrs = [attr for kind in kinds.KINDS for attr in kind.attributes(resources.of(kind))]
        return sorted(attrs, key=lambda attr: kinds.GROUPS.index(attr.group))

    def read(self, attr: Attr, resources: Resources) -> Value:
        """The attribute's live value (raises a not-found error if the resource is gone)."""
        assert attr.owner is not None
        return attr.owner.read(self.ctx, attr)

    def write(self, attr: Attr, value: Value, resources: Resources) -> str:
        """Set the attribute to ``value`` and wait until AWS reports it; returns a detail."""
        assert attr.owner is not None
        return attr.owner.write(self.ctx, attr, value)

    def kept_running(self, resources: Resources) -> list[str]:
        return [name for kind in kinds.KINDS for name in kind.kept_running(resources.of(kind))]

    # ------------------------------------------------------------------ plan

    def plan(self, action: str) -> IdleReport:
        """What ``down``/``up`` would do now; reads only."""
        snapshot = self.load()
        report = self._report(action, snapshot, dry_run=True)
        if action == "down":
            live = self.discover()
            resources = snapshot.resources.merged(live) if snapshot else live
            attrs = self.attributes(resources)
            targets = [(a, a.idle) for a in attrs]
            report.kept_running = self.kept_running(resources)
        else:
            if snapshot is None:
                report.outcome = "not idle"
                report.notes.append(f"no snapshot at {snapshot_param(self.stage)}: "
                                    "nothing to restore")
                return report
            resources = snapshot.resources
            attrs = self.attributes(resources)
            targets = [(a, a.recorded) for a in reversed(attrs)]
        for attr, wanted in targets:
            try:
                live_value = self.read(attr, resources)
            except Exception as exc:
                if not gone(exc):
                    raise
                report.steps.append(step(attr, None, wanted, "gone", one_line(exc)))
                continue
            status = "unchanged" if live_value == wanted else "planned"
            report.steps.append(step(attr, live_value, wanted, status))
        report.outcome = "planned"
        report.notes.extend(self.notes)
        return report

    def _report(self, action: str, snapshot: Snapshot | None, *,
                dry_run: bool = False) -> IdleReport:
        report = IdleReport(stage=self.stage, action=action, dry_run=dry_run, outcome="failed",
                            phase=None, snapshot_param=snapshot_param(self.stage))
        if snapshot is not None:
            self._fill_report(report, snapshot)
        return report

    def _fill_report(self, report: IdleReport, snapshot: Snapshot) -> None:
        report.phase = snapshot.phase
        report.created_at = snapshot.created_at
        report.created_by = snapshot.created_by
        report.storage_tier = snapshot.tier

    def _run(self, action: str, work: Callable[[IdleReport], None],
             break_lock: bool) -> IdleReport:
        """Under the lock: ``work`` fills the report; an AWS error ends in it, not raised."""
        broken = self.acquire_lock(action, break_lock=break_lock)
        self.lock.start()  # the heartbeat renews the lease while the run works
        report = self._report(action, None)
        report.lock_broken = broken
        try:
            work(report)
        except Exception as exc:
            if isinstance(exc, GarmaxError):
                raise
            report.error = one_line(exc)
            report.notes.extend(self.notes)
        finally:
            problem = self.release_lock()
            if problem:
                report.checks.append(CheckResult("lock released", FAIL, problem))
        return report

    # ------------------------------------------------------------------ down

    def down(self, *, dry_run: bool = False, break_lock: bool = False) -> IdleReport:
        if dry_run:
            return self.plan("down")
        return self._run("down", self._down, break_lock)

    def _down(self, report: IdleReport) -> None:
        snapshot = self.load()
        live = self.discover()
        if snapshot is None:
            snapshot = self.new_snapshot(live)
            snapshot.provisioned_concurrency = self._provisioned_note()
            fresh = True
        else:
            merged = snapshot.resources.merged(live)
            added = sorted(set(merged.keys()) - set(snapshot.resources.keys()))
            if added:
                self.notes.append("added to the snapshot (not there before): " +
                                  ", ".join(added))
            snapshot.resources = merged
            fresh = False
        resources = snapshot.resources
        report.kept_running = self.kept_running(resources)
        todo: list[tuple[Attr, Value]] = []
        for attr in self.attributes(resources):
            try:
                value = self.read(attr, resources)
            except Exception as exc:
                if not gone(exc):
                    raise
                report.steps.append(step(attr, None, attr.idle, "gone", one_line(exc)))
                continue
            if value == attr.idle:
                report.steps.append(step(attr, value, attr.idle, "unchanged"))
            else:
                todo.append((attr, value))
        self._fill_report(report, snapshot)
        if not todo and not fresh and snapshot.phase == "idle":
            report.outcome = "already idle"
            report.notes.append(f"already idle since {snapshot.idle_since}: the "
                                "snapshot taken then is kept")
            self._time_queues(report, snapshot)
            report.notes.extend(self.notes)
            return
        snapshot.phase = "applying"
        planned = {key for key, _ in snapshot.plan}
        snapshot.plan += [(a.key, a.idle) for a, _ in todo if a.key not in planned]
        self._log_run(snapshot, "down")
        snapshot.check_size()
        self.save(snapshot)  # the snapshot is written before any change
        if self._apply(report, snapshot, [(a, v, a.idle) for a, v in todo], "down"):
            snapshot.phase = "idle"
            snapshot.idle_since = snapshot.idle_since or iso(self.clock())
            self.save(snapshot)
            report.outcome = "idle"
            self._time_queues(report, snapshot)
        report.phase = snapshot.phase
        report.storage_tier = snapshot.tier
        report.notes.extend(self.notes)

    def _time_queues(self, report: IdleReport, snapshot: Snapshot) -> None:
        """Say how long the stage may stay idle before a parked message expires."""
        now = self.clock()
        report.queues = queues.clocks(self.ctx, snapshot.resources, now=now,
                                      since=parse_iso(snapshot.created_at))
        report.idle_until, report.idle_limit_s, note = queues.limit_note(report.queues, now)
        report.notes += [*queues.clock_lines(report.queues), note]

    def _log_run(self, snapshot: Snapshot, action: str) -> None:
        run = Run(action=action, at=iso(self.clock()), by=self.identity(),
                  tool_version=__version__)
        snapshot.runs = [*snapshot.runs, run][-5:]

    def _provisioned_note(self) -> str:
        if self.ctx.provisioned_supported is False:
            return ("not supported by this target (the emulator answers 'Not yet "
                    "implemented'): provisioned concurrency was neither read nor changed")
        return "recorded per function where configured"

    def _apply(self, report: IdleReport, snapshot: Snapshot,
               todo: list[tuple[Attr, Value, Value]], action: str) -> bool:
        """Write each (attr, before, wanted) in order; record each result. False on failure."""
        log = snapshot.log(action)
        for attr, before, wanted in todo:
            try:
                detail = self.write(attr, wanted, snapshot.resources)
            except Exception as exc:
                reason = one_line(exc)
                status, reason = self._after_failure(attr, before, wanted, reason, snapshot)
                report.steps.append(step(attr, before, wanted, status, reason))
                log[attr.key] = f"failed {self._elapsed(snapshot)}: {reason[:MAX_REASON]}"
                report.error = f"{attr.key}: {reason}"
                try:
                    self.save(snapshot)
                except Exception as save_exc:
                    report.notes.append(f"the failure could not be recorded in the snapshot: "
                                        f"{one_line(save_exc)}")
                return False
            report.steps.append(step(attr, before, wanted, "done", detail))
            log[attr.key] = f"done {self._elapsed(snapshot)}"
            try:
                self.save(snapshot)
                self.lock.renew(action)
            except Exception as exc:
                report.error = f"after {attr.key}: {one_line(exc)}"
                return False
        return True

    def _after_failure(self, attr: Attr, before: Value, wanted: Value, reason: str,
                       snapshot: Snapshot) -> tuple[str, str]:
        """A write can fail after AWS took it (its waiter throttled, timed out): read the
        attribute back so the report says what really changed."""
        try:
            now = self.read(attr, snapshot.resources)
        except Exception as exc:
            return "failed", f"{reason}; its state now could not be read: {one_line(exc)}"
        if now == wanted:
            return "done", f"done, but confirming it failed: {reason}"
        if now != before:
            return "failed", f"left at {now!r} (was {before!r}): {reason}"
        return "failed", reason

    # ------------------------------------------------------------------ up

    def up(self, *, dry_run: bool = False, break_lock: bool = False,
           probe: bool = True) -> IdleReport:
        if dry_run:
            return self.plan("up")
        return self._run("up", lambda report: self._up(report, probe=probe), break_lock)

    def _up(self, report: IdleReport, *, probe: bool) -> None:
        snapshot = self.load()
        if snapshot is None:
            report.outcome = "not idle"
            report.notes.append(f"no snapshot at {snapshot_param(self.stage)}: the stage is "
                                "not idle, nothing to restore")
            return
        self._fill_report(report, snapshot)
        resources = snapshot.resources
        report.kept_running = self.kept_running(resources)
        attrs = list(reversed(self.attributes(resources)))
        todo: list[tuple[Attr, Value, Value]] = []
        missing: set[str] = set()
        for attr in attrs:
            try:
                value = self.read(attr, resources)
            except Exception as exc:
                if not gone(exc):
                    raise
                missing.add(attr.key)
                report.steps.append(step(attr, None, attr.recorded, "gone", one_line(exc)))
                report.checks.append(CheckResult(f"{attr.kind} {attr.resource}", WARN,
                                           "recorded but gone: nothing to restore"))
                continue
            if value == attr.recorded:
                report.steps.append(step(attr, value, attr.recorded, "unchanged"))
            else:
                todo.append((attr, value, attr.recorded))
        snapshot.phase = "restoring"
        self._log_run(snapshot, "up")
        self.save(snapshot)
        if not self._apply(report, snapshot, todo, "up"):
            report.phase = snapshot.phase
            return
        # Read every restored attribute back.
        mismatched = []
        for attr in attrs:
            if attr.key in missing:
                continue
            try:
                value = self.read(attr, resources)
            except Exception as exc:
                mismatched.append(f"{attr.key}: {one_line(exc)}")
                continue
            if value != attr.recorded:
                mismatched.append(f"{attr.key}: {show_value(value)} "
                                  f"(recorded {show_value(attr.recorded)})")
        report.checks.append(CheckResult("read back", FAIL if mismatched else OK,
                                   "; ".join(mismatched) or
                                   f"{len(attrs) - len(missing)} attribute(s) as recorded"))
        restored = [warmup for attr in attrs if attr.key not in missing
                    and (warmup := attr.owner.warm(attr) if attr.owner else None)]
        wake = [name for kind in kinds.KINDS for name in kind.wake(resources.of(kind))]
        report.checks.extend(warm(self.ctx, restored, wake))
        if probe:
            report.checks.append(self.probe_health())
        if not report.ok:
            report.phase = snapshot.phase
            report.error = report.error or "; ".join(
                f"{c.name}: {c.detail}" for c in report.checks if c.status == "fail")
            self.save(snapshot)
            return
        snapshot.phase = "restored"
        snapshot.restored_at = iso(self.clock())
        target = archive_param(self.stage, snapshot.created_at or "")
        # The same size rules as the live snapshot (the down log may be trimmed to fit).
        self.save(snapshot, name=target,
                  description="garmaxctl idle snapshot, archived after restore")
        self.aws.client("ssm").delete_parameter(Name=snapshot_param(self.stage))
        report.archived_to = target
        report.phase = "restored"
        report.outcome = "restored"
        report.notes.extend(self.notes)

    # ------------------------------------------------------------------ warm and probe

    def health_url(self) -> str | None:
        """``/api/health`` of the stage: the stage target's API (on LOCAL, the local
        gateway; elsewhere the stack's ApiUrl output)."""
        if self._health_url is not None:
            return self._health_url()
        base = self.target.api_url
        return base + "api/health" if base else None

    def probe_health(self) -> CheckResult:
        url = self.health_url()
        if url is None:
            return CheckResult("/api/health", SKIPPED, self.target.api_url_problem or
                               f"stack {contract.stack_name(self.stage)} has no "
                               f"{contract.OutputKey.API_URL} output to probe")
        deadline = time.monotonic() + self.timeouts.health
        while True:
            answer = http_call(url, timeout=10)
            body = answer.body if isinstance(answer.body, dict) else {}
            if answer.status == 200 and body.get("status") == "ok":
                return CheckResult("/api/health", OK, f"200 from {url}")
            last = (f"{answer.error} ({url})" if answer.status is None else
                    f"{answer.status} {answer.body}" if answer.status == 200 else
                    f"HTTP {answer.status} from {url}")
            if time.monotonic() >= deadline:
                return CheckResult("/api/health", FAIL, last)
            time.sleep(max(self.timeouts.delay, 0.5))

    # ------------------------------------------------------------------ status

    def status(self) -> IdleStatus:
        snapshot = self.load()
        lock = self.read_lock()
        live = self.discover()
        resources = snapshot.resources.merged(live) if snapshot else live
        rows: list[AttrStatus] = []
        drift: list[str] = []
        phase = snapshot.phase if snapshot else None
        idle_since = parse_iso(snapshot.idle_since) if snapshot else None
        idle_for = self.clock() - idle_since if idle_since else None
        for attr in self.attributes(resources):
            try:
                value = self.read(attr, resources)
            except Exception as exc:
                if not gone(exc):
                    raise
                rows.append(AttrStatus(attr.group, attr.label or attr.resource, attr.kind,
                                       attr.recorded if snapshot else None, attr.idle, None,
                                       bool(snapshot), "gone"))
                if snapshot:
                    drift.append(f"{attr.key}: recorded but gone")
                continue
            recorded = attr.recorded if snapshot else None
            drifted = phase == "idle" and value != attr.idle
            note = attr.owner.drift_note(attr, value, idle_for) \
                if drifted and attr.owner else ""
            if drifted:
                drift.append(f"{attr.key}: {show_value(value)} (idle wants "
                             f"{show_value(attr.idle)})" + (f" — {note}" if note else ""))
            rows.append(AttrStatus(attr.group, attr.label or attr.resource, attr.kind, recorded,
                                   attr.idle, value, drifted, note))
        now = self.clock()
        clocks = queues.clocks(self.ctx, resources, now=now, since=parse_iso(
            snapshot.created_at) if snapshot else None)
        until, left, limit = queues.limit_note(clocks, now) if snapshot else (None, None, "")
        notes = queues.clock_lines(clocks) + ([limit] if limit else [])
        return IdleStatus(
            stage=self.stage, idle=snapshot is not None, phase=phase,
            created_at=snapshot.created_at if snapshot else None,
            created_by=snapshot.created_by if snapshot else None,
            idle_since=snapshot.idle_since if snapshot else None,
            idle_for_s=idle_for.total_seconds() if idle_for is not None else None, lock=lock,
            resources=rows, drift=drift, saving=self.saving(resources),
            kept_running=self.kept_running(resources),
            notes=[*notes, *self.notes, OUT_OF_SCOPE_NOTE], queues=clocks, idle_until=until,
            idle_limit_s=left)

    def saving(self, resources: Resources) -> Saving:
        """What idle saves per hour/month (docs/idle.md, "Price table"): Fargate tasks and
        Aurora instances that stop; Lambda without traffic costs nothing either way."""
        prices = prices_for(self.config)
        raw = [item for kind in kinds.KINDS
               for item in kind.hourly(resources.of(kind), prices, self.config)]
        raw.append(("Lambda", "no charge without traffic either way; idle stops "
                    "traffic-driven spend", 0.0))
        out = [
            (f"ElastiCache {contract.cache_cluster_id(self.stage)}",
             f"{prices.cache_nodes} x {self.config.cache_node_type}",
             prices.cache_nodes * prices.cache_node_hour),
            ("NAT gateways", f"{prices.nat_gateways} x ${prices.nat_gateway_hour}/h (+ data)",
             prices.nat_gateways * prices.nat_gateway_hour),
        ]
        per_hour = sum(hourly for _, _, hourly in raw)
        return Saving(per_hour=round(per_hour, 4),
                      per_month=round(per_hour * HOURS_PER_MONTH, 2),
                      items=[price_item(*item) for item in raw],
                      out_of_scope=[price_item(*item) for item in out])
