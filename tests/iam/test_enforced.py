"""The published policies, enforced: moto's IAM authentication as an action-level check.

Issue 13's third proof (docs/security.md, "Least privilege: enforced by the emulator"). An
IAM user holds exactly one role's policies — ``readonly.json``; ``readonly.json`` +
``operator.json``; ``ci-deploy.json`` — made for DEV (``scripts/iam.py``, as an operator
makes them), with access keys; the role's commands run through the real CLI with those
keys against ``mock_aws`` with ``moto.core.enable_iam_authentication()``, and must pass;
a command outside the role must fail with exit 1 and one line naming the denied action
and the policy to attach.

What moto enforces faithfully, and so which commands are covered (checked by hand against
moto 5.2.5, ``moto/core/responses.py``, ``moto/iam/access_control.py``):

- **Actions, not resources.** moto authorises most services' calls against the resource
  ``*`` (only S3, SQS, IAM and STS name a real resource), so a statement scoped to
  ``/garmaxai/DEV/*`` would match nothing. The users hold the policies with every
  ``Resource`` widened to ``*`` and conditions dropped (moto treats an unmet condition as
  an explicit deny; the conditions here are KMS's ``kms:ViaService``, and moto never calls
  KMS): an action missing from a role fails, a resource pattern is not checked here. The
  resource patterns are proven by the policy linter and the recorded calls (tests/iam/),
  and on a real stage by ``doctor --permissions`` (IAM's simulator).
- **Covered** (Parameter Store, CloudFormation, CloudWatch Logs, Cost Explorer: signed and
  named as IAM names them): readonly — ``outputs``, ``params plan``/``diff``/``list``/
  ``history``, ``logs tail``, ``logs query``, ``logs errors``, ``cost report``,
  ``audit verify``; operator — those, and ``params push``/``apply``/``get``/``pull``/
  ``rollback``/``restore``/``export``/``import``; ci-deploy — ``params push``/``apply``.
  Each mutating one also writes its audit record to the stage's log group and the chain's
  head in SSM under the same user (``logs:CreateLogStream``/``PutLogEvents``,
  ``ssm:PutParameter``), checked by the absence of a warning.
- **Not covered, and why.** CloudWatch is signed as ``monitoring`` and moto authorises
  ``monitoring:DescribeAlarms`` where IAM says ``cloudwatch:DescribeAlarms`` (``alarms
  *``, ``health``, ``status``, ``verify``, ``idle *``); moto rejects every signed GET of
  Lambda and API Gateway with ``SignatureDoesNotMatch`` (``health``, ``status``,
  ``verify``, ``idle *``, ``smoke``); moto authorises Budgets' reads as
  ``budgets:DescribeBudget*`` where IAM says ``budgets:ViewBudget`` (``budget status``);
  ``cost forecast`` (moto has no ``GetCostForecast``), ``dr *`` (moto's restorable
  window differs from RDS's: the dr tests answer ``DescribeDBClusters`` themselves, so it
  never reaches moto's authorisation), ``deploy``/``diff``/``destroy``/``bootstrap``
  (the CDK CLI, a Node.js subprocess, assumes the CDK roles), ``alarms mute``/``unmute``
  (moto lacks the mute rules), ``audit list``/``show`` (no AWS call), ``doctor``
  (``sts:GetCallerIdentity`` needs no permission, in moto as in AWS; ``--permissions``
  needs IAM's simulator, which moto lacks), ``local *`` (the emulator only).

moto's authentication is process-wide (``moto.settings``): the fixture turns it on inside
its own ``mock_aws`` only after the setup, and restores it on the way out, checked; the
shared LOCAL stack and the bare emulator run in subprocesses and never see it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from garmaxctl import permissions
from garmaxctl.shared import contract
from tests.cli.conftest import Run, assert_envelope, cli, project  # noqa: F401
from tests.conftest import load_script

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
REGION = "us-east-1"
STAGE = "DEV"
# Each user holds exactly these generated policies (operator.json is attached beside
# readonly.json: it holds only what readonly lacks).
USERS: dict[str, tuple[str, ...]] = {
    "readonly": ("readonly",), "operator": ("readonly", "operator"),
    "ci-deploy": ("ci-deploy",),
}
COVERED: dict[str, tuple[str, ...]] = {
    "readonly": ("outputs", "params plan", "params diff", "params list", "params history",
                 "logs tail", "logs query", "logs errors", "cost report", "audit verify"),
    "operator": ("params get", "params pull", "params push", "params apply",
                 "params rollback", "params restore", "params export", "params import"),
    "ci-deploy": ("params push", "params apply"),
}
ENV = "FRONTEND_URL=https://app.example.com\nALERT_EMAIL=ops@example.com\n" \
      "DAILY_BUDGET_USD=200\n"


def _generator() -> Any:
    return load_script("iam")


def stage_policy(role: str) -> dict[str, Any]:
    """docs/iam/{role}.json made for DEV, as `scripts/iam.py --stage DEV ...` prints it."""
    text = _generator().documents()[f"{role}.json"]
    return json.loads(permissions.instantiate(text, stage=STAGE, account=ACCOUNT,
                                              region=REGION))


def action_level(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy as moto can enforce it: each statement's actions on ``*``."""
    statements = [{**{k: v for k, v in s.items() if k not in ("Resource", "Condition")},
                   "Resource": "*"} for s in policy["Statement"]]
    return {"Version": policy["Version"], "Statement": statements}


def _aws_shaped_access_denied(self: Any) -> None:
    """moto's answer to a refused call, in AWS's shape: a JSON-protocol service answers
    ``AccessDeniedException`` as JSON (moto answers XML, which botocore cannot parse for
    these services), and the message is IAM's ("... because no identity-based policy
    allows the X action"). moto's decision is untouched."""
    from moto.core.exceptions import AccessDeniedError, JsonRESTError

    message = (f"User: {self._access_key.arn} is not authorized to perform: {self._action} "
               f"because no identity-based policy allows the {self._action} action")
    if "amz-json" in str(self._headers.get("Content-Type", "")):
        raise JsonRESTError("AccessDeniedException", message)
    error = AccessDeniedError(user_arn=self._access_key.arn, action=self._action)
    raise error


@dataclass
class Enforced:
    """DEV under mock_aws with IAM enforced; a user per role."""

    cli: Run
    keys: dict[str, dict[str, str]] = field(default_factory=dict)

    def run(self, user: str, *args: str) -> tuple[Any, dict[str, Any]]:
        key = self.keys[user]
        result = self.cli("--stage", STAGE, "-o", "json", *args,
                          env={"AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                               "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]})
        return result, json.loads(result.stdout)

    def ok(self, user: str, *args: str) -> dict[str, Any]:
        result, document = self.run(user, *args)
        assert result.exit_code == 0, (user, args, result.stdout[-1500:], result.stderr)
        # A mutating command's audit record reached the stage's log group and the chain's
        # head under the same user (a refused write is a warning, not an exit code).
        assert not document.get("warnings"), document["warnings"]
        return document


def _seed(workdir: Path) -> None:
    """What the commands read, made with the emulator's admin credentials."""
    (workdir / ".env").write_text(ENV)
    ssm = boto3.client("ssm", region_name=REGION)
    for relative, value in (("frontend/url", "https://old.example.com"),
                            ("alerts/email", "ops@example.com")):
        path = contract.params_prefix(STAGE) + relative
        ssm.put_parameter(Name=path, Value=value, Type="String")
        ssm.put_parameter(Name=path, Value=value + "/v2", Type="String", Overwrite=True)
    from tests.logs.conftest import stack_template

    cfn = boto3.client("cloudformation", region_name=REGION)
    template = json.loads(stack_template(STAGE))
    template["Outputs"] = {"ApiUrl": {"Value": "https://api.example.com/dev/"}}
    cfn.create_stack(StackName=contract.stack_name(STAGE), TemplateBody=json.dumps(template))
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName=contract.audit_log_group(STAGE))


def _users() -> dict[str, dict[str, str]]:
    """One managed policy per role (as the README's `aws iam create-policy`), one user per
    role holding exactly its policies, each with an access key."""
    iam = boto3.client("iam", region_name=REGION)
    arns = {role: iam.create_policy(
        PolicyName=f"garmaxctl-{role}-{STAGE}",
        PolicyDocument=json.dumps(action_level(stage_policy(role))))["Policy"]["Arn"]
        for role in sorted({r for roles in USERS.values() for r in roles})}
    keys = {}
    for user, roles in USERS.items():
        iam.create_user(UserName=user)
        for role in roles:
            iam.attach_user_policy(UserName=user, PolicyArn=arns[role])
        keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
    return keys


@pytest.fixture
def enforced(cli: Run, project: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
             tmp_path: Path) -> Iterator[Enforced]:
    from moto import mock_aws, settings
    from moto.core import enable_iam_authentication
    from moto.iam.access_control import IAMRequest

    before = settings.INITIAL_NO_AUTH_ACTION_COUNT
    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", ACCOUNT)
    monkeypatch.setenv("GARMAX_EXPORT_PASSPHRASE", "correct horse battery staple")
    monkeypatch.setattr(IAMRequest, "_raise_access_denied", _aws_shaped_access_denied)
    try:
        with mock_aws():
            _seed(project)
            keys = _users()
            with enable_iam_authentication():
                yield Enforced(cli=cli, keys=keys)
    finally:
        # Process-wide: nothing after this test may run with IAM enforced.
        assert before == settings.INITIAL_NO_AUTH_ACTION_COUNT, \
            "moto's IAM authentication was left on"


def test_the_users_hold_exactly_the_generated_policies(enforced: Enforced) -> None:
    """No user can do what its role lacks: the admin's read of the stack is refused."""
    key = enforced.keys["ci-deploy"]
    session = boto3.Session(aws_access_key_id=key["AccessKeyId"],
                            aws_secret_access_key=key["SecretAccessKey"], region_name=REGION)
    with pytest.raises(Exception, match="AccessDenied"):
        session.client("logs").filter_log_events(
            logGroupName=f"/aws/lambda/GarmaxAi-Api-{STAGE}")  # logs tail: not ci-deploy's
    session.client("ssm").describe_parameters()  # in ci-deploy.json (params push's plan)


def _every_covered_command_of(user: str, enforced: Enforced, tmp_path: Path) -> list[str]:
    frontend = "FRONTEND_URL"
    runs: dict[str, Callable[[], dict[str, Any]]] = {
        "outputs": lambda: enforced.ok(user, "outputs"),
        "params plan": lambda: enforced.ok(user, "params", "plan"),
        "params diff": lambda: enforced.ok(user, "params", "diff"),
        "params list": lambda: enforced.ok(user, "params", "list"),
        "params history": lambda: enforced.ok(user, "params", "history", frontend),
        "logs tail": lambda: enforced.ok(user, "logs", "tail", "--since", "1h"),
        "logs query": lambda: enforced.ok(user, "logs", "query", "--preset", "errors",
                                          "--since", "1h"),
        "logs errors": lambda: enforced.ok(user, "logs", "errors", "--since", "1h"),
        "cost report": lambda: enforced.ok(user, "cost", "report", "--since", "7d"),
        "audit verify": lambda: enforced.ok(user, "audit", "verify"),
        "params get": lambda: enforced.ok(user, "params", "get", frontend),
        "params pull": lambda: enforced.ok(user, "params", "pull", "--format", "json"),
        "params push": lambda: enforced.ok(user, "params", "push"),
        "params apply": lambda: enforced.ok(user, "params", "apply"),
        "params rollback": lambda: enforced.ok(user, "params", "rollback", frontend,
                                               "--to-version", "1"),
        "params restore": lambda: enforced.ok(user, "params", "restore", "--as-of", "1h"),
        "params export": lambda: enforced.ok(
            user, "params", "export", "--out", str(tmp_path / f"{user}.age"),
            "--passphrase-env", "GARMAX_EXPORT_PASSPHRASE"),
        "params import": lambda: enforced.ok(
            user, "params", "import", str(tmp_path / f"{user}.age"),
            "--passphrase-env", "GARMAX_EXPORT_PASSPHRASE"),
    }
    commands = [c for role in USERS[user] for c in COVERED.get(role, ())] \
        if user != "ci-deploy" else list(COVERED["ci-deploy"])
    for command in commands:
        runs[command]()
    return commands


@pytest.mark.parametrize("user", list(USERS))
def test_each_role_runs_its_covered_commands(enforced: Enforced, tmp_path: Path,
                                             user: str) -> None:
    ran = _every_covered_command_of(user, enforced, tmp_path)
    # Every covered command is in the role's policies (permissions.ROLES, the generator's).
    known = {c for role in USERS[user] for c in permissions.ROLES[role]}
    assert set(ran) <= known


def test_a_command_outside_the_role_fails_with_one_line_naming_action_and_policy(
        enforced: Enforced) -> None:
    result, document = enforced.run("readonly", "params", "push")
    assert result.exit_code == 1
    assert_envelope(document, exit_code=1, command="params push")
    message = document["error"]["message"]
    assert "\n" not in message
    assert "AccessDenied: ssm:PutParameter" in message
    assert f"arn:aws:iam::{ACCOUNT}:user/readonly" in message
    assert "`params push` needs docs/iam/operator.json beside docs/iam/readonly.json " \
           "or docs/iam/ci-deploy.json (see docs/iam/commands.md)" in message
    # Nothing was written: the parameters are as the admin left them.
    ssm_writes = [r for r in document["data"]["report"]["results"] if r["status"] == "written"]
    assert ssm_writes == []

    table = enforced.cli("--stage", STAGE, "params", "push", env={
        "AWS_ACCESS_KEY_ID": enforced.keys["readonly"]["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": enforced.keys["readonly"]["SecretAccessKey"]})
    # The table's summary says it too (folded at the terminal's width), after the rows.
    text = " ".join(table.stdout.split())
    assert table.exit_code == 1
    assert f"{message.split(';')[0]}; 3 of 3 write(s) failed" in text
    assert "`params push` needs docs/iam/operator.json" in text


def test_a_read_outside_the_role_names_its_own_action_and_policy(enforced: Enforced) -> None:
    """ci-deploy may push and restore but not read the logs: the first read is refused."""
    result, document = enforced.run("ci-deploy", "logs", "tail", "--since", "1h")
    assert result.exit_code == 1
    assert document["error"]["code"] == "access_denied"
    message = document["error"]["message"]
    assert message == ("AccessDenied: cloudformation:ListStackResources is not allowed for "
                       f"arn:aws:iam::{ACCOUNT}:user/ci-deploy; `logs tail` needs "
                       "docs/iam/readonly.json (see docs/iam/commands.md), or use another "
                       "--profile")
