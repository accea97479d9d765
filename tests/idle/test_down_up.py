"""idle down / up on a hand-built DEV stage (moto): order, snapshot, exact restore, repeats."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from garmaxctl.services import idle
from garmaxctl.shared import contract
from garmaxctl.shared.errors import OperationError
from garmaxctl.stage.prices import prices_for
from tests.idle import builder
from tests.idle.conftest import FaultInjector

STAGE = "DEV"
SNAPSHOT = idle.snapshot_param(STAGE)


def _document(dev) -> dict:
    value = dev.parameter(SNAPSHOT)
    assert value is not None, "no snapshot"
    return json.loads(value)


def test_down_then_up_restores_the_default_stage_and_archives_the_snapshot(dev) -> None:
    dev.build()
    before = dev.observe()

    report = dev.engine().down()
    assert report.ok and report.outcome == "idle", report
    assert dev.observe() == builder.idle_expectations(before)
    document = _document(dev)
    assert document["phase"] == "idle" and document["idle_since"]

    report = dev.engine().up()
    assert report.ok and report.outcome == "restored", report
    assert dev.observe() == before
    assert dev.parameter(SNAPSHOT) is None  # archived, not left behind
    archived = json.loads(dev.parameter(report.archived_to))
    assert archived["phase"] == "restored"
    assert archived["resources"] == document["resources"]
    assert [c.status for c in report.checks if c.name == "read back"] == ["ok"]


def test_snapshot_is_written_before_any_change(dev) -> None:
    dev.build()
    seen: dict = {}

    def first_change(operation: str, params: dict) -> bool:
        if operation not in ("PutParameter", "DeleteParameter") and not seen:
            seen["operation"] = operation
            seen["snapshot"] = dev.parameter(SNAPSHOT)
        return False

    dev.engine(FaultInjector(when=first_change)).down()
    assert seen["operation"] == "DisableAlarmActions"  # paging alarms first
    document = json.loads(seen["snapshot"])
    assert document["phase"] == "applying"
    api = contract.function_name(contract.Function.API, STAGE)
    assert document["resources"]["functions"][api]["reserved"] is None


def test_snapshot_document_is_versioned_and_records_who_when_plan_and_each_step(dev) -> None:
    dev.build()
    dev.engine().down()
    document = _document(dev)
    for key in ("schema", "stage", "phase", "created_at", "created_by"):
        assert document[key], key
    assert document["schema"] == idle.SCHEMA and document["stage"] == STAGE
    assert "arn:aws:sts::" in document["created_by"]
    assert document["tool_version"]
    assert dt.datetime.fromisoformat(document["created_at"].replace("Z", "+00:00"))
    resources = document["resources"]
    processor = contract.function_name(contract.Function.TRYON_PROCESSOR, STAGE)
    assert resources["functions"][processor] == {"role": "consumer", "reserved": 2}
    assert resources["functions"][contract.function_name("StripeWebhook", STAGE)]["role"] == \
        "keep"
    assert sorted(m["enabled"] for m in resources["mappings"].values()) == [True] * 3
    assert {name: r["enabled"] for name, r in resources["rules"].items()} == {
        "GarmaxAi-TryonProcessed-DEV": True, "GarmaxAi-RenderRequested-DEV": True,
        "GarmaxAi-BudgetAlerts-DEV": False}
    (service,) = resources["services"].values()
    assert service["desired"] == 1 and service["scaling"] == {"min": 1, "max": 4}
    assert resources["clusters"] == {"garmaxai-cluster-dev": {"status": "available",
                                                              "instances": 0}}
    assert resources["alarms"] == {"GarmaxAI-ApiErrorRate-DEV": {"actions": True},
                                   "GarmaxAI-IdleActivity-DEV": {"actions": False},
                                   "GarmaxAI-LambdaDuration-DEV": {"actions": False},
                                   "GarmaxAI-TryonDlqNotEmpty-DEV": {"actions": True}}
    assert "not supported" in document["provisioned_concurrency"]
    # The plan, and each step's result as it completed.
    assert len(document["plan"]) == 15
    assert [key for key, _ in document["plan"]][:4] == [
        "alarm:GarmaxAI-ApiErrorRate-DEV", "alarm:GarmaxAI-TryonDlqNotEmpty-DEV",
        "reserved:GarmaxAi-Api-DEV", f"mapping:{next(iter(resources['mappings']))}"]
    assert set(document["steps"]["down"]) == {key for key, _ in document["plan"]}
    assert all(re.fullmatch(r"done \+\d+s", step) for step in document["steps"]["down"].values())


def test_apply_order_is_paging_ingress_consumers_rules_ecs_aurora_alarm_and_up_reverses_it(
        dev) -> None:
    dev.build()
    calls: list[str] = []

    def record(operation: str, params: dict) -> bool:
        if operation not in ("PutParameter", "DeleteParameter"):
            name = params.get("FunctionName") or params.get("Name") or \
                params.get("DBClusterIdentifier") or params.get("service") or \
                params.get("ResourceId") or params.get("UUID") or params.get("AlarmNames")
            calls.append(f"{operation} {name}")
        return False

    dev.engine(FaultInjector(when=record)).down()
    ops = [c.split()[0] for c in calls]
    assert ops == (["DisableAlarmActions"] * 2  # paging alarms paused before the API stops
                   + ["PutFunctionConcurrency"] + ["UpdateEventSourceMapping"] * 3
                   + ["PutFunctionConcurrency"] * 3 + ["DisableRule"] * 2
                   + ["RegisterScalableTarget", "UpdateService", "StopDBCluster",
                      "EnableAlarmActions"])
    assert calls[2].endswith("GarmaxAi-Api-DEV")
    assert not any("StripeWebhook" in c for c in calls)  # payments keep arriving
    calls.clear()
    dev.engine(FaultInjector(when=record)).up()
    up_ops = [c.split()[0] for c in calls]
    assert up_ops == (["DisableAlarmActions", "StartDBCluster", "UpdateService",
                       "RegisterScalableTarget"] + ["EnableRule"] * 2
                      + ["PutFunctionConcurrency"] * 3 + ["UpdateEventSourceMapping"] * 3
                      + ["DeleteFunctionConcurrency"]
                      + ["EnableAlarmActions"] * 2)  # paging alarms back last


def test_unset_concurrency_is_restored_unset_and_disabled_rules_stay_disabled(dev) -> None:
    dev.build()
    api = contract.function_name(contract.Function.API, STAGE)
    lam = builder.client("lambda")
    dev.engine().down()
    assert lam.get_function_concurrency(FunctionName=api)["ReservedConcurrentExecutions"] == 0
    dev.engine().up()
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=api)
    rule = builder.client("events").describe_rule(Name="GarmaxAi-BudgetAlerts-DEV",
                                                  EventBusName="GarmaxAi-Tryon-DEV")
    assert rule["State"] == "DISABLED"


def test_second_idle_down_keeps_original_snapshot(dev) -> None:
    dev.build()
    first = dev.engine().down()
    original = _document(dev)
    second = dev.engine().down()
    assert second.ok and second.outcome == "already idle"
    assert all(step.status == "unchanged" for step in second.steps)
    document = _document(dev)
    assert document["resources"] == original["resources"]
    assert document["created_at"] == original["created_at"] == first.created_at
    before_up = dev.observe()
    dev.engine().up()
    assert dev.observe() != before_up  # restored to the first snapshot's values, not idle's


def test_second_down_completes_what_is_missing_and_records_new_resources(dev) -> None:
    dev.build()
    dev.engine().down()
    original = _document(dev)
    events = builder.client("events")
    events.enable_rule(Name="GarmaxAi-TryonProcessed-DEV", EventBusName="GarmaxAi-Tryon-DEV")
    events.put_rule(Name="GarmaxAi-Late-DEV", EventBusName="GarmaxAi-Tryon-DEV",
                    EventPattern='{"source": ["late"]}', State="ENABLED")
    report = dev.engine().down()
    assert report.ok
    done = {s.key for s in report.steps if s.status == "done"}
    assert done == {"rule:GarmaxAi-TryonProcessed-DEV",
                    "rule:GarmaxAi-Late-DEV"}
    document = _document(dev)
    rules = document["resources"]["rules"]
    assert rules["GarmaxAi-TryonProcessed-DEV"]["enabled"] is True  # the recorded value kept
    assert rules["GarmaxAi-Late-DEV"]["enabled"] is True  # added
    assert document["created_at"] == original["created_at"]
    dev.engine().up()
    assert events.describe_rule(Name="GarmaxAi-Late-DEV",
                                EventBusName="GarmaxAi-Tryon-DEV")["State"] == "ENABLED"


def test_up_twice_and_up_without_down_report_not_idle(dev) -> None:
    dev.build()
    before = dev.observe()
    report = dev.engine().up()
    assert report.ok and report.outcome == "not idle" and not report.steps
    assert dev.observe() == before
    dev.engine().down()
    assert dev.engine().up().outcome == "restored"
    again = dev.engine().up()
    assert again.ok and again.outcome == "not idle"
    assert dev.observe() == before


def test_dry_run_prints_the_plan_and_changes_nothing(dev) -> None:
    dev.build()
    before = dev.observe()
    report = dev.engine().down(dry_run=True)
    assert report.outcome == "planned" and report.dry_run
    assert sum(s.status == "planned" for s in report.steps) == 15
    assert dev.observe() == before
    assert dev.parameters_under(contract.ops_prefix(STAGE)) == []
    dev.engine().down()
    idle_state = dev.observe()
    up_plan = dev.engine().up(dry_run=True)
    assert sum(s.status == "planned" for s in up_plan.steps) == 15
    assert dev.observe() == idle_state and dev.parameter(SNAPSHOT) is not None


def test_aurora_is_stopped_only_as_a_cluster_and_a_stopped_one_is_left_stopped(dev) -> None:
    spec = builder.default_spec()
    spec.clusters = {"garmaxai-cluster-dev": "stopped"}
    dev.build(spec)
    report = dev.engine().down()
    (step,) = [s for s in report.steps if s.attribute == "cluster"]
    assert step.status == "unchanged"
    dev.engine().up()
    assert dev.observe()["cluster:garmaxai-cluster-dev"] == "stopped"


def test_status_shows_an_aurora_cluster_aws_restarted_after_seven_days_as_drift(dev) -> None:
    dev.build()
    dev.engine().down()
    builder.client("rds").start_db_cluster(DBClusterIdentifier="garmaxai-cluster-dev")
    later = dev.now + dt.timedelta(days=7, hours=1)
    status = dev.engine(clock=lambda: later).status()
    assert status.idle and status.phase == "idle"
    assert status.idle_for_s == pytest.approx(dt.timedelta(days=7, hours=1).total_seconds(),
                                              abs=1)
    (row,) = [r for r in status.resources if r.attribute == "cluster"]
    assert row.drift and row.live == "available" and "after 7 days" in row.note
    assert any("garmaxai-cluster-dev" in line for line in status.drift)
    # The next down stops it again and keeps the original snapshot.
    report = dev.engine().down()
    assert [s.key for s in report.steps if s.status == "done"] == [
        "cluster:garmaxai-cluster-dev"]
    assert dev.observe()["cluster:garmaxai-cluster-dev"] == "stopped"


def test_status_estimates_the_saving_from_the_price_table(dev) -> None:
    dev.build()
    status = dev.engine().status()
    assert not status.idle and status.phase is None
    prices = prices_for(dev.aws().stage)
    expected = prices.fargate_task_hour * 1 + prices.aurora_instance_hour * 1
    assert status.saving.per_hour == pytest.approx(expected, abs=1e-4)
    assert status.saving.per_month == pytest.approx(expected * 730, abs=0.01)
    assert {i["resource"].split()[0] for i in status.saving.out_of_scope} == {"ElastiCache",
                                                                             "NAT"}
    assert any("ElastiCache and NAT" in note for note in status.notes)


def test_prod_price_table_counts_two_aurora_instances_and_larger_tasks() -> None:
    from garmaxctl.shared.stages import get_stage_config

    prod = prices_for(get_stage_config("PROD"))
    dev = prices_for(get_stage_config("DEV"))
    assert prod.aurora_instances == 2 and prod.aurora_instance_hour == 0.29
    assert prod.fargate_task_hour == pytest.approx(0.04937, abs=1e-5)
    assert dev.fargate_task_hour == pytest.approx(0.01234, abs=1e-5)
    assert prod.nat_gateways == 3 and prices_for(get_stage_config("LOCAL")).nat_gateways == 0


def test_a_snapshot_over_4kb_is_stored_in_the_advanced_tier(dev) -> None:
    spec = builder.default_spec()
    spec.rules = {f"Rule{i:03d}": True for i in range(30)}
    dev.build(spec)
    dev.engine().down()
    value = dev.parameter(SNAPSHOT)
    assert len(value.encode()) > contract.STANDARD_TIER_LIMIT
    meta = builder.client("ssm").describe_parameters(ParameterFilters=[
        {"Key": "Name", "Values": [SNAPSHOT]}])["Parameters"][0]
    assert meta["Tier"] == "Advanced"
    assert dev.engine().up().ok


def test_a_snapshot_over_8kb_is_refused_before_any_change(dev) -> None:
    spec = builder.default_spec()
    spec.rules = {f"Rule{i:03d}": True for i in range(150)}
    dev.build(spec)
    before = dev.observe()
    with pytest.raises(idle.SnapshotTooLargeError, match="8192-byte"):
        dev.engine().down()
    assert dev.observe() == before
    assert dev.parameters_under(contract.ops_prefix(STAGE)) == []  # lock released too


def test_encode_document_picks_the_tier_by_size() -> None:
    small = {"schema": 1, "x": "a" * 100}
    assert idle.encode_document(small)[1] == "Standard"
    assert idle.encode_document({"schema": 1, "x": "a" * 5000})[1] == "Advanced"
    assert idle.encode_document({"schema": 1, "tier": "Advanced"})[1] == "Advanced"
    with pytest.raises(idle.SnapshotTooLargeError):
        idle.encode_document({"x": "a" * 9000})


def test_provisioned_concurrency_unsupported_by_the_target_is_recorded_and_skipped(dev) -> None:
    dev.build()
    report = dev.engine().down()
    assert not any(s.attribute == "provisioned" for s in report.steps)
    assert "Not yet implemented" in _document(dev)["provisioned_concurrency"]


def test_resources_of_other_stages_are_never_touched(dev) -> None:
    dev.build()
    qa = builder.default_spec("QA")
    qa.services, qa.clusters = [], {}
    builder.build(qa)
    before = dev.observe()
    dev.engine().down()
    after = dev.observe()
    for key, value in before.items():
        if "-QA" in key or key.endswith("other-stage"):
            assert after[key] == value, key


def test_an_attribute_recorded_but_gone_is_reported_not_fatal(dev) -> None:
    dev.build()
    dev.engine().down()
    builder.client("events").delete_rule(Name="GarmaxAi-TryonProcessed-DEV",
                                         EventBusName="GarmaxAi-Tryon-DEV")
    report = dev.engine().up()
    assert report.ok and report.outcome == "restored"
    gone = [s for s in report.steps if s.status == "gone"]
    assert [s.key for s in gone] == ["rule:GarmaxAi-TryonProcessed-DEV"]
    assert any(c.status == "warn" for c in report.checks)


def test_a_snapshot_idle_cannot_read_is_an_error_and_nothing_changes(dev) -> None:
    dev.build()
    before = dev.observe()
    builder.client("ssm").put_parameter(Name=SNAPSHOT, Type="String", Value=json.dumps(
        {"schema": 99, "stage": STAGE, "phase": "idle", "created_at": "x", "created_by": "y"}))
    for action in ("down", "up"):
        with pytest.raises(OperationError, match="not one this garmaxctl can restore"):
            getattr(dev.engine(), action)()
    assert dev.observe() == before
    assert dev.parameter(idle.lock_param(STAGE)) is None
