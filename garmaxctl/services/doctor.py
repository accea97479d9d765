"""``garmaxctl doctor``: is this machine ready to run garmaxctl against the stage?"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from garmaxctl import contract
from garmaxctl.errors import GarmaxError
from garmaxctl.settings import EnvFile, project_dir

if TYPE_CHECKING:
    from garmaxctl.aws import AwsTarget

OK, WARN, FAIL, SKIPPED = "ok", "warn", "fail", "skipped"
MIN_NODE_MAJOR = 20
RECOMMENDED_NODE_MAJOR = 22


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


@dataclass
class DoctorReport:
    stage: str
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
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


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    return Check("python", OK, f"Python {version}")
    return Check("python", FAIL, f"Python {version}", "install Python 3.11 or newer")


def check_node() -> Check:
    node = shutil.which("node")
    if not node:
        return Check("node", FAIL, "node not found on PATH",
                     "install Node.js 22 LTS (the CDK CLI runs on it)")
    version = _version_of([node, "--version"]) or "unknown"
    match = re.match(r"v?(\d+)", version)
    major = int(match.group(1)) if match else 0
    if major < MIN_NODE_MAJOR:
        return Check("node", FAIL, f"Node.js {version}", "install Node.js 22 LTS")
    if major < RECOMMENDED_NODE_MAJOR:
        return Check("node", WARN, f"Node.js {version} (end of life; the CDK CLI still runs)",
                     "upgrade to Node.js 22 LTS")
    return Check("node", OK, f"Node.js {version}")


def check_npm() -> Check:
    npm = shutil.which("npm")
    if not npm:
        return Check("npm", WARN, "npm not found on PATH",
                     "install npm (needed once, to install the pinned CDK CLI)")
    return Check("npm", OK, f"npm {_version_of([npm, '--version']) or 'unknown'}")


def pinned_cdk_version(root: Path) -> str | None:
    try:
        package = json.loads((root / "package.json").read_text())
    except (OSError, ValueError):
        return None
    return (package.get("devDependencies") or {}).get("aws-cdk") or \
        (package.get("dependencies") or {}).get("aws-cdk")


def cdk_binary(root: Path) -> Path:
    return root / "node_modules" / ".bin" / "cdk"


def check_cdk_cli(root: Path) -> Check:
    pinned = pinned_cdk_version(root)
    binary = cdk_binary(root)
    if not binary.exists():
        return Check("cdk cli", FAIL, f"not installed ({binary} missing)",
                     "run `make setup` (or `npm ci`) in the project directory")
    version = _version_of([str(binary), "--version"], timeout=60) or ""
    installed = version.split()[0] if version else "unknown"
    if pinned and installed != pinned:
        return Check("cdk cli", FAIL, f"aws-cdk {installed}, pinned {pinned}",
                     "run `npm ci` to install the pinned CDK CLI")
    return Check("cdk cli", OK, f"aws-cdk {installed} (pinned)")


def check_optional_tool(name: str, args: list[str], why: str) -> Check:
    path = shutil.which(name)
    if not path:
        return Check(name, WARN, f"not installed (optional: {why})", "")
    return Check(name, OK, _version_of([path, *args]) or "installed")


def check_emulator(aws: AwsTarget) -> Check:
    from garmaxctl.errors import EmulatorNotRunningError
    from garmaxctl.stage import local

    try:
        local.require_running(str(aws.endpoint_url))
    except EmulatorNotRunningError as exc:
        return Check("emulator", FAIL, exc.message, "garmaxctl local up --detach")
    return Check("emulator", OK, f"answering at {aws.endpoint_url}")


def check_credentials(aws: AwsTarget) -> Check:
    from garmaxctl.app import classify

    try:
        identity = aws.check_account()
    except GarmaxError as exc:
        return Check("credentials", FAIL, exc.message, exc.hint or "")
    except Exception as exc:
        if not type(exc).__module__.startswith(("botocore", "boto3")):
            raise
        _, _, message, _ = classify(exc)
        return Check("credentials", FAIL, message.split(";")[0],
                     message.split(";", 1)[1].strip() if ";" in message else "")
    return Check("credentials", OK, f"account {identity['account']} ({identity['arn']})")


def check_env_file(env: EnvFile, stage: str) -> Check:
    if not env.exists:
        if stage == "LOCAL":
            return Check(".env", WARN, f"{env.path} not found (LOCAL runs on defaults)",
                         "cp .env.example .env")
        return Check(".env", FAIL, f"{env.path} not found",
                     f"create it from .env.example, or pass --env-file .env.{stage.lower()}")
    if env.problems:
        return Check(".env", FAIL, f"{len(env.problems)} problem(s) in {env.path}",
                     "run `garmaxctl config validate` to list them")
    missing = [key for key in contract.required_env_keys(stage) if not env.is_set(key)]
    if missing:
        return Check(".env", FAIL, f"missing for {stage}: {', '.join(missing)}",
                     f"set them in {env.path}")
    return Check(".env", OK, f"{env.path} valid for {stage}")


def run_doctor(aws: AwsTarget, env: EnvFile, root: Path | None = None) -> DoctorReport:
    root = root or project_dir()
    stage = str(aws.stage.stage)
    report = DoctorReport(stage=stage)
    report.checks += [check_python(), check_node(), check_npm(), check_cdk_cli(root),
                      check_optional_tool("aws", ["--version"], "garmaxctl does not need it"),
                      check_optional_tool("docker", ["--version"],
                                          "LOCAL runs without Docker")]
    if aws.is_local:
        emulator_check = check_emulator(aws)
        report.checks.append(emulator_check)
        if emulator_check.status == OK:
            report.checks.append(check_credentials(aws))
        else:
            report.checks.append(Check("credentials", SKIPPED,
                                       "LOCAL uses the emulator's test credentials"))
    else:
        report.checks.append(check_credentials(aws))
    report.checks.append(check_env_file(env, stage))
    return report
