"""``garmaxctl health``: every check of a stage, run concurrently with per-check timeouts.

A check is a small function of the stage target (``garmaxctl.stage.target.StageTarget``:
its clients, stack outputs, API base URL and idle snapshot) returning a
:class:`CheckResult`. All checks of a stage run in a thread pool: the report takes about
as long as the slowest check, not their sum (``benchmarks/bench_health.py``). A check
that overruns its timeout is reported as failed ("timed out"); it never holds the report
up.

On LOCAL the API checks call the local gateway (the stage target's ``api_url``), never the
stack's ``ApiUrl`` output: moto's API Gateway cannot invoke Lambda (DESIGN.md, "LOCAL").
A function whose reserved concurrency is 0, an Aurora cluster that is stopped, an API
that answers as a throttled one does are "idle", not broken, while the stage's idle
snapshot exists (``/garmaxai/ops/{STAGE}/idle/snapshot``): that is what ``idle down``
leaves behind. A REST API whose Lambda proxy function is throttled answers HTTP 500
``{"message": "Internal server error"}`` (API Gateway's default 5XX response), not 429;
429 is API Gateway's own throttling. Both mean "idle" on an idle stage, on every stage.

Services never print: this module returns a :class:`HealthReport`.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from garmaxctl.aws import describe_error
from garmaxctl.result import CheckResult, Status, count
from garmaxctl.shared import contract
from garmaxctl.stage.alarms import alarms_in_alarm
from garmaxctl.stage.http import HttpAnswer, http_call
from garmaxctl.stage.idle_state import QueueClock, QueueRef, queue_clocks, short_duration

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

OK, WARN, FAIL, IDLE, SKIPPED = (Status.OK, Status.WARN, Status.FAIL, Status.IDLE,
                                 Status.SKIPPED)
HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
DEFAULT_TIMEOUT_S = 10.0
MAX_WORKERS = 32
SLOW_API_MS = 3000.0  # an API answer slower than this is "warn"
THROTTLED_500 = {"message": "Internal server error"}  # API Gateway's default 5XX body


# --------------------------------------------------------------------------- results

@dataclass
class HealthReport:
    stage: str
    status: str  # healthy | degraded | unhealthy
    checks: list[CheckResult]
    duration_ms: float
    idle: bool = False
    api_url: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == HEALTHY

    def counts(self) -> dict[str, int]:
        return count(self.checks)

    def problems(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status in (FAIL, WARN)]


def overall(checks: Sequence[CheckResult]) -> str:
    """Any failure: unhealthy; any warning: degraded; otherwise healthy (idle is fine)."""
    if any(c.status == FAIL for c in checks):
        return UNHEALTHY
    if any(c.status == WARN for c in checks):
        return DEGRADED
    return HEALTHY


# --------------------------------------------------------------------------- checks

CheckFn = Callable[["StageTarget"], CheckResult]


@dataclass
class Check:
    name: str
    group: str
    run: CheckFn
    timeout: float | None = None  # None: the report's default


def throttled(answer: HttpAnswer) -> bool:
    """What API Gateway answers when the function behind it cannot run: 500 with its
    default body (a throttled Lambda proxy integration) or 429 (its own throttling)."""
    return answer.status == 429 or (answer.status == 500 and answer.body == THROTTLED_500)


def check_api_health(target: StageTarget) -> CheckResult:
    name = "api /api/health"
    if not target.api_url:
        return CheckResult(name, FAIL, target.api_url_problem or "no API URL")
    answer = http_call(target.api_endpoint("api/health"))
    ms = answer.latency_ms
    data = {"url": target.api_endpoint("api/health"), "http_status": answer.status,
            "body": answer.body}
    if answer.status is None:
        return CheckResult(name, FAIL, f"no answer: {answer.error}", latency_ms=ms, data=data)
    if throttled(answer) and target.idle:
        return CheckResult(name, IDLE, f"HTTP {answer.status}: the Api function is throttled, "
                                       "the stage is idle (`garmaxctl idle up`)",
                           latency_ms=ms, data=data)
    body = answer.body if isinstance(answer.body, dict) else {}
    if answer.status != 200 or body.get("status") != "ok":
        code = body.get("code") or body.get("status") or "unexpected answer"
        return CheckResult(name, FAIL, f"HTTP {answer.status}: {code}", latency_ms=ms,
                           data=data)
    status = WARN if answer.latency_ms > SLOW_API_MS else OK
    slow = f" (slow: over {SLOW_API_MS:.0f} ms)" if status == WARN else ""
    return CheckResult(name, status, f"200 ok, version {body.get('version', '?')}{slow}",
                       latency_ms=ms, data=data)


def check_api_storage(target: StageTarget) -> CheckResult:
    name = "api /api/health/storage"
    if not target.api_url:
        return CheckResult(name, FAIL, target.api_url_problem or "no API URL")
    answer = http_call(target.api_endpoint("api/health/storage"))
    ms = answer.latency_ms
    data = {"url": target.api_endpoint("api/health/storage"), "http_status": answer.status,
            "body": answer.body}
    if answer.status is None:
        return CheckResult(name, FAIL, f"no answer: {answer.error}", latency_ms=ms, data=data)
    if throttled(answer) and target.idle:
        return CheckResult(name, IDLE, f"HTTP {answer.status}: throttled, the stage is idle",
                           latency_ms=ms, data=data)
    body = answer.body if isinstance(answer.body, dict) else {}
    entries = body.get("checks") or []
    failing = [f"{e.get('kind')} {e.get('name')}: {e.get('error')}" for e in entries
               if not e.get("ok")]
    if answer.status == 200 and body.get("status") == "ok":
        return CheckResult(name, OK, f"200 ok, {len(entries)} dependencies answer",
                           latency_ms=ms, data=data)
    detail = "; ".join(failing[:4]) or str(body.get("code") or body.get("status") or "?")
    return CheckResult(name, FAIL, f"HTTP {answer.status}: {detail}", latency_ms=ms,
                       data=data)


def function_check(function: contract.Function) -> CheckFn:
    def run(target: StageTarget) -> CheckResult:
        fname = contract.function_name(function, target.name)
        lambda_client = target.client("lambda")
        try:
            config = lambda_client.get_function_configuration(FunctionName=fname)
        except Exception as exc:
            return CheckResult(f"function {function}", FAIL,
                               f"{fname}: {describe_error(exc).code}")
        state = config.get("State", "Active")
        update = config.get("LastUpdateStatus", "Successful")
        concurrency = lambda_client.get_function_concurrency(FunctionName=fname).get(
            "ReservedConcurrentExecutions")
        data = {"function": fname, "state": state, "last_update_status": update,
                "reserved_concurrency": concurrency}
        limit = "unreserved" if concurrency is None else f"concurrency {concurrency}"
        if state == "Inactive" and update != "Failed":
            # Lambda reclaims the resources of a function that has not run for long; its
            # next invoke fails and brings it back (Pending, then Active).
            why = config.get("StateReasonCode") or "Idle"
            if target.idle:
                return CheckResult(f"function {function}", IDLE,
                                   f"Inactive ({why}): Lambda reclaimed it while the stage was "
                                   "idle; `garmaxctl idle up` brings it back", data=data)
            return CheckResult(f"function {function}", FAIL,
                               f"Inactive ({why}): its next invoke fails while Lambda "
                               "recreates its resources; invoke it once, or wait for "
                               "traffic to bring it back", data=data)
        if state != "Active" or update == "Failed":
            reason = config.get("StateReason") or config.get("LastUpdateStatusReason") or ""
            return CheckResult(f"function {function}", FAIL,
                               f"{state}/{update} {reason}".strip(), data=data)
        if concurrency == 0:
            if target.idle:
                return CheckResult(f"function {function}", IDLE,
                                   "concurrency 0 (idle: `garmaxctl idle up` restores it)",
                                   data=data)
            return CheckResult(f"function {function}", FAIL,
                               "reserved concurrency 0 and no idle snapshot: every call is "
                               "throttled; put back its concurrency or redeploy", data=data)
        return CheckResult(f"function {function}", OK, f"Active, {limit}", data=data)

    return run


def _idle_since(target: StageTarget) -> dt.datetime | None:
    """When the idle snapshot was taken (the worst case for a parked message's wait)."""
    snapshot = target.idle_snapshot() or {}
    try:
        created = str(snapshot.get("created_at") or "")
        return dt.datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None
    except ValueError:
        return None


def _clock_data(clock: QueueClock, prefix: str = "") -> dict[str, Any]:
    return {f"{prefix}retention_s": clock.retention_s,
            f"{prefix}oldest_age_s": clock.oldest_age_s, f"{prefix}age_from": clock.age_from,
            f"{prefix}expires_in_s": clock.expires_in_s}


def queue_check(queue: contract.Queue) -> CheckFn:
    """Depth, in flight, the DLQ; and each queue's clock (``idle_state.queue_clocks``): how
    long its oldest message may have waited and when it expires (retention from the queue's
    ``MessageRetentionPeriod``). Warn from 3 days before a message of the queue or its DLQ
    expires: idle parks messages, and a DLQ's clock counts from the original enqueue."""
    def run(target: StageTarget) -> CheckResult:
        name = f"queue {queue}"
        queue_key, dlq_key = contract.QUEUE_OUTPUTS[queue]
        url, dlq = target.output(queue_key), target.output(dlq_key)
        if not url or not dlq:
            return CheckResult(name, FAIL, f"stack output {queue_key} or {dlq_key} missing")
        try:
            work, dead = queue_clocks(target.client,
                                      [QueueRef(url), QueueRef(dlq, dlq=True, source=url)],
                                      now=dt.datetime.now(dt.UTC),
                                      idle_since=_idle_since(target))
        except Exception as exc:
            return CheckResult(name, FAIL, f"{describe_error(exc).code}")
        depth, in_flight = work.visible, work.in_flight
        dlq_depth = dead.visible + dead.in_flight
        data = {"depth": depth, "in_flight": in_flight, "dlq_depth": dlq_depth,
                **_clock_data(work), **_clock_data(dead, "dlq_")}
        expiry = "; ".join(c.warning for c in (work, dead) if c.warning)
        if dlq_depth:
            return CheckResult(name, FAIL,
                               f"{dlq_depth} message(s) in the DLQ "
                               f"(depth {depth}); inspect and redrive them"
                               + (f"; {expiry}" if expiry else ""), data=data)
        if expiry:
            fix = "`garmaxctl idle up` before then" if target.idle else \
                "its consumer is behind or paused"
            return CheckResult(name, WARN, f"depth {depth}: {expiry} ({fix})", data=data)
        waited = f", oldest waited {short_duration(work.oldest_age_s)} of " \
                 f"{short_duration(work.retention_s)}" if work.oldest_age_s is not None else ""
        return CheckResult(name, OK, f"depth {depth}, in flight {in_flight}{waited}, "
                                     "DLQ empty", data=data)

    return run


def table_check(spec: contract.TableSpec) -> CheckFn:
    def run(target: StageTarget) -> CheckResult:
        name = f"table {spec.name}"
        table = target.output(spec.output)
        if not table:
            return CheckResult(name, FAIL, f"stack output {spec.output} missing")
        try:
            status = target.client("dynamodb").describe_table(
                TableName=table)["Table"]["TableStatus"]
        except Exception as exc:
            return CheckResult(name, FAIL, f"{table}: {describe_error(exc).code}")
        if status == "ACTIVE":
            return CheckResult(name, OK, "ACTIVE", data={"table": table})
        level = WARN if status == "UPDATING" else FAIL
        return CheckResult(name, level, status, data={"table": table})

    return run


def bucket_check(spec: contract.BucketSpec) -> CheckFn:
    def run(target: StageTarget) -> CheckResult:
        name = f"bucket {spec.name}"
        bucket = target.output(spec.output)
        if not bucket:
            return CheckResult(name, FAIL, f"stack output {spec.output} missing")
        try:
            target.client("s3").head_bucket(Bucket=bucket)
        except Exception as exc:
            return CheckResult(name, FAIL, f"{bucket}: {describe_error(exc).code}")
        return CheckResult(name, OK, "reachable", data={"bucket": bucket})

    return run


def check_database(target: StageTarget) -> CheckResult:
    name = "aurora"
    if not target.features.database:
        return CheckResult(name, SKIPPED, f"stage {target.name} has no Aurora cluster")
    cluster = (target.output(contract.OutputKey.DATABASE_CLUSTER_ID)
               or contract.database_cluster_id(target.name))
    try:
        found = target.client("rds").describe_db_clusters(
            DBClusterIdentifier=cluster)["DBClusters"]
    except Exception as exc:
        return CheckResult(name, FAIL, f"{cluster}: {describe_error(exc).code}")
    status = found[0]["Status"] if found else "missing"
    data = {"cluster": cluster, "status": status}
    if status == "available":
        return CheckResult(name, OK, f"{cluster} available", data=data)
    if status in ("stopped", "stopping", "starting") and target.idle:
        return CheckResult(name, IDLE, f"{cluster} {status} (idle)", data=data)
    level = WARN if status in ("backing-up", "modifying", "starting", "upgrading") else FAIL
    return CheckResult(name, level, f"{cluster} {status}", data=data)


def check_cache(target: StageTarget) -> CheckResult:
    name = "redis"
    if not target.features.cache:
        return CheckResult(name, SKIPPED, f"stage {target.name} has no ElastiCache Redis")
    group = (target.output(contract.OutputKey.CACHE_CLUSTER_ID)
             or contract.cache_cluster_id(target.name))
    try:
        found = target.client("elasticache").describe_replication_groups(
            ReplicationGroupId=group)["ReplicationGroups"]
    except Exception as exc:
        return CheckResult(name, FAIL, f"{group}: {describe_error(exc).code}")
    status = found[0]["Status"] if found else "missing"
    data = {"replication_group": group, "status": status}
    if status == "available":
        return CheckResult(name, OK, f"{group} available", data=data)
    level = WARN if status in ("modifying", "snapshotting") else FAIL
    return CheckResult(name, level, f"{group} {status}", data=data)


def required_parameter_paths(stage: str) -> list[str]:
    """The Parameter Store entries the stage cannot run without (``contract``)."""
    return [contract.PARAMS_BY_ENV_KEY[key].full_path(stage)
            for key in contract.required_env_keys(stage)]


def check_parameters(target: StageTarget) -> CheckResult:
    name = "parameters"
    paths = required_parameter_paths(target.name)
    if not paths:
        return CheckResult(name, OK, f"{target.name} requires none of the external secrets")
    ssm = target.client("ssm")
    missing: list[str] = []
    for start in range(0, len(paths), 10):
        batch = paths[start:start + 10]
        answer = ssm.get_parameters(Names=batch, WithDecryption=False)
        missing += answer.get("InvalidParameters", [])
    prefix = contract.params_prefix(target.name)
    data = {"required": len(paths), "missing": missing}
    if missing:
        short = ", ".join(m.removeprefix(prefix) for m in missing)
        return CheckResult(name, FAIL, f"missing under {prefix}: {short} "
                                       "(`garmaxctl params push`)", data=data)
    return CheckResult(name, OK, f"all {len(paths)} required entries present", data=data)


def check_alarms(target: StageTarget) -> CheckResult:
    name = "alarms"
    firing = alarms_in_alarm(target)
    activity = contract.alarm_name(contract.Alarm.ACTIVITY, target.name)
    # The activity alarm is a wake-up signal for idle, not a fault: outside idle it is in
    # ALARM whenever the API had traffic (its actions are off), which says nothing.
    faults = [a["AlarmName"] for a in firing if a["AlarmName"] != activity]
    traffic_while_idle = len(firing) > len(faults) and target.idle
    data = {"in_alarm": [a["AlarmName"] for a in firing],
            "notable": faults + ([activity] if traffic_while_idle else [])}
    if faults:
        return CheckResult(name, WARN, "in ALARM: " + ", ".join(faults), data=data)
    note = " (activity alarm in ALARM: traffic while idle)" if traffic_while_idle else ""
    return CheckResult(name, OK, "none in ALARM" + note, data=data)


def build_checks() -> list[Check]:
    """Every check of a stage, in the order the table shows them."""
    checks = [Check("api /api/health", "api", check_api_health),
              Check("api /api/health/storage", "api", check_api_storage)]
    checks += [Check(f"function {f}", "functions", function_check(f)) for f in contract.Function]
    checks += [Check(f"queue {q}", "queues", queue_check(q)) for q in contract.Queue]
    checks += [Check(f"table {t.name}", "tables", table_check(t)) for t in contract.TABLES]
    checks += [Check(f"bucket {b.name}", "buckets", bucket_check(b)) for b in contract.BUCKETS]
    checks += [Check("aurora", "data", check_database), Check("redis", "data", check_cache),
               Check("parameters", "parameters", check_parameters),
               Check("alarms", "alarms", check_alarms)]
    return checks


# --------------------------------------------------------------------------- running

def run_checks(checks: Sequence[Check], target: StageTarget, *,
               timeout: float = DEFAULT_TIMEOUT_S,
               max_workers: int = MAX_WORKERS) -> list[CheckResult]:
    """Run ``checks`` concurrently; each has its own deadline (its timeout from start).

    A check still running at its deadline is reported failed and abandoned (its thread
    finishes in the background; the AWS clients' own timeouts bound it). An exception is
    the check's failure, never the report's.
    """
    results: dict[int, CheckResult] = {}
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, max_workers),
                                                 thread_name_prefix="health")
    started_at: dict[int, float] = {}

    def timed(index: int, check: Check) -> CheckResult:
        started_at[index] = time.perf_counter()
        try:
            result = check.run(target)
        except Exception as exc:  # a check's failure, reported in its row
            result = CheckResult(check.name, FAIL, f"{type(exc).__name__}: {exc}"[:300])
        if result.latency_ms is None:
            result.latency_ms = round((time.perf_counter() - started_at[index]) * 1000, 1)
        result.group = result.group or check.group
        return result

    futures = {pool.submit(timed, i, check): i for i, check in enumerate(checks)}
    pending = set(futures)
    try:
        while pending:
            done, pending = concurrent.futures.wait(
                pending, timeout=0.05, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                results[futures[future]] = future.result()
            now = time.perf_counter()
            for future in list(pending):
                index = futures[future]
                limit = checks[index].timeout or timeout
                begun = started_at.get(index)  # a queued check's clock has not started
                if begun is not None and now - begun >= limit:
                    pending.discard(future)
                    results[index] = CheckResult(checks[index].name, FAIL,
                                                 f"timed out after {limit:g} s",
                                                 latency_ms=round(limit * 1000, 1),
                                                 group=checks[index].group)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [results[i] for i in range(len(checks))]


def prepare(target: StageTarget) -> StageTarget:
    """Read what every check needs before they run: the stack outputs and the idle
    snapshot (in parallel), and the API's URL. A missing stack is an error here."""
    target.connect()
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        outputs = pool.submit(target.outputs)
        idle = pool.submit(target.idle_snapshot)
        outputs.result()
        idle.result()
    target.api()
    return target


def run_health(target: StageTarget, *, timeout: float = DEFAULT_TIMEOUT_S,
               checks: Sequence[Check] | None = None,
               max_workers: int = MAX_WORKERS) -> HealthReport:
    """Prepare the stage (outputs, API, idle state), then run every check concurrently."""
    started = time.perf_counter()
    prepare(target)
    checks = list(checks) if checks is not None else build_checks()
    results = run_checks(checks, target, timeout=timeout, max_workers=max_workers)
    return HealthReport(stage=target.name, status=overall(results), checks=results,
                        duration_ms=round((time.perf_counter() - started) * 1000, 1),
                        idle=target.idle, api_url=target.api_url)
