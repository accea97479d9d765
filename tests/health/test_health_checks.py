"""``health`` on a real stage under moto (DEV): each check healthy, then broken.

The DEV fixture (conftest) has every resource and a fake API; each test breaks one thing.
"""

from __future__ import annotations

import json
import threading

import pytest

from garmaxctl.services import health
from garmaxctl.services.health import FAIL, IDLE, OK, SKIPPED, WARN, Check, CheckResult
from garmaxctl.shared import contract
from garmaxctl.stage.target import StageTarget

DEV = "DEV"
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")


def by_name(report: health.HealthReport) -> dict[str, CheckResult]:
    return {c.name: c for c in report.checks}


def test_every_check_is_ok_on_a_healthy_dev_stage(dev) -> None:
    report = health.run_health(dev.target())
    checks = by_name(report)
    assert report.status == health.HEALTHY, [(c.name, c.detail) for c in report.problems()]
    assert {c.status for c in report.checks} == {OK}
    assert checks["aurora"].detail.endswith("available")
    assert checks["redis"].detail.endswith("available")
    assert checks["parameters"].data["required"] == len(contract.required_env_keys(DEV))
    assert checks["api /api/health"].data["url"] == dev.api.url + "api/health"
    assert all(c.latency_ms is not None for c in report.checks)


def test_api_answering_an_error_is_unhealthy(dev) -> None:
    dev.api.mode = "down"
    checks = by_name(health.run_health(dev.target()))
    assert checks["api /api/health"].status == FAIL
    assert "HTTP 502" in checks["api /api/health"].detail


def test_api_not_listening_is_unhealthy(dev) -> None:
    dev.api.server.shutdown()
    dev.api.server.server_close()
    report = health.run_health(dev.target(), timeout=5)
    checks = by_name(report)
    assert report.status == health.UNHEALTHY
    assert checks["api /api/health"].status == FAIL
    assert "no answer" in checks["api /api/health"].detail


def test_degraded_storage_names_the_failing_dependency(dev) -> None:
    dev.api.mode = "storage_degraded"
    check = by_name(health.run_health(dev.target()))["api /api/health/storage"]
    assert check.status == FAIL
    assert "HTTP 503" in check.detail and "ResourceNotFoundException" in check.detail


def test_missing_required_parameter_fails_and_names_it(dev) -> None:
    path = contract.PARAMS_BY_ENV_KEY["STRIPE_WEBHOOK_SECRET"].full_path(DEV)
    dev.client("ssm").delete_parameter(Name=path)
    check = by_name(health.run_health(dev.target()))["parameters"]
    assert check.status == FAIL
    assert "stripe/webhook-secret" in check.detail
    assert check.data["missing"] == [path]


def test_local_requires_none_of_the_external_secrets() -> None:
    assert health.required_parameter_paths("LOCAL") == []
    assert health.required_parameter_paths("PROD")


def test_non_empty_dlq_fails_its_queue(dev) -> None:
    dlq = dev.outputs[str(contract.OutputKey.RENDER_DLQ_URL)]
    dev.client("sqs").send_message(QueueUrl=dlq, MessageBody="poison")
    checks = by_name(health.run_health(dev.target()))
    assert checks["queue Render"].status == FAIL
    assert "1 message(s) in the DLQ" in checks["queue Render"].detail
    assert checks["queue Tryon"].status == OK


def test_queue_depth_is_reported_not_failed(dev) -> None:
    queue = dev.outputs[str(contract.OutputKey.TRYON_QUEUE_URL)]
    for _ in range(3):
        dev.client("sqs").send_message(QueueUrl=queue, MessageBody="{}")
    check = by_name(health.run_health(dev.target()))["queue Tryon"]
    assert check.status == OK and check.data["depth"] == 3


def test_alarm_in_alarm_degrades_but_the_activity_alarm_does_not(dev) -> None:
    cloudwatch = dev.client("cloudwatch")
    cloudwatch.set_alarm_state(AlarmName=contract.alarm_name(contract.Alarm.ACTIVITY, DEV),
                               StateValue="ALARM", StateReason="traffic")
    report = health.run_health(dev.target())
    assert report.status == health.HEALTHY
    assert by_name(report)["alarms"].detail == "none in ALARM"  # traffic outside idle: normal
    assert by_name(report)["alarms"].data["notable"] == []
    from garmaxctl.stage.idle_state import snapshot_param

    dev.client("ssm").put_parameter(Name=snapshot_param(DEV), Type="String", Value=json.dumps(
        {"schema": 1, "stage": DEV, "phase": "idle", "resources": {}}))
    report = health.run_health(dev.target())  # idle: the same alarm is news
    assert report.status == health.HEALTHY
    assert "activity alarm in ALARM: traffic while idle" in by_name(report)["alarms"].detail
    assert by_name(report)["alarms"].data["notable"] == [
        contract.alarm_name(contract.Alarm.ACTIVITY, DEV)]
    dev.client("ssm").delete_parameter(Name=snapshot_param(DEV))
    name = contract.alarm_name(contract.Alarm.LAMBDA_ERRORS, DEV)
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    report = health.run_health(dev.target())
    assert report.status == health.DEGRADED
    assert by_name(report)["alarms"].status == WARN
    assert name in by_name(report)["alarms"].detail


def test_missing_table_and_bucket_fail(dev) -> None:
    dev.client("dynamodb").delete_table(TableName=dev.outputs["QuotasTableName"])
    dev.client("s3").delete_bucket_policy(Bucket=dev.outputs["GuidanceBucketName"])
    dev.client("s3").delete_public_access_block(Bucket=dev.outputs["GuidanceBucketName"])
    dev.client("s3").delete_bucket(Bucket=dev.outputs["GuidanceBucketName"])
    checks = by_name(health.run_health(dev.target()))
    assert checks["table Quotas"].status == FAIL
    assert "ResourceNotFoundException" in checks["table Quotas"].detail
    assert checks["bucket Guidance"].status == FAIL
    assert checks["table Sessions"].status == OK


def test_concurrency_zero_is_broken_without_an_idle_snapshot_and_idle_with_one(dev) -> None:
    name = contract.function_name(contract.Function.TRYON_PROCESSOR, DEV)
    dev.client("lambda").put_function_concurrency(FunctionName=name,
                                                  ReservedConcurrentExecutions=0)
    report = health.run_health(dev.target())
    assert by_name(report)["function TryonProcessor"].status == FAIL
    assert report.status == health.UNHEALTHY
    dev.put_idle_snapshot()
    report = health.run_health(dev.target())
    assert by_name(report)["function TryonProcessor"].status == IDLE
    assert report.idle and report.status == health.HEALTHY


def test_stopped_aurora_is_broken_unless_the_stage_is_idle(dev) -> None:
    cluster = contract.database_cluster_id(DEV)
    dev.client("rds").stop_db_cluster(DBClusterIdentifier=cluster)
    assert by_name(health.run_health(dev.target()))["aurora"].status == FAIL
    dev.put_idle_snapshot()
    assert by_name(health.run_health(dev.target()))["aurora"].status == IDLE


def test_missing_redis_fails(dev) -> None:
    dev.client("elasticache").delete_replication_group(
        ReplicationGroupId=contract.cache_cluster_id(DEV))
    check = by_name(health.run_health(dev.target()))["redis"]
    assert check.status == FAIL, check
    assert contract.cache_cluster_id(DEV) in check.detail


def test_stages_without_aurora_or_redis_skip_them() -> None:
    from garmaxctl.aws import AwsTarget
    from garmaxctl.shared.stages import get_stage_config
    from garmaxctl.stage.target import StageTarget

    target = StageTarget(AwsTarget(stage=get_stage_config("LOCAL")))
    assert health.check_database(target).status == SKIPPED
    assert health.check_cache(target).status == SKIPPED


# --------------------------------------------------------------------------- the runner

def _target(dev) -> StageTarget:
    return health.prepare(dev.target())


def test_a_check_past_its_timeout_fails_and_does_not_hold_the_report(dev) -> None:
    released = threading.Event()

    def hangs(_target: StageTarget) -> CheckResult:
        released.wait(30)  # set only after run_checks has returned
        return CheckResult("hangs", OK)

    def quick(_target: StageTarget) -> CheckResult:
        return CheckResult("quick", OK, "fine")

    try:
        results = health.run_checks([Check("hangs", "test", hangs, timeout=0.2),
                                     Check("quick", "test", quick)], _target(dev))
    finally:
        released.set()
    assert [(r.name, r.status) for r in results] == [("hangs", FAIL), ("quick", OK)]
    assert results[0].detail == "timed out after 0.2 s"


def test_a_check_that_raises_is_its_own_failure(dev) -> None:
    def boom(_target: StageTarget) -> CheckResult:
        raise RuntimeError("kaput")

    results = health.run_checks([Check("boom", "test", boom)], _target(dev))
    assert results[0].status == FAIL and "kaput" in results[0].detail


def test_checks_run_concurrently(dev) -> None:
    """Each check waits until all of them have started: only a concurrent runner ends."""
    count = 6
    barrier = threading.Barrier(count, timeout=10)

    def meets(_target: StageTarget) -> CheckResult:
        barrier.wait()
        return CheckResult("meets", OK)

    results = health.run_checks([Check(f"c{i}", "test", meets) for i in range(count)],
                                _target(dev), timeout=15)
    assert all(r.status == OK for r in results), [r.detail for r in results]


def test_overall_status_rules() -> None:
    def r(status: str) -> CheckResult:
        return CheckResult("x", status)

    assert health.overall([r(OK), r(IDLE), r(SKIPPED)]) == health.HEALTHY
    assert health.overall([r(OK), r(WARN)]) == health.DEGRADED
    assert health.overall([r(WARN), r(FAIL)]) == health.UNHEALTHY


@pytest.mark.parametrize("stage", ["DEV", "QA", "PROD"])
def test_required_parameters_follow_the_contract(stage: str) -> None:
    assert health.required_parameter_paths(stage) == [
        f"/garmaxai/{stage}/" + contract.PARAMS_BY_ENV_KEY[k].path
        for k in contract.required_env_keys(stage)]


def test_a_throttled_api_answers_500_and_is_idle_only_while_the_stage_is_idle(dev) -> None:
    """Issue 11 item 8: a REST API whose Lambda proxy function has reserved concurrency 0
    answers HTTP 500 {"message": "Internal server error"} (not 429). That is a failure on a
    running stage and "idle" on an idle one."""
    dev.api.mode = "throttled"
    report = health.run_health(dev.target())
    assert by_name(report)["api /api/health"].status == FAIL
    assert by_name(report)["api /api/health/storage"].status == FAIL
    dev.put_idle_snapshot()
    report = health.run_health(dev.target())
    for name in ("api /api/health", "api /api/health/storage"):
        assert by_name(report)[name].status == IDLE, by_name(report)[name]
    assert report.status == health.HEALTHY


def test_a_500_with_another_body_is_a_failure_even_while_idle(dev) -> None:
    dev.api.mode = "down"  # 502: the function ran and failed, it was not throttled
    dev.put_idle_snapshot()
    assert by_name(health.run_health(dev.target()))["api /api/health"].status == FAIL


def _inactive(target: StageTarget, function_name: str) -> StageTarget:
    """Lambda reports the function ``Inactive`` (moto has no function states): AWS sets a
    function that has not run for long Inactive, StateReasonCode ``Idle``."""
    def after_call(model, parsed, **_) -> None:
        if model.name == "GetFunctionConfiguration" and \
                parsed.get("FunctionName") == function_name:
            parsed.update(State="Inactive", StateReasonCode="Idle",
                          StateReason="The function is idle.")

    target.aws.session.events.register("after-call.lambda", after_call)
    return target


def test_an_inactive_function_is_idle_on_an_idle_stage_and_a_failure_otherwise(dev) -> None:
    """Issue 11 item 15: a function Lambda made Inactive during a long idle is not broken
    while the stage is idle (``idle up`` brings it back); on a running stage its next
    invoke fails, which is a failure."""
    name = contract.function_name(contract.Function.BILLING_PROCESSOR, DEV)
    check = by_name(health.run_health(_inactive(dev.target(), name)))["function BillingProcessor"]
    assert check.status == FAIL and "Inactive (Idle)" in check.detail
    dev.put_idle_snapshot()
    report = health.run_health(_inactive(dev.target(), name))
    check = by_name(report)["function BillingProcessor"]
    assert check.status == IDLE, check
    assert "idle up" in check.detail and check.data["state"] == "Inactive"
    assert report.status == health.HEALTHY


# --------------------------------------------------------------------------- queue clocks

DAY = 86400


def _age_datapoint(dev, queue_name: str, seconds: float, at) -> None:
    """The ``AWS/SQS ApproximateAgeOfOldestMessage`` datapoint AWS publishes every minute
    (moto publishes no AWS/* metric)."""
    dev.client("cloudwatch").put_metric_data(Namespace="AWS/SQS", MetricData=[{
        "MetricName": "ApproximateAgeOfOldestMessage", "Timestamp": at, "Value": seconds,
        "Unit": "Seconds", "Dimensions": [{"Name": "QueueName", "Value": queue_name}]}])


def _retention(dev, url: str, days: int) -> None:
    dev.client("sqs").set_queue_attributes(
        QueueUrl=url, Attributes={"MessageRetentionPeriod": str(days * DAY)})


def test_a_queue_whose_oldest_message_expires_within_three_days_warns(dev) -> None:
    """Issue 11 item 5: the age from CloudWatch, the retention from the queue."""
    import datetime as dt

    url = dev.outputs[str(contract.OutputKey.RENDER_QUEUE_URL)]
    _retention(dev, url, 14)
    for _ in range(2):
        dev.client("sqs").send_message(QueueUrl=url, MessageBody="{}")
    now = dt.datetime.now(dt.UTC)
    _age_datapoint(dev, "dev-Render", 11.5 * DAY, now - dt.timedelta(minutes=1))

    report = health.run_health(dev.target())

    check = by_name(report)["queue Render"]
    assert check.status == WARN, check
    assert "expires in 2d" in check.detail and "consumer is behind" in check.detail
    assert check.data["retention_s"] == 14 * DAY and check.data["age_from"] == "metric"
    assert check.data["expires_in_s"] == pytest.approx(2.5 * DAY, abs=300)
    assert check.data["depth"] == 2 and check.data["dlq_age_from"] == "empty"
    assert report.status == health.DEGRADED
    assert by_name(report)["queue Tryon"].status == OK


def test_an_idle_stage_without_the_metric_counts_from_the_snapshot(dev) -> None:
    import datetime as dt
    import json

    url = dev.outputs[str(contract.OutputKey.BILLING_QUEUE_URL)]  # 4 days' retention here
    dev.client("sqs").send_message(QueueUrl=url, MessageBody="{}")
    check = by_name(health.run_health(dev.target()))["queue Billing"]
    assert check.status == OK and check.data["age_from"] == "unknown"  # not idle, no metric

    taken = dt.datetime.now(dt.UTC) - dt.timedelta(days=2, hours=1)
    dev.client("ssm").put_parameter(
        Name=contract.ops_prefix(DEV) + contract.IDLE_SNAPSHOT_PARAM, Type="String",
        Value=json.dumps({"schema": 1, "stage": DEV, "phase": "idle",
                          "created_at": taken.strftime("%Y-%m-%dT%H:%M:%SZ"),
                          "created_by": "test"}))
    check = by_name(health.run_health(dev.target()))["queue Billing"]
    assert check.status == WARN, check
    assert check.data["age_from"] == "snapshot" and check.data["retention_s"] == 4 * DAY
    assert check.data["expires_in_s"] == pytest.approx(DAY + 23 * 3600, abs=120)
    assert "idle up" in check.detail


def test_a_dlq_message_warns_from_its_original_enqueue(dev) -> None:
    """A message parked 12 days, moved to the DLQ a day ago: the DLQ's metric counts from
    the move, its expiry from the original enqueue (AWS, standard queues)."""
    import datetime as dt

    queue = dev.outputs[str(contract.OutputKey.TRYON_QUEUE_URL)]
    dlq = dev.outputs[str(contract.OutputKey.TRYON_DLQ_URL)]
    _retention(dev, queue, 14)
    _retention(dev, dlq, 14)
    dev.client("sqs").send_message(QueueUrl=dlq, MessageBody="{}")
    now = dt.datetime.now(dt.UTC)
    _age_datapoint(dev, "dev-Tryon-dlq", DAY, now - dt.timedelta(minutes=1))
    _age_datapoint(dev, "dev-Tryon", 12 * DAY, now - dt.timedelta(days=1, minutes=10))

    check = by_name(health.run_health(dev.target()))["queue Tryon"]

    assert check.status == FAIL  # a DLQ message fails the queue, as before
    assert check.data["dlq_age_from"] == "metric+source"
    assert check.data["dlq_expires_in_s"] == pytest.approx(DAY, abs=3 * 3600)
    assert "DLQ dev-Tryon-dlq" in check.detail and "expires in" in check.detail
