"""`garmaxctl synth --validate`: the guide's "validate the template" step (issue 11, item 16).

The command runs end to end through CliRunner. In the fast tests the project directory's
CDK CLI (``node_modules/.bin/cdk``) is a stand-in that writes a given template where
``cdk synth --output DIR`` would, so the template that cfn-lint sees is chosen by the test;
the slow test synthesizes the real LOCAL stack with the pinned CDK CLI.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import Run

needs_node = pytest.mark.skipif(shutil.which("node") is None,
                                reason="the synth command checks for Node.js first")

QUEUE = {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 60}}
CLEAN = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Queue": QUEUE}}
# E3002: SQS queues have no VisibilityTimeoutSeconds property (a deploy fails on it).
BROKEN = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {
    "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeoutSeconds": 60}}}}
# W3005, as CDK writes it for every function: a DependsOn that a GetAtt already implies.
CDK_DEPENDS_ON = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {
    "Queue": QUEUE,
    "Topic": {"Type": "AWS::SNS::Topic", "DependsOn": ["Queue"],
              "Properties": {"TopicName": {"Fn::GetAtt": ["Queue", "QueueName"]}}}}}


def _project(root: Path, template: dict) -> Path:
    """A project directory whose `cdk synth STACK --output DIR` writes ``template``."""
    root.mkdir()
    source = root / "template.json"
    source.write_text(json.dumps(template, indent=1))
    cdk = root / "node_modules" / ".bin" / "cdk"
    cdk.parent.mkdir(parents=True)
    cdk.write_text(
        f"#!{sys.executable}\n"
        "import shutil, sys\n"
        "from pathlib import Path\n"
        "args = sys.argv[1:]\n"
        "assert args[0] == 'synth', args\n"
        "out = Path(args[args.index('--output') + 1])\n"
        "out.mkdir(parents=True, exist_ok=True)\n"
        f"shutil.copy({str(source)!r}, out / (args[1] + '.template.json'))\n")
    cdk.chmod(0o755)
    return root


@pytest.fixture
def cli(tmp_path: Path) -> Run:
    return Run(tmp_path)


@needs_node
def test_validate_on_a_clean_template_exits_0_with_no_finding(cli, tmp_path) -> None:
    project = _project(tmp_path / "checkout", CLEAN)
    result = cli("synth", "--validate", env={"GARMAX_PROJECT_DIR": str(project)})
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "cfn-lint: 0 finding(s)" in result.stdout
    assert (project / "cdk.out" / "LOCAL" / "GarmaxAiStack-LOCAL.template.json").is_file()


@needs_node
def test_validate_shows_a_real_finding_and_exits_1(cli, tmp_path) -> None:
    project = _project(tmp_path / "checkout", BROKEN)
    result = cli("synth", "--validate", env={"GARMAX_PROJECT_DIR": str(project)})
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "cfn-lint: 1 finding(s)" in result.stdout
    row = next(line for line in result.stdout.splitlines() if "E3002" in line)
    assert "Error" in row and "Resources/Queue" in row


@needs_node
def test_validate_in_json_names_each_finding_and_the_error(cli, tmp_path) -> None:
    project = _project(tmp_path / "checkout", BROKEN)
    result = cli("-o", "json", "synth", "--validate",
                 env={"GARMAX_PROJECT_DIR": str(project)})
    document = json.loads(result.stdout)
    assert result.exit_code == 1 and document["exit_code"] == 1
    assert document["error"] == {"code": "lint_failed", "message": "cfn-lint: 1 finding(s)"}
    [finding] = document["data"]["lint"]
    assert finding["rule"] == "E3002" and finding["level"] == "Error"
    assert finding["resource"] == "Resources/Queue"
    assert "VisibilityTimeoutSeconds" in finding["message"]


@needs_node
def test_validate_leaves_out_the_documented_cdk_rule(cli, tmp_path) -> None:
    from cfnlint.api import lint_file

    project = _project(tmp_path / "checkout", CDK_DEPENDS_ON)
    # cfn-lint alone reports it (so the template really has the finding) ...
    assert [m.rule.id for m in lint_file(project / "template.json")] == ["W3005"]
    # ... and the command, which ignores it on purpose (docs/infra.md, "Checks"), does not.
    result = cli("synth", "--validate", env={"GARMAX_PROJECT_DIR": str(project)})
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "cfn-lint: 0 finding(s)" in result.stdout


@needs_node
def test_synth_without_validate_does_not_lint(cli, tmp_path) -> None:
    project = _project(tmp_path / "checkout", BROKEN)
    result = cli("synth", env={"GARMAX_PROJECT_DIR": str(project)})
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "cfn-lint" not in result.stdout


@pytest.mark.slow
def test_validate_on_the_real_local_stack_is_clean(cli) -> None:
    result = cli("synth", "--validate", "--force")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "cfn-lint: 0 finding(s)" in result.stdout
