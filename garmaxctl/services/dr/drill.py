"""``dr drill``: a restore to a throw-away cluster, checked, timed and always deleted."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from garmaxctl.aws import describe_error
from garmaxctl.services.dr.cluster import (
    DEFAULT_TIMEOUT_S,
    DRILL_TAG,
    POLL_S,
    RESTORED_FROM_TAG,
    DrillReport,
    Phase,
    Progress,
    Waiter,
    check_in_window,
    check_new_name,
    cleanup_commands,
    describe_cluster,
    describe_instance,
    instance_request,
    not_found,
    read_source,
    require_database,
    restore_request,
    what_exists,
    window_of,
    writer_of,
)
from garmaxctl.services.dr.restore import default_name
from garmaxctl.shared.errors import Interrupted, OperationError, UsageError

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget


# ----------------------------------------------------------------------------- drill

def drill(target: StageTarget, *, timeout_s: float = DEFAULT_TIMEOUT_S,
          poll_s: float = POLL_S, clock: Callable[[], float] = time.monotonic,
          sleep: Callable[[float], None] = time.sleep, now: dt.datetime | None = None,
          progress: Progress | None = None) -> DrillReport:
    """Restore to a throw-away cluster at the latest time, check it, delete it; always
    clean up (failure, timeout, Ctrl-C) and say what was left if that failed."""
    if target.name == "PROD":
        raise UsageError("`dr drill` runs on DEV and QA only, never on PROD",
                         code="usage", hint="pass --stage dev or --stage qa")
    source_id = require_database(target)
    now = now or dt.datetime.now(dt.UTC)
    say = progress or (lambda _line: None)
    target.check_account()
    rds = target.client("rds")
    source = read_source(target, rds, source_id)
    check_in_window(None, window_of(source), source_id)
    new = check_new_name(rds, source_id, default_name(source_id, now, "drill"))
    report = DrillReport(stage=target.name, source=source_id, cluster=new,
                         instance=f"{new}-writer")
    cluster_params = restore_request(source, new, to=None, deletion_protection=False,
                                     tags={RESTORED_FROM_TAG: f"{source_id}@latest",
                                           DRILL_TAG: "true"})
    instance_params = instance_request(target, source, writer_of(rds, source), new,
                                       report.instance, cluster_params["Tags"])
    waiter = Waiter(rds, timeout_s=timeout_s, poll_s=poll_s, clock=clock, sleep=sleep,
                    progress=say)
    created: list[str] = []  # "cluster" / "instance", in creation order
    interrupted = False
    phase, mark = "restore", clock()
    try:
        say(f"drill: restoring {source_id} to {new} (latest)")
        rds.restore_db_cluster_to_point_in_time(**cluster_params)
        created.append("cluster")
        waiter.until("cluster", new, "available")
        report.phases.append(Phase("restore", clock() - mark, "ok"))
        phase, mark = "instance", clock()
        rds.create_db_instance(**instance_params)
        created.append("instance")
        waiter.until("instance", report.instance, "available")
        report.phases.append(Phase("instance", clock() - mark, "ok"))
        report.restore_seconds = sum(p.seconds for p in report.phases)
        phase, mark = "check", clock()
        _check_drill(rds, report)
        report.phases.append(Phase("check", clock() - mark, "ok", report.endpoint or ""))
        report.ok = True
    except KeyboardInterrupt:
        interrupted = True
        report.error = f"interrupted during {phase}"
        report.phases.append(Phase(phase, clock() - mark, "fail", "interrupted (Ctrl-C)"))
    except Exception as exc:
        detail = exc.message if isinstance(exc, OperationError) else \
            describe_error(exc).line()
        report.error = f"{phase}: {detail}"
        report.phases.append(Phase(phase, clock() - mark, "fail", detail))
    finally:
        _cleanup(rds, report, created, clock, poll_s, timeout_s, sleep, say)
    if interrupted:
        left = ("; left: " + "; ".join(report.left_behind)) if report.left_behind else \
            f"; {new} deleted"
        raise Interrupted(f"drill interrupted{left}")
    return report


def _check_drill(rds: Any, report: DrillReport) -> None:
    cluster = describe_cluster(rds, report.cluster) or {}
    instance = describe_instance(rds, report.instance) or {}
    problems = []
    if cluster.get("Status") != "available" or not cluster.get("Endpoint"):
        problems.append(f"cluster is {cluster.get('Status')} with endpoint "
                        f"{cluster.get('Endpoint')}")
    if instance.get("DBInstanceStatus") != "available" or not instance.get("Endpoint"):
        problems.append(f"instance is {instance.get('DBInstanceStatus')}")
    members = {m.get("DBInstanceIdentifier") for m in cluster.get("DBClusterMembers", [])}
    if members and report.instance not in members:
        problems.append(f"instance is not a member of {report.cluster}")
    if problems:
        raise OperationError("; ".join(problems), code="drill_failed")
    report.endpoint = cluster["Endpoint"]


def _cleanup(rds: Any, report: DrillReport, created: list[str],
             clock: Callable[[], float], poll_s: float, timeout_s: float,
             sleep: Callable[[float], None], say: Progress) -> None:
    """Delete what the drill created, instances first (no final snapshot); record the
    phase and anything left behind with how to delete it."""
    if not created:
        try:  # a failed request may still have started the restore
            if describe_cluster(rds, report.cluster) is None:
                return
        except Exception:  # then try the delete below anyway
            pass
        created.append("cluster")
    mark = clock()
    waiter = Waiter(rds, timeout_s=timeout_s, poll_s=poll_s, clock=clock, sleep=sleep,
                    progress=say)
    steps: list[tuple[str, str, Callable[[], Any]]] = []
    if "instance" in created:
        steps.append(("instance", report.instance, lambda: rds.delete_db_instance(
            DBInstanceIdentifier=report.instance, SkipFinalSnapshot=True)))
    steps.append(("cluster", report.cluster, lambda: rds.delete_db_cluster(
        DBClusterIdentifier=report.cluster, SkipFinalSnapshot=True)))
    try:
        for kind, ident, delete in steps:
            say(f"drill: deleting {kind} {ident}")
            try:
                delete()
            except Exception as exc:
                if not not_found(exc):
                    raise
            waiter.until(kind, ident, None)
    except BaseException as exc:
        detail = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else (
            exc.message if isinstance(exc, OperationError) else describe_error(exc).line())
        report.left_behind = what_exists(rds, report.cluster, [report.instance]) or [
            f"cluster {report.cluster} (state unknown)"]
        report.phases.append(Phase("cleanup", clock() - mark, "fail",
                                   detail + "; delete it: " + "; ".join(cleanup_commands(
                                       report.cluster, [report.instance]))))
        report.ok = False
        report.error = report.error or f"cleanup: {detail}"
        return
    report.phases.append(Phase("cleanup", clock() - mark, "ok",
                               f"deleted {report.cluster}"))
