"""Issue 11.3: `--replace-type` never loses a parameter.

AWS refuses a type change in place (``HierarchyTypeMismatchException``, injected: moto
accepts it), so garmaxctl deletes the parameter and creates it again. These tests fail
that create as AWS can (a KMS ``AccessDeniedException``, ``ThrottlingException`` on every
attempt, a ``ValidationException``) and check that the old value is put back and the report
says so; that the plan says the history restarts; and that ``restore --as-of --prune``
does not delete a parameter whose history garmaxctl restarted.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.params.conftest import CANARY, Calls, Target, a_moment, aws_error

JWT = "/garmaxai/DEV/security/jwt-secret"
URL = "/garmaxai/DEV/frontend/url"
KMS_DENIED = ("User: arn:aws:sts::123456789012:assumed-role/deployer/ci is not authorized to "
              "perform: kms:Encrypt on resource: arn:aws:kms:us-east-1:123456789012:key/"
              "0000 because no identity-based policy allows the kms:Encrypt action")


def _refuse_type_change_in_place(ssm_calls: Calls) -> None:
    """AWS: a type cannot change in place (PutParameter with Overwrite)."""
    ssm_calls.on_send("PutParameter", lambda body: aws_error(
        "HierarchyTypeMismatchException", "Parameter Store doesn't support changing a "
        "parameter type in a hierarchy.") if body.get("Overwrite") else None)


@pytest.fixture
def instant_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retries without their waits: "past retries" in milliseconds."""
    from botocore.retries import adaptive, standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda *_: 0)
    monkeypatch.setattr(adaptive.ClientRateLimiter, "on_sending_request",
                        lambda *_, **__: None)


def test_the_plan_says_a_replaced_type_restarts_the_history(cli, write_env,
                                                            dev: Target) -> None:
    dev.ssm.put_parameter(Name=JWT, Value="old-plain", Type="String")
    write_env(f"JWT_SECRET={CANARY}\n")
    for command in ("plan", "push"):
        args = ("--replace-type",) + (("--dry-run",) if command == "push" else ())
        result, document = cli.json(*dev.args, "params", command, *args)
        assert result.exit_code == 0, result.stdout
        item = document["data"]["plan"]["items"][0]
        assert item["action"] == "change"
        assert "history restarts at version 1" in item["note"], item["note"]


def test_a_recreate_keeps_description_tags_and_tier_and_marks_the_restart(
        cli, write_env, dev: Target, ssm_calls: Calls) -> None:
    dev.ssm.put_parameter(Name=JWT, Value="old-plain", Type="String", Tier="Advanced",
                          Description="signs the session tokens",
                          Tags=[{"Key": "owner", "Value": "ops"}])
    write_env(f"JWT_SECRET={CANARY}\n")
    _refuse_type_change_in_place(ssm_calls)
    result, document = cli.json(*dev.args, "params", "push", "--replace-type")
    assert result.exit_code == 0, result.stdout
    # Read what will be deleted (value, tier/key/description, tags) before deleting it.
    assert ssm_calls.calls == ["GetParametersByPath", "DescribeParameters", "PutParameter",
                               "GetParameter", "DescribeParameters", "ListTagsForResource",
                               "DeleteParameter", "PutParameter"]
    row = document["data"]["report"]["results"][0]
    assert row["status"] == "written" and "history restarts" in row["note"]
    param = dev.ssm.get_parameter(Name=JWT, WithDecryption=True)["Parameter"]
    assert (param["Type"], param["Value"], param["Version"]) == ("SecureString", CANARY, 1)
    assert dev.tier(JWT) == "Advanced"
    history = dev.ssm.get_parameter_history(Name=JWT)["Parameters"]
    assert history[0]["Description"].startswith("signs the session tokens [garmaxctl: "
                                                 "history restarted at ")
    tags = dev.ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=JWT)
    assert tags["TagList"] == [{"Key": "owner", "Value": "ops"}]


FAILURES: dict[str, tuple[str, str]] = {
    "kms-denied": ("AccessDeniedException", KMS_DENIED),
    "throttled": ("ThrottlingException", "Rate exceeded"),
    "invalid": ("ValidationException", "1 validation error detected: Value at 'value' "
                                       "failed to satisfy constraint"),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_failed_recreate_puts_the_old_value_back_and_says_so(
        cli, write_env, dev: Target, ssm_calls: Calls, instant_retries: None,
        failure: str) -> None:
    code, message = FAILURES[failure]
    dev.ssm.put_parameter(Name=JWT, Value="old-plain", Type="String", Tier="Advanced",
                          Description="signs the session tokens",
                          Tags=[{"Key": "owner", "Value": "ops"}])
    write_env(f"JWT_SECRET={CANARY}\n")
    _refuse_type_change_in_place(ssm_calls)
    ssm_calls.on_send("PutParameter", lambda body: aws_error(code, message)
                      if body["Type"] == "SecureString" else None)  # the recreate, always
    result, document = cli.json(*dev.args, "params", "push", "--replace-type")
    assert result.exit_code == 1
    assert document["error"]["code"] == "partial_failure"
    row = document["data"]["report"]["results"][0]
    assert row["status"] == "failed" and row["error_code"] == code
    assert row["error"] == (f"recreate failed: {code}: {message}; the old value was put "
                            "back as version 1 (history restarted)")
    if failure == "throttled":  # retried to the end before giving up
        assert ssm_calls.attempts.count("PutParameter") >= 1 + 10 + 1
    param = dev.ssm.get_parameter(Name=JWT)["Parameter"]
    assert (param["Type"], param["Value"], param["Version"]) == ("String", "old-plain", 1)
    assert dev.tier(JWT) == "Advanced"
    tags = dev.ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=JWT)
    assert tags["TagList"] == [{"Key": "owner", "Value": "ops"}]
    description = dev.ssm.get_parameter_history(Name=JWT)["Parameters"][0]["Description"]
    assert "garmaxctl: history restarted at " in description
    assert CANARY not in result.stdout + result.stderr


def test_a_secret_is_put_back_with_its_own_kms_key(cli, write_env, dev: Target,
                                                   ssm_calls: Calls) -> None:
    # FRONTEND_URL is a String in the mapping; someone stored it as a SecureString with
    # the team's key. The recreate (as a String) is refused: the put-back is encrypted
    # with that key again, not with the stage's alias.
    dev.ssm.put_parameter(Name=URL, Value="https://old.example.com", Type="SecureString",
                          KeyId="alias/team-key")
    write_env("FRONTEND_URL=https://new.example.com\n")
    _refuse_type_change_in_place(ssm_calls)
    sent: list[dict[str, Any]] = []

    def record(body: dict) -> Any:
        sent.append(body)
        return aws_error("ValidationException", "refused") if body["Type"] == "String" \
            else None

    ssm_calls.on_send("PutParameter", record)
    result, _document = cli.json(*dev.args, "params", "push", "--replace-type")
    assert result.exit_code == 1
    put_back = sent[-1]
    assert (put_back["Type"], put_back["KeyId"], put_back["Overwrite"]) == (
        "SecureString", "alias/team-key", False)
    param = dev.ssm.get_parameter(Name=URL, WithDecryption=True)["Parameter"]
    assert (param["Type"], param["Value"]) == ("SecureString", "https://old.example.com")
    assert "https://old.example.com" not in result.stdout + result.stderr


def test_when_even_the_put_back_fails_the_report_says_what_is_gone(
        cli, write_env, dev: Target, ssm_calls: Calls) -> None:
    dev.ssm.put_parameter(Name=JWT, Value="old-plain-value", Type="String")
    write_env(f"JWT_SECRET={CANARY}\n")
    _refuse_type_change_in_place(ssm_calls)
    ssm_calls.on_send("PutParameter", lambda body: aws_error("AccessDeniedException",
                                                             "not authorized"))
    table = cli(*dev.args, "params", "push", "--replace-type")
    assert table.exit_code == 1
    assert "JWT_SECRET: deleted: the old value and its history are lost" in table.stdout
    assert "old-plain-value" not in table.stdout + table.stderr

    dev.ssm.put_parameter(Name=JWT, Value="old-plain-value", Type="String")
    result, document = cli.json(*dev.args, "params", "push", "--replace-type")
    assert result.exit_code == 1
    row = document["data"]["report"]["results"][0]
    assert row["status"] == "failed" and row["error_code"] == "AccessDeniedException"
    error = row["error"]
    assert error.startswith("recreate failed: AccessDeniedException: not authorized; "
                            "putting the old value back failed too: AccessDeniedException")
    assert f"{JWT} no longer exists" in error and "history" in error
    assert "aws ssm put-parameter" in error  # how to recover
    assert "old-plain-value" not in result.stdout + result.stderr
    assert CANARY not in result.stdout + result.stderr
    assert JWT not in dev.tree()


def test_a_parameter_changed_since_the_plan_is_not_deleted(cli, write_env, dev: Target,
                                                           ssm_calls: Calls) -> None:
    dev.ssm.put_parameter(Name=JWT, Value="old-plain", Type="String")
    write_env(f"JWT_SECRET={CANARY}\n")

    def refuse_and_race(body: dict) -> Any:
        if not body.get("Overwrite"):
            return None
        # Someone writes the parameter between the plan's read and the replacement.
        dev.ssm.put_parameter(Name=JWT, Value="someone-else", Type="String", Overwrite=True)
        return aws_error("HierarchyTypeMismatchException", "cannot change the type")

    ssm_calls.on_send("PutParameter", refuse_and_race)
    result, document = cli.json(*dev.args, "params", "push", "--replace-type")
    assert result.exit_code == 1
    assert "changed since the plan" in document["data"]["report"]["results"][0]["error"]
    assert "DeleteParameter" not in ssm_calls.calls
    assert dev.ssm.get_parameter(Name=JWT)["Parameter"]["Value"] == "someone-else"


def test_restore_with_prune_keeps_a_parameter_whose_history_garmaxctl_restarted(
        cli, write_env, dev: Target, ssm_calls: Calls) -> None:
    dev.ssm.put_parameter(Name=JWT, Value="old-plain", Type="String")
    moment = a_moment()
    write_env(f"JWT_SECRET={CANARY}\nRDS_HOST=db.example.com\n")
    _refuse_type_change_in_place(ssm_calls)
    assert cli(*dev.args, "params", "push", "--replace-type").exit_code == 0
    ssm_calls.hooks.clear()

    result, document = cli.json(*dev.args, "params", "restore", "--as-of", moment,
                                "--prune", "--dry-run")
    assert result.exit_code == 0
    items = {i["key"]: i for i in document["data"]["plan"]["items"]}
    assert items["RDS_HOST"]["action"] == "delete"  # really created after that time
    assert items["JWT_SECRET"]["action"] == "skipped"
    assert "history restarted at" in items["JWT_SECRET"]["note"]

    result = cli(*dev.args, "params", "restore", "--as-of", moment, "--prune", "--yes")
    assert result.exit_code == 0, result.stdout
    tree = dev.tree()
    assert JWT in tree and tree[JWT]["Value"] == CANARY
    assert "/garmaxai/DEV/rds/host" not in tree
