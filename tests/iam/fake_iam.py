"""IAM's policy simulator (and STS's caller, IAM's GetRole) answered as AWS answers them,
for ``doctor --permissions`` (moto has no ``SimulatePrincipalPolicy``).

:class:`FakeIam` answers from botocore ``before-call`` hooks on the run's session, in the
shapes of the IAM API reference (validated against botocore's output shapes): an
``EvaluationResults`` entry per action with ``EvalDecision`` ``allowed`` /
``implicitDeny`` / ``explicitDeny``, pages cut with ``IsTruncated`` and ``Marker``, and
AWS's AccessDenied message when a call is refused. The call recorder still sees every call
(it runs at ``before-parameter-build``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
REGION = "eu-west-1"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/ops/alice"
SSO_ROLE = "AWSReservedSSO_PowerUser_0123456789abcdef"
SSO_ROLE_ARN = (f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/{REGION}/"
                f"{SSO_ROLE}")


def _denied_message(caller: str, action: str, resource: str) -> str:
    return (f"User: {caller} is not authorized to perform: {action} on resource: {resource} "
            f"because no identity-based policy allows the {action} action")


@dataclass
class FakeIam:
    caller: str = USER_ARN
    roles: dict[str, str] = field(default_factory=dict)  # role name -> its ARN (path)
    get_role_allowed: bool = True
    simulate_allowed: bool = True
    page_size: int = 100
    decide: Callable[[str, str], str] = lambda action, resource: "allowed"
    simulations: list[dict[str, Any]] = field(default_factory=list)  # each page's request
    _params: dict[str, Any] = field(default_factory=dict)

    def install(self, session: Any) -> Any:
        for service in ("iam", "sts"):
            session.events.register(f"before-parameter-build.{service}", self._remember)
            session.events.register(f"before-call.{service}", self._answer)
        return session

    def _remember(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._params[model.name] = dict(params)

    def _answer(self, model: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse
        from botocore.validate import validate_parameters

        params = self._params.pop(model.name)
        try:
            answer = getattr(self, model.name)(params)
        except PermissionError as exc:
            parsed = {"Error": {"Code": "AccessDenied", "Message": str(exc), "Type": "Sender"},
                      "ResponseMetadata": {"HTTPStatusCode": 403}}
            return AWSResponse("https://iam.amazonaws.com/", 403, {}, None), parsed
        validate_parameters(answer, model.output_shape)
        answer["ResponseMetadata"] = {"HTTPStatusCode": 200}
        return AWSResponse("https://iam.amazonaws.com/", 200, {}, None), answer

    # ---------------------------------------------------------------- the API
    def GetCallerIdentity(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"UserId": "AIDAEXAMPLE", "Account": ACCOUNT, "Arn": self.caller}

    def GetRole(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["RoleName"]
        arn = self.roles.get(name, f"arn:aws:iam::{ACCOUNT}:role/{name}")
        if not self.get_role_allowed:
            raise PermissionError(_denied_message(self.caller, "iam:GetRole", arn))
        return {"Role": {"Path": "/" + arn.split(":role/", 1)[1].rsplit("/", 1)[0] + "/"
                         if arn.count("/") > 1 else "/", "RoleName": name,
                         "RoleId": "AROAEXAMPLE0123456789", "Arn": arn,
                         "CreateDate": "2026-01-01T00:00:00Z",
                         "AssumeRolePolicyDocument": "{}"}}

    def SimulatePrincipalPolicy(self, params: dict[str, Any]) -> dict[str, Any]:
        source = params["PolicySourceArn"]
        if not self.simulate_allowed:
            raise PermissionError(_denied_message(self.caller, "iam:SimulatePrincipalPolicy",
                                                  source))
        self.simulations.append(params)
        (resource,) = params.get("ResourceArns") or ["*"]
        results = [{"EvalActionName": action, "EvalResourceName": resource,
                    "EvalDecision": self.decide(action, resource),
                    "MatchedStatements": [], "MissingContextValues": []}
                   for action in params["ActionNames"]]
        start = int(params.get("Marker") or 0)
        size = min(self.page_size, params.get("MaxItems") or 100)
        page = results[start:start + size]
        answer: dict[str, Any] = {"EvaluationResults": page,
                                  "IsTruncated": start + size < len(results)}
        if answer["IsTruncated"]:
            answer["Marker"] = str(start + size)
        return answer


def install(monkeypatch: Any, fake: FakeIam) -> FakeIam:
    """Answer every run's IAM and STS calls with ``fake`` (sessions made afterwards)."""
    from garmaxctl import aws

    wire = aws.log_the_wire
    monkeypatch.setattr(aws, "log_the_wire", lambda session: fake.install(wire(session)))
    return fake
