"""Issue 11.4: an Advanced parameter stays Advanced when its new value is small.

A write without ``Tier`` gets the account's default tier (Standard), and AWS refuses to
downgrade an Advanced parameter; moto accepts it (it keeps the tier). So the tests answer
such a write as AWS does (``ssm_calls.on_send``), with the ``ValidationException`` AWS
documents for a downgrade, and check that push, rollback and restore send
``Tier=Advanced`` for an Advanced parameter, reading the tiers in ⌈N/50⌉ calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from tests.params.conftest import Calls, Target, a_moment, aws_error

GEMINI = "/garmaxai/DEV/gemini/service-account-json"

# AWS's answer to a PutParameter that would move an Advanced parameter to Standard.
DOWNGRADE = ("This parameter uses the advanced-parameter tier. You can't downgrade a "
             "parameter from the advanced-parameter tier to the standard-parameter tier. If "
             "necessary, you can delete the advanced parameter and recreate it as a standard "
             "parameter.")


def _refuse_downgrades(ssm_calls: Calls, advanced: set[str]) -> list[str | None]:
    """AWS: an overwrite of an Advanced parameter without Tier=Advanced is a downgrade."""
    tiers_sent: list[str | None] = []

    def check(body: dict) -> Any:
        if body["Name"] in advanced and body.get("Overwrite"):
            tiers_sent.append(body.get("Tier"))
            if body.get("Tier") != "Advanced":
                return aws_error("ValidationException", DOWNGRADE)
        return None

    ssm_calls.on_send("PutParameter", check)
    return tiers_sent


def _advanced_gemini(dev: Target) -> str:
    """An Advanced parameter with two small versions; the time between them."""
    dev.ssm.put_parameter(Name=GEMINI, Value='{"v": 1}', Type="SecureString",
                          Tier="Advanced")
    moment = a_moment()
    dev.ssm.put_parameter(Name=GEMINI, Value='{"v": 2}', Type="SecureString",
                          Overwrite=True, Tier="Advanced")
    return moment


COMMANDS: dict[str, Callable[[str], tuple[str, ...]]] = {
    "push": lambda moment: ("params", "push"),
    "rollback": lambda moment: ("params", "rollback", "GEMINI_SERVICE_ACCOUNT_JSON",
                                "--to-version", "1"),
    "restore": lambda moment: ("params", "restore", "--as-of", moment),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_advanced_parameter_keeps_its_tier_when_the_new_value_is_small(
        cli, write_env, dev: Target, ssm_calls: Calls, command: str) -> None:
    moment = _advanced_gemini(dev)
    write_env("GEMINI_SERVICE_ACCOUNT_JSON='{\"v\": 3}'\n")
    tiers_sent = _refuse_downgrades(ssm_calls, {GEMINI})
    result, _document = cli.json(*dev.args, *COMMANDS[command](moment))
    assert result.exit_code == 0, result.stdout
    assert tiers_sent == ["Advanced"]
    expected = {"push": '{"v": 3}', "rollback": '{"v": 1}', "restore": '{"v": 1}'}[command]
    param = dev.ssm.get_parameter(Name=GEMINI, WithDecryption=True)["Parameter"]
    assert (param["Value"], param["Version"]) == (expected, 3)
    assert dev.tier(GEMINI) == "Advanced"


def test_the_plan_says_the_advanced_tier_is_kept(cli, write_env, dev: Target,
                                                 ssm_calls: Calls) -> None:
    _advanced_gemini(dev)
    write_env("GEMINI_SERVICE_ACCOUNT_JSON='{\"v\": 3}'\n")
    _result, document = cli.json(*dev.args, "params", "plan")
    item = document["data"]["plan"]["items"][0]
    assert (item["action"], item["tier"]) == ("change", "Advanced")
    assert "Advanced tier kept" in item["note"]


def test_tiers_are_read_once_per_50_parameters_and_only_for_a_change(
        cli, write_env, dev: Target, ssm_calls: Calls) -> None:
    dev.ssm.put_parameter(Name=GEMINI, Value='{"v": 1}', Type="SecureString",
                          Tier="Advanced")
    extras = 60
    for n in range(extras):
        dev.ssm.put_parameter(Name=f"/garmaxai/DEV/extra/p{n:02d}", Value="x", Type="String")
    dev.ssm.put_parameter(Name="/garmaxai/ops/DEV/idle/lock", Value="held", Type="String")
    total = extras + 1

    write_env("GEMINI_SERVICE_ACCOUNT_JSON='{\"v\": 1}'\nRDS_HOST=db.example.com\n")
    assert cli(*dev.args, "params", "push").exit_code == 0  # an add only: no tier read
    assert ssm_calls.count("DescribeParameters") == 0

    write_env("GEMINI_SERVICE_ACCOUNT_JSON='{\"v\": 2}'\nRDS_HOST=db.example.com\n")
    tiers_sent = _refuse_downgrades(ssm_calls, {GEMINI})
    described: list[dict] = []
    ssm_calls.on_send("DescribeParameters", lambda body: described.append(body))
    ssm_calls.reset()
    assert cli(*dev.args, "params", "push").exit_code == 0
    assert tiers_sent == ["Advanced"]
    total += 1  # RDS_HOST
    assert ssm_calls.count("GetParametersByPath") == math.ceil(total / 10)
    # One pass over the tree with a path filter, asking for 50 a page (the most AWS
    # serves, so ⌈N/50⌉ calls on AWS); moto ignores MaxResults and serves 10 a page.
    assert ssm_calls.count("DescribeParameters") == math.ceil(total / 10) == len(described)
    for body in described:
        assert body["ParameterFilters"] == [{"Key": "Path", "Option": "Recursive",
                                             "Values": ["/garmaxai/DEV"]}]
        assert body["MaxResults"] == 50
