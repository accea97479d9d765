"""``garmaxctl health``: every check of a stage, run concurrently with per-check timeouts.

A check is a small function of a :class:`Target` (the stage's AWS target, its stack
outputs, the API base URL, the idle snapshot) returning a :class:`CheckResult`. All checks
of a stage run in a thread pool: the report takes about as long as the slowest check, not
their sum (``benchmarks/bench_health.py``). A check that overruns its timeout is reported
as failed ("timed out"); it never holds the report up.

On LOCAL the API checks call the local gateway (``emulator.status().api_url``), never the
stack's ``ApiUrl`` output: moto's API Gateway cannot invoke Lambda (DESIGN.md, "LOCAL").
A function whose reserved concurrency is 0, an Aurora cluster that is stopped, an API
that answers 429 are "idle", not broken, while the stage's idle snapshot exists
(``/garmaxai/ops/{STAGE}/idle/snapshot``): that is what ``idle down`` leaves behind.

Services never print: this module returns a :class:`HealthReport`.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from garmaxctl import contract
from garmaxctl.aws import error_code

if TYPE_CHECKING:
    from garmaxctl.aws import AwsTarget

OK, WARN, FAIL, IDLE, SKIPPED = "ok", "warn", "fail", "idle", "skipped"
HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
DEFAULT_TIMEOUT_S = 10.0
MAX_WORKERS = 32
SLOW_API_MS = 3000.0  # an API answer slower than this is "warn"


# --------------------------------------------------------------------------- results

@dataclass
class CheckResult:
    name: str
    status: str  # ok | warn | fail | idle | skipped
    detail: str = ""
    latency_ms: float | None = None
    group: str = ""
    data: dict[str, Any] = field(default_factory=dict)


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
        counts = {s: 0 for s in (OK, WARN, FAIL, IDLE, SKIPPED)}
        for check in self.checks:
            counts[check.status] = counts.get(check.status, 0) + 1
        return counts

    def problems(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status in (FAIL, WARN)]


def overall(checks: Sequence[CheckResult]) -> str:
    """Any failure: unhealthy; any warning: degraded; otherwise healthy (idle is fine)."""
    if any(c.status == FAIL for c in checks):
        return UNHEALTHY
    if any(c.status == WARN for c in checks):
        return DEGRADED
    return HEALTHY


# --------------------------------------------------------------------------- the target

@dataclass
class Target:
    """What every check needs, read once before the checks run."""

    aws: AwsTarget
    stage: str
    outputs: dict[str, str]
    api_url: str | None  # base URL, ending in "/"; None when it cannot be known
    api_url_problem: str = ""
    idle_snapshot: dict[str, Any] | None = None

    @property
    def idle(self) -> bool:
        return self.idle_snapshot is not None

    @property
    def features(self) -> Any:
        return self.aws.stage.features

    def output(self, key: contract.OutputKey | str) -> str | None:
        return self.outputs.get(str(key)) or None


def read_idle_snapshot(aws: AwsTarget) -> dict[str, Any] | None:
    """The idle snapshot (its existence means the stage is idle), or None; an unreadable
    one still means idle."""
    from garmaxctl.stage.idle_state import read_snapshot

    stage = str(aws.stage.stage)
    try:
        snapshot = read_snapshot(aws, stage)
    except ValueError:
        return {"schema": None, "stage": stage, "phase": "unreadable"}
    if snapshot is None or isinstance(snapshot, dict):
        return snapshot
    return {"stage": stage, "phase": "unreadable"}


def local_api_url() -> tuple[str | None, str]:
    """The LOCAL gateway's base URL from the emulator's state, or why there is none."""
    from garmaxctl import emulator

    status = emulator.status()
    if not status.api_url:
        return None, ("the local API gateway is not running "
                      f"({status.detail or 'no platform'}); start it with `garmaxctl local up`")
    return status.api_url.rstrip("/") + "/", ""


def resolve_target(aws: AwsTarget, *, api_url: str | None = None) -> Target:
    """Read the stack outputs and the idle snapshot (in parallel) and find the API."""
    from garmaxctl.services.cdk import stack_outputs

    stage = str(aws.stage.stage)
    if aws.is_local:
        from garmaxctl.emulator import require_running

        require_running(str(aws.endpoint_url))
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        outputs_future = pool.submit(stack_outputs, aws)
        idle_future = pool.submit(read_idle_snapshot, aws)
        outputs = outputs_future.result()
        snapshot = idle_future.result()
    problem = ""
    if api_url is None:
        if aws.is_local:
            api_url, problem = local_api_url()
        else:
            api_url = outputs.get(str(contract.OutputKey.API_URL)) or None
            if api_url is None:
                problem = (f"stack {contract.stack_name(stage)} has no output "
                           f"{contract.OutputKey.API_URL}")
    if api_url and not api_url.endswith("/"):
        api_url += "/"
    return Target(aws=aws, stage=stage, outputs=outputs, api_url=api_url,
                  api_url_problem=problem, idle_snapshot=snapshot)


# --------------------------------------------------------------------------- HTTP

@dataclass
class HttpAnswer:
    status: int | None
    body: Any
    latency_ms: float
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def http_call(url: str, *, method: str = "GET", body: bytes | None = None,
              headers: dict[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT_S,
              context: Any = None) -> HttpAnswer:
    """One HTTP request; the answer's JSON body parsed when it is JSON. Never raises for
    an HTTP status: a connection failure is ``status=None`` with ``error``."""
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Accept": "application/json", **(headers or {})})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            status, raw = response.status, response.read()
            answer_headers = dict(response.headers.items())
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
        answer_headers = dict(error.headers.items()) if error.headers else {}
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return HttpAnswer(status=None, body=None,
                          latency_ms=round((time.perf_counter() - started) * 1000, 1),
                          error=f"{type(reason).__name__}: {reason}"[:200])
    latency = round((time.perf_counter() - started) * 1000, 1)
    try:
        parsed: Any = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw[:200].decode(errors="replace")
    return HttpAnswer(status=status, body=parsed, latency_ms=latency, headers=answer_headers)


def api_endpoint(target: Target, path: str) -> str:
    assert target.api_url is not None
    return target.api_url + path.lstrip("/")


# --------------------------------------------------------------------------- checks

CheckFn = Callable[[Target], CheckResult]


@dataclass
class Check:
    name: str
    group: str
    run: CheckFn
    timeout: float | None = None  # None: the report's default


def _client_error_code(exc: BaseException) -> str:
    return error_code(exc) or type(exc).__name__


def check_api_health(target: Target) -> CheckResult:
    name = "api /api/health"
    if not target.api_url:
        return CheckResult(name, FAIL, target.api_url_problem or "no API URL")
    answer = http_call(api_endpoint(target, "api/health"))
    data = {"url": api_endpoint(target, "api/health"), "http_status": answer.status,
            "body": answer.body}
    if answer.status is None:
        return CheckResult(name, FAIL, f"no answer: {answer.error}", answer.latency_ms, data=data)
    if answer.status == 429 and target.idle:
        return CheckResult(name, IDLE, "throttled: the stage is idle (`garmaxctl idle up`)",
                           answer.latency_ms, data=data)
    body = answer.body if isinstance(answer.body, dict) else {}
    if answer.status != 200 or body.get("status") != "ok":
        code = body.get("code") or body.get("status") or "unexpected answer"
        return CheckResult(name, FAIL, f"HTTP {answer.status}: {code}", answer.latency_ms,
                           data=data)
    status = WARN if answer.latency_ms > SLOW_API_MS else OK
    slow = f" (slow: over {SLOW_API_MS:.0f} ms)" if status == WARN else ""
    return CheckResult(name, status, f"200 ok, version {body.get('version', '?')}{slow}",
                       answer.latency_ms, data=data)


def check_api_storage(target: Target) -> CheckResult:
    name = "api /api/health/storage"
    if not target.api_url:
        return CheckResult(name, FAIL, target.api_url_problem or "no API URL")
    answer = http_call(api_endpoint(target, "api/health/storage"))
    data = {"url": api_endpoint(target, "api/health/storage"), "http_status": answer.status,
            "body": answer.body}
    if answer.status is None:
        return CheckResult(name, FAIL, f"no answer: {answer.error}", answer.latency_ms, data=data)
    if answer.status == 429 and target.idle:
        return CheckResult(name, IDLE, "throttled: the stage is idle", answer.latency_ms,
                           data=data)
    body = answer.body if isinstance(answer.body, dict) else {}
    entries = body.get("checks") or []
    failing = [f"{e.get('kind')} {e.get('name')}: {e.get('error')}" for e in entries
               if not e.get("ok")]
    if answer.status == 200 and body.get("status") == "ok":
        return CheckResult(name, OK, f"200 ok, {len(entries)} dependencies answer",
                           answer.latency_ms, data=data)
    detail = "; ".join(failing[:4]) or str(body.get("code") or body.get("status") or "?")
    return CheckResult(name, FAIL, f"HTTP {answer.status}: {detail}", answer.latency_ms,
                       data=data)


def function_check(function: contract.Function) -> CheckFn:
    def run(target: Target) -> CheckResult:
        fname = contract.function_name(function, target.stage)
        lambda_client = target.aws.client("lambda")
        try:
            config = lambda_client.get_function_configuration(FunctionName=fname)
        except Exception as exc:
            return CheckResult(f"function {function}", FAIL,
                               f"{fname}: {_client_error_code(exc)}")
        state = config.get("State", "Active")
        update = config.get("LastUpdateStatus", "Successful")
        concurrency = lambda_client.get_function_concurrency(FunctionName=fname).get(
            "ReservedConcurrentExecutions")
        data = {"function": fname, "state": state, "last_update_status": update,
                "reserved_concurrency": concurrency}
        limit = "unreserved" if concurrency is None else f"concurrency {concurrency}"
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


def _queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                      "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return (int(attributes.get("ApproximateNumberOfMessages", 0)),
            int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)))


def queue_check(queue: contract.Queue) -> CheckFn:
    def run(target: Target) -> CheckResult:
        name = f"queue {queue}"
        queue_key, dlq_key = contract.QUEUE_OUTPUTS[queue]
        url, dlq = target.output(queue_key), target.output(dlq_key)
        if not url or not dlq:
            return CheckResult(name, FAIL, f"stack output {queue_key} or {dlq_key} missing")
        sqs = target.aws.client("sqs")
        try:
            depth, in_flight = _queue_counts(sqs, url)
            dlq_depth, dlq_in_flight = _queue_counts(sqs, dlq)
        except Exception as exc:
            return CheckResult(name, FAIL, f"{_client_error_code(exc)}")
        data = {"depth": depth, "in_flight": in_flight, "dlq_depth": dlq_depth + dlq_in_flight}
        if dlq_depth + dlq_in_flight:
            return CheckResult(name, FAIL,
                               f"{dlq_depth + dlq_in_flight} message(s) in the DLQ "
                               f"(depth {depth}); inspect and redrive them", data=data)
        return CheckResult(name, OK, f"depth {depth}, in flight {in_flight}, DLQ empty",
                           data=data)

    return run


def table_check(spec: contract.TableSpec) -> CheckFn:
    def run(target: Target) -> CheckResult:
        name = f"table {spec.name}"
        table = target.output(spec.output)
        if not table:
            return CheckResult(name, FAIL, f"stack output {spec.output} missing")
        try:
            status = target.aws.client("dynamodb").describe_table(
                TableName=table)["Table"]["TableStatus"]
        except Exception as exc:
            return CheckResult(name, FAIL, f"{table}: {_client_error_code(exc)}")
        if status == "ACTIVE":
            return CheckResult(name, OK, "ACTIVE", data={"table": table})
        level = WARN if status == "UPDATING" else FAIL
        return CheckResult(name, level, status, data={"table": table})

    return run


def bucket_check(spec: contract.BucketSpec) -> CheckFn:
    def run(target: Target) -> CheckResult:
        name = f"bucket {spec.name}"
        bucket = target.output(spec.output)
        if not bucket:
            return CheckResult(name, FAIL, f"stack output {spec.output} missing")
        try:
            target.aws.client("s3").head_bucket(Bucket=bucket)
        except Exception as exc:
            return CheckResult(name, FAIL, f"{bucket}: {_client_error_code(exc)}")
        return CheckResult(name, OK, "reachable", data={"bucket": bucket})

    return run


def check_database(target: Target) -> CheckResult:
    name = "aurora"
    if not target.features.database:
        return CheckResult(name, SKIPPED, f"stage {target.stage} has no Aurora cluster")
    cluster = (target.output(contract.OutputKey.DATABASE_CLUSTER_ID)
               or contract.database_cluster_id(target.stage))
    try:
        found = target.aws.client("rds").describe_db_clusters(
            DBClusterIdentifier=cluster)["DBClusters"]
    except Exception as exc:
        return CheckResult(name, FAIL, f"{cluster}: {_client_error_code(exc)}")
    status = found[0]["Status"] if found else "missing"
    data = {"cluster": cluster, "status": status}
    if status == "available":
        return CheckResult(name, OK, f"{cluster} available", data=data)
    if status in ("stopped", "stopping", "starting") and target.idle:
        return CheckResult(name, IDLE, f"{cluster} {status} (idle)", data=data)
    level = WARN if status in ("backing-up", "modifying", "starting", "upgrading") else FAIL
    return CheckResult(name, level, f"{cluster} {status}", data=data)


def check_cache(target: Target) -> CheckResult:
    name = "redis"
    if not target.features.cache:
        return CheckResult(name, SKIPPED, f"stage {target.stage} has no ElastiCache Redis")
    group = (target.output(contract.OutputKey.CACHE_CLUSTER_ID)
             or contract.cache_cluster_id(target.stage))
    try:
        found = target.aws.client("elasticache").describe_replication_groups(
            ReplicationGroupId=group)["ReplicationGroups"]
    except Exception as exc:
        return CheckResult(name, FAIL, f"{group}: {_client_error_code(exc)}")
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


def check_parameters(target: Target) -> CheckResult:
    name = "parameters"
    paths = required_parameter_paths(target.stage)
    if not paths:
        return CheckResult(name, OK, f"{target.stage} requires none of the external secrets")
    ssm = target.aws.client("ssm")
    missing: list[str] = []
    for start in range(0, len(paths), 10):
        batch = paths[start:start + 10]
        answer = ssm.get_parameters(Names=batch, WithDecryption=False)
        missing += answer.get("InvalidParameters", [])
    prefix = contract.params_prefix(target.stage)
    data = {"required": len(paths), "missing": missing}
    if missing:
        short = ", ".join(m.removeprefix(prefix) for m in missing)
        return CheckResult(name, FAIL, f"missing under {prefix}: {short} "
                                       "(`garmaxctl params push`)", data=data)
    return CheckResult(name, OK, f"all {len(paths)} required entries present", data=data)


def alarms_in_alarm(aws: AwsTarget, stage: str) -> list[dict[str, Any]]:
    """The stage's alarms (``GarmaxAI-*-{STAGE}``) currently in ALARM."""
    cloudwatch = aws.client("cloudwatch")
    found: list[dict[str, Any]] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmNamePrefix="GarmaxAI-", StateValue="ALARM"):
        # Filtered here too: moto ignores StateValue when a name prefix is given.
        found += [a for a in page.get("MetricAlarms", [])
                  if a["AlarmName"].endswith(f"-{stage}") and a.get("StateValue") == "ALARM"]
    return found


def check_alarms(target: Target) -> CheckResult:
    name = "alarms"
    firing = alarms_in_alarm(target.aws, target.stage)
    activity = contract.alarm_name(contract.Alarm.ACTIVITY, target.stage)
    # The activity alarm is a wake-up signal for idle, not a fault.
    faults = [a["AlarmName"] for a in firing if a["AlarmName"] != activity]
    data = {"in_alarm": [a["AlarmName"] for a in firing]}
    if faults:
        return CheckResult(name, WARN, "in ALARM: " + ", ".join(faults), data=data)
    note = " (activity alarm in ALARM: traffic while idle)" if len(firing) > len(faults) else ""
    return CheckResult(name, OK, "none in ALARM" + note, data=data)


def build_checks(stage_features: Any) -> list[Check]:
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

def run_checks(checks: Sequence[Check], target: Target, *,
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


def run_health(aws: AwsTarget, *, timeout: float = DEFAULT_TIMEOUT_S,
               api_url: str | None = None, target: Target | None = None,
               checks: Sequence[Check] | None = None,
               max_workers: int = MAX_WORKERS) -> HealthReport:
    """Resolve the stage (outputs, API, idle state), then run every check concurrently."""
    started = time.perf_counter()
    target = target or resolve_target(aws, api_url=api_url)
    checks = list(checks) if checks is not None else build_checks(aws.stage.features)
    results = run_checks(checks, target, timeout=timeout, max_workers=max_workers)
    return HealthReport(stage=target.stage, status=overall(results), checks=results,
                        duration_ms=round((time.perf_counter() - started) * 1000, 1),
                        idle=target.idle, api_url=target.api_url)
