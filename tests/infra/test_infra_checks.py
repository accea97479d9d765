"""cdk-nag AwsSolutions, cfn-lint and the canary secret, on all four stages' templates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest

from garmaxctl.shared import contract
from garmaxctl.shared.stages import STAGE_ORDER, Stage

CANARY_MARK = "CANARY_7f3a9c1e5b2d4f60a8e1"

# cfn-lint rules ignored, and why (docs/infra.md, "Checks"):
CFN_LINT_IGNORED_EVERYWHERE = {
    # CDK adds DependsOn [Role, Role/DefaultPolicy] to each function so it is never created
    # before its policy; the Role half repeats the GetAtt. Harmless, and CDK's to change.
    "W3005",
}
CFN_LINT_IGNORED_WITH_VPC = {
    # DESIGN.md: availability zones are explicit per stage so synthesis needs no look-ups.
    "W3010",
}
# No known sizing conflict: stages.py uses Aurora MySQL 3 classes (docs/infra.md, "Sizing").
CFN_LINT_KNOWN_SIZING_CONFLICT: dict[Stage, dict[str, str]] = {}


# ------------------------------------------------------------------------ cdk-nag


def _violations(synth) -> list[tuple[str, str, str, str]]:
    return _report_violations(synth.outdir)


def _report_violations(outdir: Path) -> list[tuple[str, str, str, str]]:
    """cdk-nag's findings from the policy-validation report. The plugin writes the report on
    every synthesis, clean or not: a missing report means the check did not run."""
    report_path = outdir / "validation-report.json"
    assert report_path.is_file(), f"no cdk-nag report at {report_path}: the plugin did not run"
    report = json.loads(report_path.read_text())
    return [(p["pluginName"], v["ruleName"], v["severity"], c["constructPath"])
            for p in report["pluginReports"] for v in p["violations"]
            for c in v["violatingConstructs"]]


def test_cdk_nag_aws_solutions_has_no_unacknowledged_finding(synth):
    nag = [v for v in _violations(synth) if v[0] == "AwsSolutions"]
    assert nag == []


def test_the_nag_check_can_fail(tmp_path) -> None:
    """A bucket without TLS-only access or logging, under the same plugin, is refused and
    its findings come back through the same report reader."""
    from aws_cdk import aws_s3 as s3
    from cdk_nag import AwsSolutionsChecks

    app = cdk.App(outdir=str(tmp_path))
    s3.Bucket(cdk.Stack(app, "NagProbe"), "Careless")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    rules = {rule for _, rule, _, _ in _report_violations(tmp_path)}
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules, rules


def test_cdk_nag_ran_on_the_stage(synth):
    # The plugin is attached (its acknowledgments reach the template's metadata).
    acked = [r for r in synth.resources.values() if r.get("Metadata", {}).get("cdk_nag")]
    assert acked


def test_no_error_or_warning_annotations_on_the_stack(synth):
    from aws_cdk.assertions import Annotations, Match

    annotations = Annotations.from_stack(synth.stack)
    assert annotations.find_error("*", Match.any_value()) == []
    assert annotations.find_warning("*", Match.any_value()) == []


def test_every_acknowledgment_is_resource_level_with_a_specific_reason(synth):
    seen = 0
    for logical, res in synth.resources.items():
        for rule in res.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            if rule["id"].startswith("CloudFormation-Validate::"):
                continue  # added by aws-cdk-lib itself (e.g. on the VPC flow-log role)
            seen += 1
            assert rule["id"].startswith("AwsSolutions-"), (logical, rule)
            assert len(rule["reason"]) >= 40, (logical, rule)
    assert seen
    # Never a blanket list on the stack or the app.
    key = cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    for scope in (synth.stack, synth.app):
        assert [m for m in scope.node.metadata if m.type == key] == []


def test_wildcard_acknowledgments_name_the_exact_finding(synth):
    for res in synth.resources.values():
        for rule in res.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            if rule["id"].startswith("AwsSolutions-IAM5"):
                assert "[" in rule["id"], rule  # e.g. IAM5[Resource::<UploadsBucket.Arn>/*]


# ------------------------------------------------------------------------ cfn-lint


@pytest.fixture(scope="module")
def cfn_lint_matches(synths) -> dict[Stage, list[dict]]:
    """cfn-lint once over the four templates (one process), matches grouped by stage."""
    paths = {str(synths[s].template_path): s for s in STAGE_ORDER}
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from cfnlint.runner import main; sys.exit(main())",
         "--format", "json", *paths],
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert result.returncode in (0, 2, 4, 6, 8, 10, 12, 14), result.stderr
    matches = json.loads(result.stdout or "[]")
    grouped: dict[Stage, list[dict]] = {s: [] for s in STAGE_ORDER}
    for match in matches:
        grouped[paths[str(Path(match["Filename"]))]].append(match)
    return grouped


@pytest.mark.parametrize("stage", STAGE_ORDER, ids=lambda s: s.value)
def test_cfn_lint_is_clean_apart_from_documented_rules(stage, cfn_lint_matches, synths):
    from garmaxctl.shared.stages import STAGES

    ignored = set(CFN_LINT_IGNORED_EVERYWHERE)
    if STAGES[stage].features.vpc:
        ignored |= CFN_LINT_IGNORED_WITH_VPC
    known = CFN_LINT_KNOWN_SIZING_CONFLICT.get(stage, {})
    remaining = []
    for match in cfn_lint_matches[stage]:
        rule = match["Rule"]["Id"]
        if rule in ignored:
            continue
        if rule in known and known[rule] in match["Message"]:
            continue
        remaining.append(f"{rule} {match['Message'][:200]}")
    assert remaining == []


def test_every_database_class_is_an_aurora_class(cfn_lint_matches):
    for stage, matches in cfn_lint_matches.items():
        assert [m for m in matches if m["Rule"]["Id"] == "E3025"] == [], stage


# ------------------------------------------------------------------------ canary


def test_no_secret_value_reaches_any_cloud_assembly_file(synths, canary_env):
    import os

    assert all(os.environ.get(k) == v for k, v in canary_env.items())  # it was set
    for stage, synth in synths.items():
        for path in synth.outdir.rglob("*"):
            if path.is_file() and path.suffix in {".json", ".csv", ".txt", ""}:
                assert CANARY_MARK not in path.read_text(errors="replace"), (stage, path)
        template = json.dumps(synth.template)
        for key in contract.SECRET_ENV_KEYS:
            assert canary_env[key] not in template


def test_no_secret_parameter_is_created_by_the_stack(synth):
    # The stack writes no parameter under /garmaxai/{STAGE}/ (DESIGN.md, reserved paths).
    assert synth.of_type("AWS::SSM::Parameter") == {}


# ------------------------------------------------------------------------ LOCAL vs moto

# LOCAL resource types moto 5.2.5 has no CloudFormation model for, and what happens
# (docs/infra.md, "LOCAL"). Bridged: the emulator registers a model (garmaxctl/
# local/bridges). Skipped: moto warns and creates nothing; nothing reads an attribute.
LOCAL_TYPES_WITHOUT_MOTO_MODEL = {
    "AWS::CloudWatch::Alarm": "bridged",
    "AWS::S3::BucketPolicy": "bridged",
    "AWS::SQS::QueuePolicy": "bridged",
    "AWS::ApiGateway::Stage": "bridged",
    "AWS::ApiGateway::Account": "bridged",
    "AWS::ApiGateway::RequestValidator": "skipped",
    "AWS::SNS::TopicPolicy": "skipped",
    "AWS::SNS::Subscription": "bridged",  # only when an alert e-mail is given
}


def test_local_uses_only_types_moto_models_or_the_emulator_bridges(synths):
    from moto.cloudformation.parsing import get_model_map

    template = synths[Stage.LOCAL].template
    types = {r["Type"] for r in template["Resources"].values()}
    missing = types - set(get_model_map())
    assert missing <= set(LOCAL_TYPES_WITHOUT_MOTO_MODEL), missing
    skipped = {logical for logical, r in template["Resources"].items()
               if LOCAL_TYPES_WITHOUT_MOTO_MODEL.get(r["Type"]) == "skipped"}
    text = json.dumps(template)
    for logical in skipped:
        assert f'"Fn::GetAtt": ["{logical}"' not in text, logical
    for output in template["Outputs"].values():
        assert not {o for o in skipped if o in json.dumps(output)}
