"""`params plan` / `params push`: only differences are written, throttling is absorbed,
failures are reported, PROD needs a yes, types and sizes are guarded."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from garmaxctl.shared.contract import PARAMS_BY_ENV_KEY
from tests.params.conftest import (
    CANARY,
    VALUES,
    Calls,
    Target,
    assert_envelope,
    aws_error,
    env_text,
)

N_SET = len(VALUES)


def _push(cli, target: Target, *extra: str):
    return cli.json(*target.args, "params", "push", *extra)


# ----------------------------------------------------------------------------- acceptance 1

def test_unchanged_push_makes_no_write_and_ceil_n_over_10_reads(cli, full_env, target,
                                                                  ssm_calls: Calls) -> None:
    result, document = _push(cli, target)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert len(target.tree()) == N_SET
    assert ssm_calls.count("PutParameter") == N_SET

    ssm_calls.reset()
    result, document = _push(cli, target)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert_envelope(document, exit_code=0, command="params push")
    assert document["data"]["counts"]["unchanged"] == N_SET
    assert ssm_calls.writes == []
    reads = ssm_calls.count("GetParametersByPath")
    assert set(ssm_calls.calls) == {"GetParametersByPath"}
    # ⌈N/10⌉ pages (an emulator may answer one empty page more when N is a multiple of 10)
    assert math.ceil(N_SET / 10) <= reads <= math.ceil(N_SET / 10) + 1


def test_push_after_one_edit_writes_exactly_one_parameter(cli, write_env, full_env, target,
                                                          ssm_calls: Calls) -> None:
    assert _push(cli, target)[0].exit_code == 0
    edited = dict(VALUES, DAILY_BUDGET_USD="250")
    write_env(env_text(edited))
    ssm_calls.reset()
    result, document = _push(cli, target)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert ssm_calls.writes == ["PutParameter"]
    assert document["data"]["written"] == ["DAILY_BUDGET_USD"]
    assert target.tree()[target.prefix() + "budget/daily-usd"]["Value"] == "250"


def test_plan_exit_code_is_3_with_changes_and_0_in_sync(cli, full_env, dev: Target) -> None:
    result, document = cli.json(*dev.args, "params", "plan", "--exit-code")
    assert result.exit_code == 3
    assert_envelope(document, exit_code=3, command="params plan")
    assert document["error"]["code"] == "changes"
    assert document["data"]["counts"]["add"] == N_SET
    assert dev.tree() == {}  # a plan writes nothing

    assert cli(*dev.args, "params", "plan").exit_code == 0  # no --exit-code: 0
    assert cli(*dev.args, "params", "push").exit_code == 0
    result, document = cli.json(*dev.args, "params", "diff", "--exit-code")
    assert result.exit_code == 0
    assert_envelope(document, exit_code=0, command="params diff")


def test_extras_count_for_exit_code_only_with_prune(cli, full_env, dev: Target) -> None:
    assert cli(*dev.args, "params", "push").exit_code == 0
    dev.ssm.put_parameter(Name="/garmaxai/DEV/legacy/old-flag", Value="1", Type="String")
    result, document = cli.json(*dev.args, "params", "plan", "--exit-code")
    assert result.exit_code == 0
    assert [i["name"] for i in document["data"]["plan"]["items"]
            if i["action"] == "extra"] == ["legacy/old-flag"]
    result, document = cli.json(*dev.args, "params", "plan", "--exit-code", "--prune")
    assert result.exit_code == 3
    assert document["data"]["counts"]["delete"] == 1


def test_prune_deletes_extras_after_confirmation(cli, full_env, dev: Target) -> None:
    assert cli(*dev.args, "params", "push").exit_code == 0
    dev.ssm.put_parameter(Name="/garmaxai/DEV/legacy/old-flag", Value="1", Type="String")
    refused, document = cli.json(*dev.args, "params", "push", "--prune")
    assert refused.exit_code == 2
    assert document["error"]["code"] == "confirmation_required"
    assert "/garmaxai/DEV/legacy/old-flag" in dev.tree()

    result, document = cli.json(*dev.args, "params", "push", "--prune", "--yes")
    assert result.exit_code == 0, result.stdout
    assert "/garmaxai/DEV/legacy/old-flag" not in dev.tree()
    assert len(dev.tree()) == N_SET


def test_without_prune_extras_are_reported_never_deleted(cli, write_env, dev: Target) -> None:
    dev.ssm.put_parameter(Name="/garmaxai/DEV/budget/daily-usd", Value="99", Type="String")
    write_env("ALERT_EMAIL=ops@example.com\n")
    result, document = cli.json(*dev.args, "params", "push")
    assert result.exit_code == 0
    extras = [i for i in document["data"]["report"]["results"] if i["action"] == "delete"]
    assert extras == []
    assert dev.tree()["/garmaxai/DEV/budget/daily-usd"]["Value"] == "99"


# ----------------------------------------------------------------------------- acceptance 4

def test_throttling_on_a_third_of_writes_loses_nothing(cli, write_env, target,
                                                       ssm_calls: Calls) -> None:
    # Twelve parameters keep the test short: botocore's adaptive mode paces the client
    # down to about one request a second after a throttle (docs/params.md).
    chosen = dict(list(VALUES.items())[:12])
    write_env(env_text(chosen))
    paths = {f"/garmaxai/{target.stage}/{PARAMS_BY_ENV_KEY[k].path}": v
             for k, v in chosen.items()}
    throttled = set(sorted(paths)[::3])
    seen: Counter[str] = Counter()

    def throttle(body: dict):
        with ssm_calls.lock:
            seen[body["Name"]] += 1
            first = seen[body["Name"]] == 1
        if body["Name"] in throttled and first:
            return aws_error("ThrottlingException", "Rate exceeded")
        return None

    ssm_calls.on_send("PutParameter", throttle)
    result, document = _push(cli, target)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert len(throttled) == len(paths) // 3
    assert ssm_calls.count("PutParameter") == len(paths)  # one logical call each ...
    assert ssm_calls.attempts.count("PutParameter") == len(paths) + len(throttled)  # retried
    assert {name: p["Value"] for name, p in target.tree().items()} == paths
    assert document["data"]["failed"] == []
    assert sorted(document["data"]["written"]) == sorted(chosen)


def test_access_denied_on_one_write_exits_1_names_it_and_writes_the_others(
        cli, full_env, target, ssm_calls: Calls) -> None:
    denied = f"/garmaxai/{target.stage}/stripe/secret-key"
    ssm_calls.on_send("PutParameter", lambda body: aws_error(
        "AccessDeniedException", f"not authorized to perform ssm:PutParameter on {denied}")
        if body["Name"] == denied else None)
    result, document = _push(cli, target)
    assert result.exit_code == 1
    assert_envelope(document, exit_code=1, command="params push")
    assert document["error"]["code"] == "partial_failure"
    assert "STRIPE_SECRET_KEY" in document["error"]["message"]
    assert document["data"]["failed"] == ["STRIPE_SECRET_KEY"]
    assert len(document["data"]["written"]) == N_SET - 1
    failed = [r for r in document["data"]["report"]["results"] if r["status"] == "failed"]
    assert failed[0]["error_code"] == "AccessDeniedException"
    tree = target.tree()
    assert denied not in tree and len(tree) == N_SET - 1

    table = cli(*target.args, "params", "push")
    assert table.exit_code == 1
    assert "STRIPE_SECRET_KEY" in table.stdout and "failed" in table.stdout
    assert "AccessDeniedException" in table.stdout


# ----------------------------------------------------------------------------- acceptance 5

def test_prod_without_tty_and_without_yes_refuses_and_writes_nothing(
        cli, full_env, prod: Target, ssm_calls: Calls) -> None:
    result, document = cli.json(*prod.args, "params", "push")
    assert result.exit_code == 2
    assert_envelope(document, exit_code=2, command="params push")
    assert document["error"]["code"] == "confirmation_required"
    assert document["data"]["counts"]["add"] == N_SET  # CI sees what it would have done
    assert ssm_calls.writes == []
    assert prod.tree() == {}
    table = cli(*prod.args, "params", "push")
    assert table.exit_code == 2 and "--yes" in table.stderr


def test_prod_with_yes_pushes(cli, full_env, prod: Target) -> None:
    result = cli(*prod.args, "params", "push", "--yes")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert len(prod.tree()) == N_SET


def test_prod_on_a_terminal_asks_and_a_no_writes_nothing(cli, full_env, prod: Target,
                                                         monkeypatch) -> None:
    monkeypatch.setattr("garmaxctl.cli.stdin_is_tty", lambda: True)
    result = cli(*prod.args, "params", "push", input="n\n")
    assert result.exit_code == 2
    assert "push 34 parameter change(s) on PROD?" in result.stderr
    assert prod.tree() == {}
    result = cli(*prod.args, "params", "push", input="y\n")
    assert result.exit_code == 0
    assert len(prod.tree()) == N_SET


def test_dry_run_is_the_plan_and_writes_nothing(cli, full_env, prod: Target,
                                                ssm_calls: Calls) -> None:
    result, document = cli.json(*prod.args, "params", "push", "--dry-run")
    assert result.exit_code == 0
    assert document["data"]["counts"]["add"] == N_SET
    assert ssm_calls.writes == [] and prod.tree() == {}


def test_a_wrong_account_is_refused_before_any_read(cli, full_env, dev: Target, monkeypatch,
                                                    ssm_calls: Calls) -> None:
    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", "999999999999")
    result, document = cli.json(*dev.args, "params", "push")
    assert result.exit_code == 1
    assert document["error"]["code"] == "account_mismatch"
    assert ssm_calls.calls == []


# ----------------------------------------------------------------------------- the mapping

def test_secrets_are_securestrings_with_the_stage_kms_alias(cli, full_env, dev: Target,
                                                            ssm_calls: Calls) -> None:
    seen: dict[str, dict] = {}
    ssm_calls.on_send("PutParameter", lambda body: seen.setdefault(body["Name"], body) and None)
    assert cli(*dev.args, "params", "push").exit_code == 0
    from garmaxctl.shared.contract import PARAMETERS

    for spec in PARAMETERS:
        body = seen[f"/garmaxai/DEV/{spec.path}"]
        assert body["Type"] == spec.kind.value
        assert body.get("KeyId") == ("alias/aws/ssm" if spec.secret else None)
    assert dev.tree()["/garmaxai/DEV/security/jwt-secret"]["Type"] == "SecureString"


def test_placeholders_and_empty_values_are_skipped_and_reported(cli, write_env,
                                                                dev: Target) -> None:
    write_env("REPLICATE_API_KEY=r8_xxxxxxxxxxxxx\nJWT_SECRET=\nRDS_HOST=PLACEHOLDER\n"
              "FRONTEND_URL=https://app.your-domain.com\nALERT_EMAIL=ops@example.com\n")
    result, document = cli.json(*dev.args, "params", "push")
    assert result.exit_code == 0
    skipped = {i["key"]: i["note"] for i in document["data"]["report"]["results"]} or {}
    assert skipped == {"ALERT_EMAIL": None}
    plan = cli.json(*dev.args, "params", "plan")[1]["data"]["plan"]["items"]
    notes = {i["key"]: i["note"] for i in plan if i["action"] == "skipped"}
    assert notes == {"REPLICATE_API_KEY": "placeholder: never written",
                     "JWT_SECRET": "empty: never written",
                     "RDS_HOST": "placeholder: never written",
                     "FRONTEND_URL": "placeholder: never written"}
    assert set(dev.tree()) == {"/garmaxai/DEV/alerts/email"}


def test_values_come_from_the_file_never_the_process_environment(cli, write_env, dev: Target,
                                                                 monkeypatch) -> None:
    monkeypatch.setenv("ALERT_EMAIL", "from-the-shell@example.com")
    monkeypatch.setenv("DAILY_BUDGET_USD", "999")
    write_env("ALERT_EMAIL=ops@example.com\n")
    assert cli(*dev.args, "params", "push").exit_code == 0
    assert {k: v["Value"] for k, v in dev.tree().items()} == {
        "/garmaxai/DEV/alerts/email": "ops@example.com"}


def test_unmapped_keys_are_ignored_and_reported(cli, write_env, dev: Target) -> None:
    write_env("ALERT_EMAIL=ops@example.com\nSOMETHING_ELSE=1\nAWS_REGION=us-east-1\n")
    _result, document = cli.json(*dev.args, "params", "plan")
    assert document["data"]["plan"]["ignored_keys"] == ["SOMETHING_ELSE", "AWS_REGION"]
    assert "not mapped (ignored): SOMETHING_ELSE, AWS_REGION" in cli(
        *dev.args, "params", "plan").stdout


def test_the_ops_tree_is_never_read_or_written(cli, full_env, dev: Target,
                                               ssm_calls: Calls) -> None:
    dev.ssm.put_parameter(Name="/garmaxai/ops/DEV/idle/lock", Value="held", Type="String")
    assert cli(*dev.args, "params", "push", "--prune", "--yes").exit_code == 0
    result, document = cli.json(*dev.args, "params", "plan", "--prune")
    names = [i["path"] for i in document["data"]["plan"]["items"]]
    assert not [n for n in names if n.startswith("/garmaxai/ops/")]
    assert dev.ssm.get_parameter(Name="/garmaxai/ops/DEV/idle/lock")["Parameter"]["Value"] \
        == "held"
    assert not [c for c in ssm_calls.calls if c not in ("GetParametersByPath",
                                                        "PutParameter")]
    result, _ = cli.json(*dev.args, "params", "get", "/garmaxai/ops/DEV/idle/lock")
    assert result.exit_code == 2


def test_an_invalid_env_file_is_refused_by_push(cli, write_env, dev: Target) -> None:
    write_env("ALERT_EMAIL=not-an-email\n")
    result, document = cli.json(*dev.args, "params", "push")
    assert result.exit_code == 2
    assert document["error"]["code"] == "invalid_config"
    assert dev.tree() == {}


def test_a_missing_env_file_is_exit_2(cli, dev: Target) -> None:
    result, document = cli.json(*dev.args, "params", "plan")
    assert result.exit_code == 2
    assert ".env not found" in document["error"]["message"]


# ----------------------------------------------------------------------------- type and size

def test_type_change_is_refused_without_replace_type(cli, write_env, dev: Target,
                                                     ssm_calls: Calls) -> None:
    dev.ssm.put_parameter(Name="/garmaxai/DEV/security/jwt-secret", Value="old-plain",
                          Type="String")
    write_env(f"JWT_SECRET={CANARY}\nALERT_EMAIL=ops@example.com\n")
    result, document = cli.json(*dev.args, "params", "plan", "--exit-code")
    assert result.exit_code == 3
    item = next(i for i in document["data"]["plan"]["items"] if i["key"] == "JWT_SECRET")
    assert item["action"] == "blocked" and "String -> SecureString" in item["note"]

    ssm_calls.reset()
    result, document = cli.json(*dev.args, "params", "push")
    assert result.exit_code == 2
    assert document["error"]["code"] == "blocked"
    assert "--replace-type" in document["error"]["message"]
    assert ssm_calls.writes == []  # the whole push is refused, nothing half-written

    result, document = cli.json(*dev.args, "params", "push", "--replace-type")
    assert result.exit_code == 0, result.stdout
    param = dev.ssm.get_parameter(Name="/garmaxai/DEV/security/jwt-secret",
                                  WithDecryption=True)["Parameter"]
    assert (param["Type"], param["Value"]) == ("SecureString", CANARY)


def test_replace_type_falls_back_to_delete_and_create_when_aws_refuses(
        cli, write_env, dev: Target, ssm_calls: Calls) -> None:
    dev.ssm.put_parameter(Name="/garmaxai/DEV/security/jwt-secret", Value="old-plain",
                          Type="String")
    write_env(f"JWT_SECRET={CANARY}\n")
    ssm_calls.on_send("PutParameter", lambda body: aws_error(
        "HierarchyTypeMismatchException", "cannot change the type")
        if body.get("Overwrite") else None)
    result, document = cli.json(*dev.args, "params", "push", "--replace-type")
    assert result.exit_code == 0, result.stdout
    # The change reads the tiers; the fallback reads what the delete loses before deleting.
    assert ssm_calls.calls == ["GetParametersByPath", "DescribeParameters", "PutParameter",
                               "GetParameter", "DescribeParameters", "ListTagsForResource",
                               "DeleteParameter", "PutParameter"]
    assert "history restarts" in document["data"]["report"]["results"][0]["note"]
    param = dev.ssm.get_parameter(Name="/garmaxai/DEV/security/jwt-secret",
                                  WithDecryption=True)["Parameter"]
    assert (param["Type"], param["Value"], param["Version"]) == ("SecureString", CANARY, 1)


def test_a_value_over_4kb_goes_to_the_advanced_tier(cli, write_env, dev: Target) -> None:
    big = '{"k": "' + "a" * 5000 + '"}'
    write_env(f"GEMINI_SERVICE_ACCOUNT_JSON='{big}'\nGEMINI_MAX_BATCH_SIZE=4\n")
    _result, document = cli.json(*dev.args, "params", "plan")
    item = next(i for i in document["data"]["plan"]["items"]
                if i["key"] == "GEMINI_SERVICE_ACCOUNT_JSON")
    assert item["tier"] == "Advanced"
    assert cli(*dev.args, "params", "push").exit_code == 0
    described = dev.ssm.describe_parameters(ParameterFilters=[
        {"Key": "Path", "Values": ["/garmaxai/DEV/gemini"]}])["Parameters"]
    tiers = {p["Name"].rsplit("/", 1)[-1]: p["Tier"] for p in described}
    assert tiers == {"service-account-json": "Advanced", "max-batch-size": "Standard"}


def test_a_value_over_8kb_is_refused_before_any_write(cli, write_env, dev: Target) -> None:
    big = '{"k": "' + "a" * 9000 + '"}'
    write_env(f"GEMINI_SERVICE_ACCOUNT_JSON='{big}'\nGEMINI_MAX_BATCH_SIZE=4\n")
    result, document = cli.json(*dev.args, "params", "push")
    assert result.exit_code == 2
    assert document["error"]["code"] == "blocked"
    assert dev.tree() == {}


@pytest.mark.parametrize("command", ["plan", "diff", "push", "apply"])
def test_json_mode_prints_one_envelope(cli, full_env, dev: Target, command: str) -> None:
    result, document = cli.json(*dev.args, "params", command)
    assert result.exit_code == 0
    assert_envelope(document, exit_code=0, command=f"params {command}")


# ----------------------------------------------------------------------------- failures

def test_ctrl_c_during_a_push_reports_what_was_and_was_not_written(
        cli, full_env, dev: Target, ssm_calls: Calls) -> None:
    import os
    import signal
    import time

    def interrupt_then_slow(body: dict):
        with ssm_calls.lock:
            first = ssm_calls.attempts.count("PutParameter") == 1
        if first:
            os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.3)  # writes in flight outlast the main thread's reaction
        return None

    ssm_calls.on_send("PutParameter", interrupt_then_slow)
    result, document = _push(cli, dev)
    assert result.exit_code == 130
    assert_envelope(document, exit_code=130, command="params push")
    assert document["error"]["code"] == "interrupted"
    results = document["data"]["report"]["results"]
    statuses = Counter(r["status"] for r in results)
    assert len(results) == N_SET
    assert statuses["not attempted"] > 0 and statuses["written"] > 0
    written = {r["path"] for r in results if r["status"] == "written"}
    assert set(dev.tree()) == written  # the report is the truth about the stage
    not_written = [r["key"] for r in results if r["status"] != "written"]
    assert document["error"]["message"].endswith("not written: " + ", ".join(not_written))


def test_local_without_the_emulator_fails_fast(cli, full_env, monkeypatch) -> None:
    import time

    from tests.conftest import free_port

    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))
    started = time.monotonic()
    result, document = cli.json("params", "plan")
    assert result.exit_code == 1
    assert document["error"]["code"] == "emulator_not_running"
    assert "garmaxctl local up" in document["error"]["message"]
    assert time.monotonic() - started < 5  # no ten adaptive retries first
