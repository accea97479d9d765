"""``garmaxctl doctor --permissions``: which commands may the caller run on this stage?

IAM's policy simulator answers for the caller's own identity (``iam:SimulatePrincipalPolicy``
with the caller as ``PolicySourceArn``): every policy attached to the user or role,
permissions boundaries and the organization's SCPs included. Each command's actions come
from the registry (``garmaxctl.permissions``, the data the published policies in
docs/iam/ are generated from), made concrete for the stage as ``scripts/iam.py`` makes a
policy (``permissions.instantiate``), so the simulator evaluates the stage's real names:
one request per resource (and condition), with every action asked on it.

The caller (``sts:GetCallerIdentity``):

- an IAM user's ARN is simulated as it is (its path included);
- an assumed role ``arn:aws:sts::ACC:assumed-role/NAME/SESSION`` is simulated as its role.
  The role's ARN carries its path, which the session's ARN leaves out — IAM Identity
  Center's roles live under ``aws-reserved/sso.amazonaws.com/[REGION/]`` — so it is read
  with ``iam:GetRole``; where that is refused, a role named ``AWSReservedSSO_…`` cannot be
  named (the simulation would be of no role: an error says so), any other role is taken
  without a path, and the report says so;
- anything else (the root user, a federated user) cannot be simulated: an error says so.

moto has no ``SimulatePrincipalPolicy``: this is for real stages (the command refuses
LOCAL). Tests answer it in AWS's documented shapes (tests/iam/test_doctor_permissions.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from garmaxctl import permissions as P
from garmaxctl import registry
from garmaxctl.aws import access_denied, error_code
from garmaxctl.shared.errors import AwsError, OperationError
from garmaxctl.stage.target import StageTarget

ALLOWED = "allowed"
PAGE = 100  # MaxItems of a simulation page (AWS's default)
_ASSUMED = re.compile(r"^arn:(aws[\w-]*):sts::(\d{12}):assumed-role/([^/]+)/.+$")
_USER = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:user/.+$")
SSO_ROLE_PREFIX = "AWSReservedSSO_"


@dataclass(frozen=True)
class Denied:
    """One action the simulator refused on one resource."""

    action: str
    resource: str
    decision: str  # implicitDeny | explicitDeny


@dataclass
class CommandAccess:
    command: str
    actions: int  # how many (action, resource) pairs the command needs
    denied: list[Denied] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if not self.denied:
            return "allowed" if self.actions else "no AWS action"
        if any(d.decision == "explicitDeny" for d in self.denied):
            return "explicit deny"
        return "denied"


@dataclass
class AccessReport:
    stage: str
    caller: str  # sts:GetCallerIdentity's ARN
    principal: str  # the ARN simulated (a session's role, with its path)
    notes: list[str] = field(default_factory=list)
    commands: list[CommandAccess] = field(default_factory=list)
    requests: int = 0  # SimulatePrincipalPolicy pages asked for

    @property
    def denied_commands(self) -> list[str]:
        return [c.command for c in self.commands if c.denied]


def checked_commands() -> list[registry.Entry]:
    """Every command of a real stage (aliases and LOCAL's own commands left out)."""
    return [e for e in registry.commands() if not e.alias and e.words[0] != "local"]


def check_access(target: StageTarget) -> AccessReport:
    identity = target.aws.check_account()
    account, region = identity["account"], str(target.aws.region)
    iam = target.client("iam")
    principal, notes = resolve_principal(iam, identity["arn"])
    report = AccessReport(stage=target.name, caller=identity["arn"], principal=principal,
                          notes=notes)
    entries = checked_commands()
    concrete = {e.path: [_concrete(p, target.name, account, region) for p in e.actions]
                for e in entries}
    decisions, report.requests = simulate(iam, principal,
                                          {p for ps in concrete.values() for p in ps})
    for entry in entries:
        needed = sorted(set(concrete[entry.path]))
        report.commands.append(CommandAccess(
            command=entry.path, actions=len(needed),
            denied=[Denied(p.action, p.resource, decisions[p]) for p in needed
                    if decisions[p] != ALLOWED]))
    return report


def _concrete(p: P.Permission, stage: str, account: str, region: str) -> P.Permission:
    def made(text: str) -> str:
        return P.instantiate(text, stage=stage, account=account, region=region)

    return P.Permission(made(p.action), made(p.resource),
                        tuple((op, key, made(value)) for op, key, value in p.condition))


def resolve_principal(iam: Any, arn: str) -> tuple[str, list[str]]:
    """The ARN IAM's simulator takes for the caller, and what was assumed to find it."""
    if _USER.match(arn):
        return arn, []
    match = _ASSUMED.match(arn)
    if not match:
        raise OperationError(
            f"cannot simulate the permissions of {arn}: only IAM users and roles can be "
            "simulated (not the root user nor a federated user)", code="cannot_simulate",
            hint="run it with the user's or role's own credentials (--profile)")
    partition, account, name = match.groups()
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"]), [
            f"session {arn} is role {name}"]
    except Exception as exc:
        if access_denied(exc) is None:
            raise
    if name.startswith(SSO_ROLE_PREFIX):
        raise AwsError(
            f"cannot name the IAM Identity Center role {name}: its ARN holds a path "
            "(aws-reserved/sso.amazonaws.com/...) that only iam:GetRole can read, and "
            "iam:GetRole was refused", code="simulation_denied",
            hint="allow iam:GetRole on the role (docs/iam/readonly.json, `doctor`)")
    return f"arn:{partition}:iam::{account}:role/{name}", [
        f"session {arn} is role {name}; iam:GetRole was refused, so the role is taken "
        "without a path"]


def _batches(needed: Iterable[P.Permission]
             ) -> dict[tuple[str, tuple[tuple[str, str, str], ...]], list[str]]:
    """The actions to ask per resource (and condition): one simulation each."""
    batches: dict[tuple[str, tuple[tuple[str, str, str], ...]], list[str]] = {}
    for p in sorted(needed):
        batches.setdefault((p.resource, p.condition), []).append(p.action)
    return batches


def _context(condition: tuple[tuple[str, str, str], ...]) -> list[dict[str, Any]]:
    return [{"ContextKeyName": key, "ContextKeyValues": [value], "ContextKeyType": "string"}
            for _, key, value in condition]


def simulate(iam: Any, principal: str, needed: Iterable[P.Permission]
             ) -> tuple[dict[P.Permission, str], int]:
    """Each permission's decision (allowed / implicitDeny / explicitDeny), and how many
    pages were asked for. A refused simulation is an error: no decision is guessed."""
    decisions: dict[P.Permission, str] = {}
    requests = 0
    for (resource, condition), actions in _batches(needed).items():
        for start in range(0, len(actions), PAGE):  # ActionNames: at most one page's worth
            chunk = actions[start:start + PAGE]
            request: dict[str, Any] = {"PolicySourceArn": principal, "ActionNames": chunk,
                                       "MaxItems": PAGE}
            if resource != P.ANY:  # left out, the simulator evaluates "*" (the default)
                request["ResourceArns"] = [resource]
            if condition:
                request["ContextEntries"] = _context(condition)
            marker = None
            while True:
                try:
                    page = iam.simulate_principal_policy(
                        **request, **({"Marker": marker} if marker else {}))
                except Exception as exc:
                    raise _refused(exc, principal) from exc
                requests += 1
                for result in page.get("EvaluationResults", []):
                    decisions[P.Permission(result["EvalActionName"], resource, condition)] = \
                        str(result["EvalDecision"])
                if not page.get("IsTruncated"):
                    break
                marker = page["Marker"]
            for action in chunk:  # an action the simulator did not answer is not allowed
                decisions.setdefault(P.Permission(action, resource, condition),
                                     "implicitDeny")
    return decisions, requests


def _refused(exc: BaseException, principal: str) -> BaseException:
    denial = access_denied(exc)
    if denial is not None:
        return AwsError(
            f"cannot check permissions: iam:SimulatePrincipalPolicy on {principal} is not "
            f"allowed for the caller ({denial.what()})", code="simulation_denied",
            hint="attach docs/iam/readonly.json (it holds `doctor`), or ask an "
                 "administrator to run `garmaxctl doctor --permissions` for you")
    if error_code(exc) == "NoSuchEntity":
        return AwsError(f"IAM has no principal {principal} to simulate",
                        code="cannot_simulate",
                        hint="the role's path may be missing: allow iam:GetRole")
    return exc
