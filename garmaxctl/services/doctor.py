"""``garmaxctl doctor``: is this machine ready to run garmaxctl against the stage?"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from garmaxctl.result import CheckResult, Status
from garmaxctl.settings import EnvFile, project_dir
from garmaxctl.shared import contract
from garmaxctl.shared.errors import GarmaxError

if TYPE_CHECKING:
    from garmaxctl.aws import AwsTarget

OK, WARN, FAIL, SKIPPED = Status.OK, Status.WARN, Status.FAIL, Status.SKIPPED
MIN_NODE_MAJOR = 20
RECOMMENDED_NODE_MAJOR = 22


@dataclass
class DoctorReport:
    stage: str
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == FAIL]

    @property
    def ok(self) -> bool:
        return not self.failed


def _version_of(command: list[str], timeout: float = 20.0) -> str | None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if result.returncode != 0:
        return None
    text = (result.stdout or result.stderr).strip()
    return text.splitlines()[0] if text else None


def check_python() -> CheckResult:
    version = ".".join(map(str, sys.version_info[:3]))
    return CheckResult("python", OK, f"Python {version}")
    return CheckResult("python", FAIL, f"Python {version}", "install Python 3.11 or newer")


def check_node() -> CheckResult:
    node = shutil.which("node")
    if not node:
        return CheckResult("node", FAIL, "node not found on PATH",
                     "install Node.js 22 LTS (the CDK CLI runs on it)")
    version = _version_of([node, "--version"]) or "unknown"
    match = re.match(r"v?(\d+)", version)
    major = int(match.group(1)) if match else 0
    if major < MIN_NODE_MAJOR:
        return CheckResult("node", FAIL, f"Node.js {version}", "install Node.js 22 LTS")
    if major < RECOMMENDED_NODE_MAJOR:
        return CheckResult("node", WARN, f"Node.js {version} (end of life; the CDK CLI still runs)",
                     "upgrade to Node.js 22 LTS")
    return CheckResult("node", OK, f"Node.js {version}")


def check_npm() -> CheckResult:
    npm = shutil.which("npm")
    if not npm:
        return CheckResult("npm", WARN, "npm not found on PATH",
                     "install npm (needed once, to install the pinned CDK CLI)")
    return CheckResult("npm", OK, f"npm {_version_of([npm, '--version']) or 'unknown'}")


def pinned_cdk_version(root: Path) -> str | None:
    try:
        package = json.loads((root / "package.json").read_text())
    except (OSError, ValueError):
        return None
    return (package.get("devDependencies") or {}).get("aws-cdk") or \
        (package.get("dependencies") or {}).get("aws-cdk")


def cdk_binary(root: Path) -> Path:
    return root / "node_modules" / ".bin" / "cdk"


def check_cdk_cli(root: Path) -> CheckResult:
    pinned = pinned_cdk_version(root)
    binary = cdk_binary(root)
    if not binary.exists():
        return CheckResult("cdk cli", FAIL, f"not installed ({binary} missing)",
                     "run `make setup` (or `npm ci`) in the project directory")
    version = _version_of([str(binary), "--version"], timeout=60) or ""
    installed = version.split()[0] if version else "unknown"
    if pinned and installed != pinned:
        return CheckResult("cdk cli", FAIL, f"aws-cdk {installed}, pinned {pinned}",
                     "run `npm ci` to install the pinned CDK CLI")
    return CheckResult("cdk cli", OK, f"aws-cdk {installed} (pinned)")


def check_optional_tool(name: str, args: list[str], why: str) -> CheckResult:
    path = shutil.which(name)
    if not path:
        return CheckResult(name, WARN, f"not installed (optional: {why})", "")
    return CheckResult(name, OK, _version_of([path, *args]) or "installed")


def check_emulator(aws: AwsTarget) -> CheckResult:
    from garmaxctl.shared.errors import EmulatorNotRunningError
    from garmaxctl.stage import local

    try:
        local.require_running(str(aws.endpoint_url))
    except EmulatorNotRunningError as exc:
        return CheckResult("emulator", FAIL, exc.message, "garmaxctl local up --detach")
    return CheckResult("emulator", OK, f"answering at {aws.endpoint_url}")


def check_credentials(aws: AwsTarget) -> CheckResult:
    from garmaxctl.aws import translate_error

    try:
        identity = aws.check_account()
    except GarmaxError as exc:
        return CheckResult("credentials", FAIL, exc.message, exc.hint or "")
    except Exception as exc:
        if not type(exc).__module__.startswith(("botocore", "boto3")):
            raise
        error = translate_error(exc, str(aws.stage.stage))
        return CheckResult("credentials", FAIL, error.message, error.hint or "")
    return CheckResult("credentials", OK, f"account {identity['account']} ({identity['arn']})")


def check_env_file(env: EnvFile, stage: str) -> CheckResult:
    if not env.exists:
        if stage == "LOCAL":
            return CheckResult(".env", WARN, f"{env.path} not found (LOCAL runs on defaults)",
                         "cp .env.example .env")
        return CheckResult(".env", FAIL, f"{env.path} not found",
                     f"create it from .env.example, or pass --env-file .env.{stage.lower()}")
    if env.problems:
        return CheckResult(".env", FAIL, f"{len(env.problems)} problem(s) in {env.path}",
                     "run `garmaxctl config validate` to list them")
    missing = [key for key in contract.required_env_keys(stage) if not env.is_set(key)]
    if missing:
        return CheckResult(".env", FAIL, f"missing for {stage}: {', '.join(missing)}",
                     f"set them in {env.path}")
    return CheckResult(".env", OK, f"{env.path} valid for {stage}")


def run_doctor(aws: AwsTarget, env: EnvFile, root: Path | None = None) -> DoctorReport:
    root = root or project_dir()
    stage = str(aws.stage.stage)
    report = DoctorReport(stage=stage)
    tools: list[Callable[[], CheckResult]] = [
        check_python, check_node, check_npm, lambda: check_cdk_cli(root),
        lambda: check_optional_tool("aws", ["--version"], "garmaxctl does not need it"),
        lambda: check_optional_tool("docker", ["--version"], "LOCAL runs without Docker")]
    with ThreadPoolExecutor(max_workers=len(tools)) as pool:  # each runs a subprocess
        report.checks += list(pool.map(lambda check: check(), tools))
    if aws.is_local:
        emulator_check = check_emulator(aws)
        report.checks.append(emulator_check)
        if emulator_check.status == OK:
            report.checks.append(check_credentials(aws))
        else:
            report.checks.append(CheckResult("credentials", SKIPPED,
                                       "LOCAL uses the emulator's test credentials"))
    else:
        report.checks.append(check_credentials(aws))
    report.checks.append(check_env_file(env, stage))
    return report
