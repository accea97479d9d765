"""``status --all-stages`` (moto: reachable, unreachable and wrong-account stages side by
side, version notes) and the CLI rules of smoke/verify on real stages."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from garmaxctl.services import smoke, status
from garmaxctl.shared import contract
from garmaxctl.shared.errors import UsageError
from tests.conftest import free_port
from tests.health.conftest import assert_envelope

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")


def put_marker(dev, stage: str, sha: str, time: str) -> None:
    dev.client("ssm").put_parameter(
        Name=contract.ops_prefix(stage) + contract.DEPLOY_MARKER_PARAM, Type="String",
        Overwrite=True, Value=json.dumps({"stage": stage, "git_sha": sha, "time": time,
                                          "caller": "ci", "tool_version": "0.1.0"}))


def test_all_stages_side_by_side_with_unreachable_stages_and_a_version_note(
        dev, cli, monkeypatch) -> None:
    monkeypatch.setenv("GARMAX_QA_ACCOUNT", "123456789012")
    monkeypatch.setenv("GARMAX_PROD_PROFILE", "no-such-profile")  # credentials missing
    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))  # emulator not running
    put_marker(dev, "DEV", "aaaaaaaaaaaa", "2026-03-01T10:00:00+00:00")
    put_marker(dev, "QA", "bbbbbbbbbbbb", "2026-03-02T10:00:00+00:00")
    result, document = cli.json("status", "--all-stages")
    assert result.exit_code == 0, result.stdout
    assert_envelope(document, exit_code=0, command="status")
    stages = {s["stage"]: s for s in document["data"]["stages"]}
    assert list(stages) == ["LOCAL", "DEV", "QA", "PROD"]
    assert stages["DEV"]["reachable"] and stages["DEV"]["health"] == "healthy"
    assert stages["DEV"]["version"] == "aaaaaaaaaaaa"
    assert stages["QA"]["reachable"] and stages["QA"]["health"] == "not deployed"
    assert not stages["PROD"]["reachable"] and "no-such-profile" in stages["PROD"]["error"]
    assert not stages["LOCAL"]["reachable"] and "emulator" in stages["LOCAL"]["error"]
    assert document["data"]["notes"] == [
        "QA runs bbbbbbbbbbbb, DEV runs aaaaaaaaaaaa: QA was deployed more recently"]
    table = cli("status", "--all-stages")
    assert "UNREACHABLE" in table.stdout and "note: QA runs bbbbbbbbbbbb" in table.stdout


def test_a_stage_with_another_account_is_unreachable_not_a_crash(dev, monkeypatch) -> None:
    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))
    report = status.all_stages_status()
    prod = next(s for s in report.stages if s.stage == "PROD")
    assert not prod.reachable and "333333333333" in prod.error  # moto is 123456789012


def test_single_stage_status_reads_spend_from_the_ledger_and_budgets(dev, cli) -> None:
    ledger = dev.outputs[str(contract.OutputKey.LEDGER_TABLE)]
    import datetime as dt

    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    dev.client("dynamodb").delete_table(TableName=ledger)
    dev.client("dynamodb").create_table(
        TableName=ledger, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}])
    from runtime.domain import budget

    dev.client("dynamodb").put_item(TableName=ledger, Item={
        "pk": {"S": budget.ledger_pk("DEV", day)}, "sk": {"S": budget.TOTAL_SK},
        "spentMicros": {"N": str(45 * 1_000_000)}, "renders": {"N": "9"}})
    dev.client("ssm").put_parameter(Name="/garmaxai/DEV/budget/daily-usd", Value="50",
                                    Type="String")
    result, document = cli.json("--stage", "dev", "status")
    assert result.exit_code == 0, result.stdout
    spend = document["data"]["spend"]
    assert spend["spent_usd"] == 45.0 and spend["budget_usd"] == 50.0
    assert spend["percent"] == 90.0 and spend["level"] != "closed"
    assert document["data"]["health"] == "healthy"


def test_smoke_on_a_real_stage_needs_allow_spend(dev, cli) -> None:
    result, document = cli.json("--stage", "DEV", "smoke")
    assert result.exit_code == 2 and "--allow-spend" in document["error"]["message"]


def test_smoke_on_a_real_stage_needs_a_token(dev, cli) -> None:
    result, document = cli.json("--stage", "DEV", "smoke", "--allow-spend")
    assert result.exit_code == 2 and "--token" in document["error"]["message"]


def _jwt(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.signature"


def test_token_subject_is_the_callers_sub() -> None:
    assert smoke.token_subject(_jwt({"sub": "abc-123", "token_use": "id"})) == "abc-123"
    with pytest.raises(UsageError):
        smoke.token_subject("not-a-jwt")
    with pytest.raises(UsageError):
        smoke.token_subject(_jwt({"token_use": "id"}))


def test_verify_on_dev_exits_0_with_skipped_workflow_rows(dev, cli) -> None:
    result, document = cli.json("--stage", "DEV", "verify")
    assert result.exit_code == 0, [r for r in document["data"]["rows"]
                                   if r["status"] == "fail"]
    rows = {r["item"]: r for r in document["data"]["rows"]}
    assert rows["try-on workflow end to end"]["status"] == "skipped"
    assert rows["budget notifications"]["status"] == "pass"
    assert rows["S3 buckets block public access"]["status"] == "pass"


def test_verify_on_dev_exits_1_when_an_item_fails(dev, cli) -> None:
    dev.client("logs").delete_retention_policy(
        logGroupName=contract.api_access_log_group("DEV"))
    result, document = cli.json("--stage", "DEV", "verify")
    assert result.exit_code == 1
    assert_envelope(document, exit_code=1, command="verify")
    assert document["data"]["summary"]["fail"] == 1
    assert "log groups have retention" in document["error"]["message"]


def test_health_on_dev_through_the_cli(dev, cli) -> None:
    result, document = cli.json("--stage", "DEV", "health")
    assert result.exit_code == 0
    dev.api.mode = "down"
    result, document = cli.json("--stage", "DEV", "health")
    assert result.exit_code == 1 and document["ok"] is False
    assert document["data"]["status"] == "unhealthy"


def test_stripe_webhook_row_fails_when_the_secret_does_not_match(dev, cli) -> None:
    dev.api.webhook_secret = "whsec_the_one_stripe_uses"
    result, document = cli.json("--stage", "DEV", "verify")
    [row] = [r for r in document["data"]["rows"] if r["item"].startswith("Stripe")]
    assert row["status"] == "fail" and "signed: HTTP 400" in row["detail"]
    assert "must match" in row["fix"] and result.exit_code == 1


def test_smoke_never_reads_a_real_stages_work_queues(dev) -> None:
    # Every receive raises the receive count of other users' messages: on a real stage
    # smoke looks for its leftovers in the DLQs only.
    import base64
    import json

    from garmaxctl.services.health import prepare
    from garmaxctl.shared import contract

    claims = base64.urlsafe_b64encode(json.dumps({"sub": "qa-user"}).encode()).decode()
    target = prepare(dev.target(api_url=dev.api.url))
    run = smoke.SmokeRun(target, render=False, token=f"e30.{claims.rstrip('=')}.sig")
    dlqs = {dev.outputs[dlq] for queue, (_, dlq) in contract.QUEUE_OUTPUTS.items()
            if queue in (contract.Queue.TRYON, contract.Queue.RENDER)}
    assert set(run.queue_urls()) == dlqs


def test_status_says_when_budgets_fall_back_to_the_defaults(dev, cli) -> None:
    """Issue 11 item 17: unset budgets were shown as the defaults without a word."""
    result, document = cli.json("--stage", "dev", "status")
    assert result.exit_code == 0
    problems = " ".join(document["data"]["problems"])
    assert "budgets not set in Parameter Store" in problems and "budget/daily-usd" in problems
    assert "budget/daily-usd" in document["data"]["spend"]["budget_defaults"]


def test_status_reports_an_unreadable_budget_instead_of_the_defaults(dev, cli,
                                                                     monkeypatch) -> None:
    from garmaxctl.aws import AwsTarget

    make_session = AwsTarget._make_session

    def denying(self: AwsTarget) -> Any:
        session = make_session(self)

        def deny(params: dict, **_: Any) -> None:
            # What AWS answers a caller without ssm:GetParameters on the budget paths.
            if any("/budget/" in name for name in params["Names"]):
                raise _client_error("AccessDeniedException", "not allowed: ssm:GetParameters")

        session.events.register("before-parameter-build.ssm.GetParameters", deny)
        return session

    monkeypatch.setattr(AwsTarget, "_make_session", denying)
    _, document = cli.json("--stage", "dev", "status")
    problems = " ".join(document["data"]["problems"])
    assert "cannot read today's spend or the budgets" in problems
    assert "AccessDenied: GetParameters is not allowed (not allowed: ssm:GetParameters)" \
        in problems and document["data"]["spend"] is None


def test_status_names_the_smpl_placeholder(dev, cli) -> None:
    dev.set_output("SmplPlaceholder", "true")
    _, document = cli.json("--stage", "dev", "status")
    assert any("placeholder image" in p for p in document["data"]["problems"])


def _client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "GetParameters")
