"""The policies in docs/iam/ are generated from the registry, current, valid and scoped."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from garmaxctl import permissions, registry
from tests.conftest import load_script
from tests.iam import recorder

REPO = Path(__file__).resolve().parents[2]
ROLE_FILES = ("readonly.json", "operator.json", "ci-deploy.json", "ci-diff.json")

# Findings of parliament that are wrong, each with the reason (none other is accepted).
LINTER_FALSE_POSITIVES = {
    # AWS managed policies' ARNs carry the account "aws" (IAM User Guide, "AWS managed
    # policies"); parliament 1.6.4 expects 12 digits in every IAM ARN.
    ("INVALID_ARN", permissions.AWS_MANAGED_POLICIES),
}


def _generator() -> Any:
    return load_script("iam")


def test_docs_iam_files_are_the_generated_ones() -> None:
    """A changed table without `make iam` fails here."""
    for name, text in _generator().documents().items():
        path = REPO / "docs" / "iam" / name
        assert path.exists() and path.read_text() == text, f"docs/iam/{name} is stale: make iam"


def _parliament() -> Any:
    # parliament 1.6.4 finds its data files through pkg_resources, which setuptools no
    # longer ships: give it the one function it uses (importlib.resources does the same).
    if "pkg_resources" not in sys.modules and importlib.util.find_spec("pkg_resources") is None:
        shim = types.ModuleType("pkg_resources")

        def resource_filename(package: str, name: str) -> str:
            from importlib.resources import files

            return str(files(package) / name)

        shim.resource_filename = resource_filename  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim
    import parliament

    return parliament


def _privilege(parliament: Any, prefix: str, verb: str) -> list[dict[str, Any]]:
    """The resource types of one action in parliament's copy of the Service Authorization
    Reference (empty when the action is unknown)."""
    for service in parliament.iam_definition:
        if service["prefix"] == prefix:
            for privilege in service["privileges"]:
                if privilege["privilege"] == verb:
                    return list(privilege["resource_types"]) or [{"resource_type": ""}]
    return []


# bootstrap.json is an administrator's one-off (it creates the CDK roles and the assets'
# resource policies): parliament rightly says so, and that is all it may say.
BOOTSTRAP_FINDINGS = {"RESOURCE_POLICY_PRIVILEGE_ESCALATION"}


@pytest.mark.parametrize("stage", ["DEV", "PROD"])
@pytest.mark.parametrize("name", [*ROLE_FILES, "bootstrap.json"])
def test_policy_passes_the_linter_with_no_finding(name: str, stage: str) -> None:
    """What is uploaded is the policy made for a stage (the linter checks an ARN's region
    and account, so the placeholders are replaced first)."""
    parliament = _parliament()
    text = permissions.instantiate((REPO / "docs" / "iam" / name).read_text(), stage=stage,
                                   account="123456789012", region="eu-west-1")
    policy = parliament.analyze_policy_string(text)
    findings = [f"{f.issue} {f.location.get('string')}" for f in policy.findings
                if (f.issue, f.location.get("string")) not in LINTER_FALSE_POSITIVES
                and not (name == "bootstrap.json" and f.issue in BOOTSTRAP_FINDINGS)
                and not _newer_than_linter(f)]
    assert findings == []


def _newer_than_linter(finding: Any) -> bool:
    """parliament's data predates these actions (permissions.NEWER_THAN_LINTER): its
    UNKNOWN_ACTION for exactly them is expected; botocore's model vouches for them below."""
    return (finding.issue == "UNKNOWN_ACTION"
            and finding.location.get("string") in permissions.NEWER_THAN_LINTER)


def test_actions_newer_than_the_linter_exist_in_botocore_and_not_in_its_data() -> None:
    """Each is an operation of the service's botocore model (the API the CLI calls) and
    still unknown to the linter (when the linter learns one, drop it from the list)."""
    import botocore.session

    parliament = _parliament()
    session = botocore.session.get_session()
    for action in sorted(permissions.NEWER_THAN_LINTER):
        prefix, verb = action.split(":")
        model = session.get_service_model(prefix)
        assert verb in model.operation_names, action
        assert _privilege(parliament, prefix, verb) == [], f"{action}: the linter knows it now"


@pytest.mark.parametrize("name", ROLE_FILES)
def test_policy_names_every_resource_it_can(name: str) -> None:
    """`*` only for actions that take no resource (parliament's copy of the Service
    Authorization Reference), each listed with its reason in permissions.ONLY_STAR."""
    parliament = _parliament()
    document = json.loads((REPO / "docs" / "iam" / name).read_text())
    for statement in document["Statement"]:
        resources = statement["Resource"]
        if "*" not in (resources if isinstance(resources, list) else [resources]):
            continue
        for action in statement["Action"]:
            assert action in permissions.ONLY_STAR, f"{action} on * needs a reason"
            prefix, verb = action.split(":")
            # A type marked "*" is required: such an action always names its resource.
            required = [r["resource_type"] for r in _privilege(parliament, prefix, verb)
                        if r["resource_type"].endswith("*")]
            assert not required, f"{action} can be scoped to {required}"


def test_only_star_lists_only_actions_in_use() -> None:
    used = {p.action for e in registry.commands() for p in e.actions if p.resource == "*"}
    assert used == set(permissions.ONLY_STAR)


@pytest.mark.parametrize("name", ROLE_FILES)
def test_policy_is_within_the_managed_policy_size_limit(name: str) -> None:
    document = json.loads((REPO / "docs" / "iam" / name).read_text())
    assert len(json.dumps(document, separators=(",", ":"))) <= 6144  # IAM quota


def test_every_resource_is_scoped_to_one_stage() -> None:
    """Stage resources carry the placeholder; an instantiated policy has none left."""
    for name in ROLE_FILES:
        text = (REPO / "docs" / "iam" / name).read_text()
        made = permissions.instantiate(text, stage="dev", account="123456789012",
                                       region="eu-west-1")
        assert "${" not in made
        # ci-diff holds only the CDK lookup role (per account and region, no stage resource).
        assert ("GarmaxAiStack-DEV" in made and "garmaxai-cluster-dev" in made) \
            or name in ("ci-deploy.json", "ci-diff.json")
        for statement in json.loads(text)["Statement"]:
            resources = statement["Resource"]
            for resource in resources if isinstance(resources, list) else [resources]:
                assert resource == "*" or "${Account}" in resource or \
                    resource.startswith(("arn:aws:s3:::", "arn:aws:iam::aws:")), resource
                if resource.startswith(("arn:aws:s3:::garmax", "arn:aws:ssm:${Region}",
                                        "arn:aws:cloudwatch", "arn:aws:dynamodb",
                                        "arn:aws:lambda:${Region}:${Account}:function")):
                    assert "${Stage}" in resource or "${stage}" in resource, resource


def test_role_membership() -> None:
    known = [e.path for e in registry.commands()]
    readonly = permissions.role_commands("readonly", known)
    operator = permissions.role_commands("operator", known)
    assert set(readonly) < set(operator)
    assert not {e.path for e in registry.commands() if e.mutates} & set(readonly)
    assert "params push" in permissions.role_commands("ci-deploy", known)


# ----------------------------------------------------------------- the recorder's logic

def _calls(*rows: tuple[str, str, str]) -> list[recorder.Call]:
    return [recorder.Call(*row) for row in rows]


def test_a_call_outside_the_table_is_reported() -> None:
    entry = registry.find("params list")
    assert entry is not None
    calls = _calls(("params list", "ssm", "GetParametersByPath"))
    assert recorder.outside_tables(calls, [entry]) == []
    shrunk = registry.Entry(**{**entry.__dict__, "actions": ()})
    assert recorder.outside_tables(calls, [shrunk]) == [
        "`params list` called ssm.GetParametersByPath: ssm:GetParametersByPath is not in "
        "its actions (garmaxctl/permissions.py)"]


def test_a_table_action_never_called_is_reported() -> None:
    entry = registry.find("outputs")
    assert entry is not None
    assert recorder.never_called(_calls(("outputs", "cloudformation", "DescribeStacks")),
                                 [entry]) == []
    assert recorder.never_called([], [entry]) == [
        "cloudformation:DescribeStacks (declared by `outputs`...) was never called by a "
        "test"]
    # A call of another command does not count; a service driven directly does.
    assert recorder.never_called(_calls(("params list", "cloudformation", "DescribeStacks")),
                                 [entry]) != []
    assert recorder.never_called(_calls(("", "cloudformation", "DescribeStacks")),
                                 [entry]) == []


def test_operations_map_to_their_iam_actions() -> None:
    assert recorder.action_of("monitoring", "DescribeAlarms") == "cloudwatch:DescribeAlarms"
    assert recorder.action_of("s3", "HeadBucket") == "s3:ListBucket"
    assert recorder.action_of("lambda", "Invoke") == "lambda:InvokeFunction"
    assert recorder.action_of("budgets", "DescribeBudget") == "budgets:ViewBudget"
    assert recorder.action_of("sts", "GetCallerIdentity") is None


def test_every_mapped_action_exists_in_iam() -> None:
    parliament = _parliament()
    for action in {a for a in recorder.OPERATION_ACTIONS.values() if a}:
        prefix, verb = action.split(":")
        assert _privilege(parliament, prefix, verb), action
