"""`params list | get | history | rollback | restore`, and the time parser."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from garmaxctl.services.params import resolve_name
from garmaxctl.shared.errors import UsageError
from garmaxctl.stage.timerange import parse_time
from tests.params.conftest import CANARY, Calls, Target, assert_envelope

SMALL_ENV = f"ALERT_EMAIL=ops@example.com\nDAILY_BUDGET_USD=200\nJWT_SECRET={CANARY}\n"


@pytest.fixture
def pushed(cli, write_env, dev: Target) -> Target:
    write_env(SMALL_ENV)
    assert cli(*dev.args, "params", "push").exit_code == 0
    return dev


# ----------------------------------------------------------------------------- list / get

def test_list_shows_names_types_versions_and_no_values(cli, pushed: Target) -> None:
    result, document = cli.json(*pushed.args, "params", "list")
    assert result.exit_code == 0
    assert_envelope(document, exit_code=0, command="params list")
    rows = {p["key"]: (p["name"], p["type"], p["version"])
            for p in document["data"]["parameters"]}
    assert rows == {"ALERT_EMAIL": ("alerts/email", "String", 1),
                    "DAILY_BUDGET_USD": ("budget/daily-usd", "String", 1),
                    "JWT_SECRET": ("security/jwt-secret", "SecureString", 1)}
    assert all(p["last_modified"] for p in document["data"]["parameters"])
    table = cli(*pushed.args, "params", "list")
    assert "security/jwt-secret" in table.stdout and "SecureString" in table.stdout
    assert "ops@example.com" not in table.stdout + result.stdout
    assert CANARY not in table.stdout + result.stdout


@pytest.mark.parametrize("name", ["ALERT_EMAIL", "alerts/email", "/garmaxai/DEV/alerts/email"])
def test_get_takes_the_env_key_the_relative_or_the_full_path(cli, pushed: Target,
                                                             name: str) -> None:
    result = cli(*pushed.args, "params", "get", name)
    assert result.exit_code == 0
    assert result.stdout == "ops@example.com\n"  # the raw value, for scripts
    result, document = cli.json(*pushed.args, "params", "get", name)
    assert document["data"]["value"] == "ops@example.com"
    assert document["data"]["key"] == "ALERT_EMAIL"


def test_get_prints_a_secret_only_with_decrypt(cli, pushed: Target) -> None:
    result, document = cli.json(*pushed.args, "params", "get", "JWT_SECRET")
    assert result.exit_code == 2 and document["error"]["code"] == "secret"
    result = cli(*pushed.args, "params", "get", "JWT_SECRET", "--decrypt")
    assert result.exit_code == 0 and result.stdout == CANARY + "\n"


def test_get_a_missing_parameter_is_exit_1_and_a_foreign_path_exit_2(cli, pushed) -> None:
    result, document = cli.json(*pushed.args, "params", "get", "REDIS_URL")
    assert result.exit_code == 1
    assert document["error"]["code"] == "parameter_not_found"
    for name in ("/garmaxai/PROD/alerts/email", "../ops/DEV/lock", "/garmaxai/ops/DEV/x",
                 "/other/thing"):
        result, document = cli.json(*pushed.args, "params", "get", name)
        assert result.exit_code == 2, name
        assert document["error"]["code"] == "bad_name"


def test_resolve_name_never_reaches_the_ops_tree() -> None:
    assert resolve_name("JWT_SECRET", "DEV")[0] == "/garmaxai/DEV/security/jwt-secret"
    assert resolve_name("custom/flag", "DEV") == ("/garmaxai/DEV/custom/flag", None)
    for bad in ("/garmaxai/ops/DEV/idle/lock", "", "/garmaxai/DEV/", "a/../../ops/DEV/x"):
        with pytest.raises(UsageError):
            resolve_name(bad, "DEV")


# ----------------------------------------------------------------------------- history

def test_history_lists_versions_with_hashes_for_secrets(cli, write_env, pushed: Target
                                                        ) -> None:
    write_env(SMALL_ENV.replace(CANARY, CANARY + "2").replace("200", "300"))
    assert cli(*pushed.args, "params", "push").exit_code == 0
    result, document = cli.json(*pushed.args, "params", "history", "JWT_SECRET")
    assert result.exit_code == 0
    versions = document["data"]["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert all(v["value"] is None and v["hash"].startswith("sha256:") for v in versions)
    assert versions[0]["hash"] != versions[1]["hash"]
    result, document = cli.json(*pushed.args, "params", "history", "budget/daily-usd")
    assert [v["value"] for v in document["data"]["versions"]] == ["200", "300"]
    result, document = cli.json(*pushed.args, "params", "history", "REDIS_URL")
    assert result.exit_code == 1


def test_rollback_writes_the_old_value_as_a_new_version(cli, write_env, pushed: Target,
                                                        ssm_calls: Calls) -> None:
    write_env(SMALL_ENV.replace("200", "300"))
    assert cli(*pushed.args, "params", "push").exit_code == 0
    ssm_calls.reset()
    result, document = cli.json(*pushed.args, "params", "rollback", "DAILY_BUDGET_USD",
                                "--to-version", "1")
    assert result.exit_code == 0, result.stdout
    assert_envelope(document, exit_code=0, command="params rollback")
    assert ssm_calls.writes == ["PutParameter"]
    param = pushed.ssm.get_parameter(Name="/garmaxai/DEV/budget/daily-usd")["Parameter"]
    assert (param["Value"], param["Version"]) == ("200", 3)

    ssm_calls.reset()  # already at that value: nothing to write
    result, document = cli.json(*pushed.args, "params", "rollback", "DAILY_BUDGET_USD",
                                "--to-version", "1")
    assert result.exit_code == 0 and ssm_calls.writes == []
    assert document["data"]["counts"]["unchanged"] == 1


def test_rollback_to_a_missing_version_is_exit_2(cli, pushed: Target) -> None:
    result, document = cli.json(*pushed.args, "params", "rollback", "ALERT_EMAIL",
                                "--to-version", "7")
    assert result.exit_code == 2
    assert document["error"]["code"] == "no_such_version"


def test_rollback_on_prod_needs_a_yes(cli, write_env, prod: Target) -> None:
    write_env(SMALL_ENV)
    assert cli(*prod.args, "params", "push", "--yes").exit_code == 0
    write_env(SMALL_ENV.replace("200", "300"))
    assert cli(*prod.args, "params", "push", "--yes").exit_code == 0
    result = cli(*prod.args, "params", "rollback", "DAILY_BUDGET_USD", "--to-version", "1")
    assert result.exit_code == 2
    assert prod.ssm.get_parameter(Name="/garmaxai/PROD/budget/daily-usd")["Parameter"][
        "Value"] == "300"


# ----------------------------------------------------------------------------- restore

def test_restore_puts_the_tree_back_as_it_was(cli, write_env, pushed: Target,
                                              ssm_calls: Calls) -> None:
    time.sleep(0.05)
    moment = dt.datetime.now(dt.UTC).isoformat()
    time.sleep(0.05)
    write_env(SMALL_ENV.replace("200", "300").replace(CANARY, CANARY + "-new")
              + "RDS_HOST=db.example.com\n")
    assert cli(*pushed.args, "params", "push").exit_code == 0

    result, document = cli.json(*pushed.args, "params", "restore", "--as-of", moment,
                                "--dry-run")
    assert result.exit_code == 0
    actions = {i["key"]: i["action"] for i in document["data"]["plan"]["items"]}
    assert actions == {"ALERT_EMAIL": "unchanged", "DAILY_BUDGET_USD": "change",
                       "JWT_SECRET": "change", "RDS_HOST": "extra"}

    ssm_calls.reset()
    result, document = cli.json(*pushed.args, "params", "restore", "--as-of", moment)
    assert result.exit_code == 0, result.stdout
    assert ssm_calls.writes == ["PutParameter", "PutParameter"]
    tree = pushed.tree()
    assert tree["/garmaxai/DEV/budget/daily-usd"]["Value"] == "200"
    assert tree["/garmaxai/DEV/security/jwt-secret"]["Value"] == CANARY
    assert "/garmaxai/DEV/rds/host" in tree  # an extra stays without --prune

    result = cli(*pushed.args, "params", "restore", "--as-of", moment, "--prune")
    assert result.exit_code == 2  # deleting needs a yes on every stage
    result = cli(*pushed.args, "params", "restore", "--as-of", moment, "--prune", "--yes")
    assert result.exit_code == 0
    assert "/garmaxai/DEV/rds/host" not in pushed.tree()


@pytest.mark.parametrize("when", ["yesterday-ish", "2h30", "12:00", "2999-01-01T00:00:00Z"])
def test_restore_with_a_bad_time_is_exit_2(cli, pushed: Target, when: str,
                                           ssm_calls: Calls) -> None:
    result, document = cli.json(*pushed.args, "params", "restore", "--as-of", when)
    assert result.exit_code == 2
    assert document["error"]["code"] == "bad_time"
    assert ssm_calls.calls == []


def test_parse_time_reads_durations_and_iso_timestamps() -> None:
    now = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
    assert parse_time("15m", now=now) == now - dt.timedelta(minutes=15)
    assert parse_time("2h", now=now) == now - dt.timedelta(hours=2)
    assert parse_time("1d", now=now) == now - dt.timedelta(days=1)
    assert parse_time("1w ago", now=now) == now - dt.timedelta(weeks=1)
    assert parse_time("2025-05-31T10:00:00Z", now=now) == dt.datetime(2025, 5, 31, 10,
                                                                      tzinfo=dt.UTC)
    assert parse_time("2025-05-31 10:00", now=now) == dt.datetime(2025, 5, 31, 10,
                                                                  tzinfo=dt.UTC)
    assert parse_time("2025-05-31T12:00:00+02:00", now=now) == dt.datetime(
        2025, 5, 31, 10, tzinfo=dt.UTC)
    for bad in ("", "soon", "-1h", "2025-06-02T00:00:00Z"):
        with pytest.raises(UsageError):
            parse_time(bad, now=now)


def test_a_secret_stored_as_a_plain_string_is_still_treated_as_a_secret(cli, dev: Target
                                                                         ) -> None:
    # The old script wrote some secrets as String: they stay secrets by the mapping.
    leaked = "plain-string-jwt-" + CANARY
    dev.ssm.put_parameter(Name="/garmaxai/DEV/security/jwt-secret", Value=leaked,
                          Type="String")
    get, document = cli.json(*dev.args, "params", "get", "JWT_SECRET")
    assert get.exit_code == 2 and document["error"]["code"] == "secret"
    for args in (("params", "history", "JWT_SECRET"), ("params", "pull"), ("params", "list")):
        for fmt in ("table", "json"):
            result = cli(*dev.args, "-o", fmt, *args)
            assert leaked not in result.stdout + result.stderr, args
