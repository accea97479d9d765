"""``garmaxctl idle`` and ``deploy`` through CliRunner against a moto-backed DEV stage."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from garmaxctl.services import idle
from tests.cli.conftest import Run, assert_envelope
from tests.idle import builder
from tests.idle.conftest import FaultInjector


@pytest.fixture
def cli(tmp_path) -> Run:
    return Run(tmp_path)


def test_down_status_up_in_json(dev, cli) -> None:
    dev.build()
    before = dev.observe()
    result, document = cli.json("-s", "dev", "idle", "down")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert_envelope(document, exit_code=0, command="idle down")
    data = document["data"]
    assert data["outcome"] == "idle" and data["phase"] == "idle"
    assert data["kept_running"] == ["GarmaxAi-StripeWebhook-DEV"]
    assert sum(s["status"] == "done" for s in data["steps"]) == 15

    result, document = cli.json("-s", "dev", "idle", "status")
    assert result.exit_code == 0
    assert_envelope(document, exit_code=0, command="idle status")
    status = document["data"]
    assert status["idle"] is True and status["phase"] == "idle" and status["lock"] is None
    assert status["drift"] == []
    assert status["saving"]["per_month"] > 0
    assert {i["resource"].split()[0] for i in status["saving"]["out_of_scope"]} == {
        "ElastiCache", "NAT"}

    result, document = cli.json("-s", "dev", "idle", "up")
    assert result.exit_code == 0, result.stdout
    assert document["data"]["outcome"] == "restored"
    assert document["data"]["archived_to"].startswith("/garmaxai/ops/DEV/idle/archive/")
    assert dev.observe() == before


def test_table_output_names_steps_kept_function_and_summary(dev, cli) -> None:
    dev.build()
    result = cli("-s", "dev", "idle", "down", "--dry-run")
    assert result.exit_code == 0
    assert "dry run: 15 change(s) planned" in result.stdout
    assert "GarmaxAi-Api-DEV" in result.stdout and "planned" in result.stdout
    result = cli("-s", "dev", "idle", "down")
    assert "kept running: GarmaxAi-StripeWebhook-DEV" in result.stdout
    assert "stage DEV is idle" in result.stdout
    again = cli("-s", "dev", "idle", "down")
    assert again.exit_code == 0 and "already idle" in again.stdout
    status = cli("-s", "dev", "idle", "status")
    assert "idle since" in status.stdout and "lock: free" in status.stdout
    assert "estimated saving" in status.stdout and "ElastiCache" in status.stdout


def test_up_without_down_exits_0_and_says_not_idle(dev, cli) -> None:
    dev.build()
    result, document = cli.json("-s", "dev", "idle", "up")
    assert result.exit_code == 0
    assert document["data"]["outcome"] == "not idle"


@pytest.mark.parametrize("operation", ["PutFunctionConcurrency", "UpdateEventSourceMapping",
                                       "DisableRule", "RegisterScalableTarget",
                                       "UpdateService", "StopDBCluster",
                                       "EnableAlarmActions"])
def test_each_steps_failure_reaches_the_report_and_the_exit_code(dev, cli, monkeypatch,
                                                                  operation) -> None:
    dev.build()
    from garmaxctl.aws import AwsTarget

    make_session = AwsTarget._make_session

    def with_fault(self):  # type: ignore[no-untyped-def]
        session = make_session(self)
        session.events.register("before-parameter-build",
                                FaultInjector(when=lambda op, _p: op == operation))
        return session

    monkeypatch.setattr(AwsTarget, "_make_session", with_fault)
    result, document = cli.json("-s", "dev", "idle", "down")
    assert result.exit_code == 1
    assert_envelope(document, exit_code=1, command="idle down")
    assert document["error"]["code"] == "partial_failure"
    assert operation in document["error"]["message"]
    failed = [s for s in document["data"]["steps"] if s["status"] == "failed"]
    assert len(failed) == 1 and "InjectedFault" in failed[0]["detail"]
    table = cli("-s", "dev", "idle", "down")  # still failing: the table says so too
    assert table.exit_code == 1 and "idle down failed" in table.stdout


def test_a_failed_read_back_fails_up_and_keeps_the_snapshot(dev, monkeypatch) -> None:
    dev.build()
    dev.engine().down()
    engine = dev.engine()
    real_read = engine.read

    def stale_read(attr, resources):  # type: ignore[no-untyped-def]
        value = real_read(attr, resources)
        return 0 if attr.kind == "reserved" and value is None else value

    monkeypatch.setattr(engine, "read", stale_read)
    report = engine.up()
    assert not report.ok and "read back" in report.error
    assert dev.parameter(idle.snapshot_param("DEV")) is not None
    assert dev.engine().up().ok  # the next run finishes and archives


def test_prod_down_without_yes_or_terminal_is_refused(cli) -> None:
    result, document = cli.json("-s", "prod", "idle", "down")
    assert result.exit_code == 2
    assert document["error"]["code"] == "confirmation_required"
    assert "--yes" in document["error"]["message"]


def test_status_of_a_stale_lock_says_break_lock(dev, cli) -> None:
    dev.build()
    engine = dev.engine()
    engine.acquire_lock("down")
    ssm = builder.client("ssm")
    data = json.loads(ssm.get_parameter(Name=idle.lock_param("DEV"))["Parameter"]["Value"])
    data["expires_at"] = "2000-01-01T00:00:00Z"
    ssm.put_parameter(Name=idle.lock_param("DEV"), Value=json.dumps(data), Type="String",
                      Overwrite=True)
    status = cli("-s", "dev", "idle", "status")
    assert "STALE: break it with --break-lock" in status.stdout
    refused, document = cli.json("-s", "dev", "idle", "down")
    assert refused.exit_code == 1 and document["error"]["code"] == "idle_locked"
    broken = cli("-s", "dev", "idle", "down", "--break-lock")
    assert broken.exit_code == 0 and "broke a stale lock" in broken.stdout


def test_deploy_refuses_while_idle_and_says_run_idle_up(dev, cli) -> None:
    dev.build()
    dev.engine().down()
    result, document = cli.json("-s", "dev", "deploy")
    assert result.exit_code == 2
    assert document["error"]["code"] == "stage_idle"
    assert "garmaxctl idle up" in document["error"]["message"]
    assert "--force" in document["error"]["message"]


def test_deploy_with_force_passes_the_idle_check_with_a_warning(dev, capsys) -> None:
    from garmaxctl.cli import GlobalOptions
    from garmaxctl.commands.deploy import _refuse_while_idle

    dev.build()
    dev.engine().down()
    opts = GlobalOptions.create(stage="dev", profile=None, region=None, endpoint_url=None,
                                output="table", yes=False, verbose=False, no_color=True,
                                env_file=".env")
    _refuse_while_idle(opts, True)  # no exception
    assert "deploying while DEV is idle (--force)" in capsys.readouterr().err


def test_deploy_check_passes_when_not_idle(dev) -> None:
    from garmaxctl.cli import GlobalOptions
    from garmaxctl.commands.deploy import _refuse_while_idle

    dev.build()
    opts = GlobalOptions.create(stage="dev", profile=None, region=None, endpoint_url=None,
                                output="table", yes=False, verbose=False, no_color=True,
                                env_file=".env")
    _refuse_while_idle(opts, False)
    dev.engine().down()
    dev.engine().up()
    _refuse_while_idle(opts, False)  # archived: no longer idle


def test_idle_state_summary_for_other_commands(dev) -> None:
    dev.build()
    aws = dev.aws()
    assert idle.idle_state(aws).idle is False
    dev.engine().down()
    state = idle.idle_state(aws)
    assert state.idle and state.phase == "idle" and state.created_by
    document = idle.read_snapshot(aws)
    assert {"schema", "stage", "phase", "created_at", "created_by"} <= set(document)


def test_an_aws_error_outside_a_step_reaches_the_report(dev) -> None:
    dev.build()
    engine = dev.engine()

    def hook(model, params, **_):  # type: ignore[no-untyped-def]
        if model.name == "ListFunctions":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}},
                              "ListFunctions")

    engine.aws.session.events.register("before-parameter-build", hook)
    report = engine.down()
    assert not report.ok and "AccessDenied" in report.error
    assert dev.parameter(idle.lock_param("DEV")) is None  # the lock was released
