"""The architecture of docs/architecture.md is checked, not just described.

The import contracts live in pyproject.toml (``[tool.importlinter]``) and run here and in
``make lint``. Each contract is shown to be live: a copy of the source tree with one
forbidden import added must make ``lint-imports`` fail on exactly that contract.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MAX_MODULE_LINES = 600
# Long on purpose (docs/architecture.md, "Exceptions"): moto's model boilerplate.
LONG_MODULES_ALLOWED = {"garmaxctl/local/bridges/cfn_models.py",
                        "garmaxctl/local/bridges/patches.py"}


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_import_contracts_hold() -> None:
    done = lint_imports(REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("arch")
    for name in ("garmaxctl", "runtime", "infra"):
        shutil.copytree(REPO / name, root / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


VIOLATIONS = [
    ("garmaxctl/commands/doctor.py", "import boto3", "Commands never call AWS directly"),
    # (a stage module no basic service imports, or independence breaks too)
    ("garmaxctl/stage/timerange.py", "import garmaxctl.services.health",
     "Layers: app -> commands -> cli -> services -> stage -> foundation"),
    ("garmaxctl/services/health.py", "import rich",
     "Services and the stage layer never print or parse the command line"),
    ("garmaxctl/services/smoke.py", "import garmaxctl.services.health",
     "Basic services are independent of each other"),
    ("garmaxctl/services/smoke.py", "import garmaxctl.services.status",
     "Nothing calls a composite workflow but the commands"),
    ("garmaxctl/services/doctor.py", "import moto", "Only LOCAL imports moto"),
    ("garmaxctl/services/cdk.py", "import garmaxctl.local.supervisor",
     "Services reach LOCAL only through the stage layer"),
    ("garmaxctl/local/workers.py", "import garmaxctl.stage.target",
     "LOCAL's parts sit below the stage layer (only its workflow calls a service)"),
    ("runtime/config.py", "import garmaxctl.aws",
     "The runtime takes only the shared package from garmaxctl, bundled with it"),
]


@pytest.mark.parametrize(("module", "line", "contract"), VIOLATIONS,
                         ids=[v[2] for v in VIOLATIONS])
def test_each_contract_is_live(tree_copy: Path, module: str, line: str, contract: str) -> None:
    path = tree_copy / module
    original = path.read_text()
    path.write_text(original + f"\n{line}  # noqa\n")
    try:
        done = lint_imports(tree_copy)
    finally:
        path.write_text(original)
    assert done.returncode == 1, done.stdout[-2000:]
    # "NAME BROKEN", or "NAME BROKEN (1 ignored import)" for a contract with an exception
    broken = [ln.split(" BROKEN", 1)[0] for ln in done.stdout.splitlines()
              if " BROKEN" in ln]
    assert contract in broken
    # A basic service calling a composite also depends, through it, on other basics.
    also = {"Basic services are independent of each other"} if "composite" in contract else set()
    assert set(broken) == {contract} | also


def test_no_module_is_longer_than_600_lines() -> None:
    long = {str(p.relative_to(REPO)): n for p in sorted((REPO / "garmaxctl").rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert set(long) <= LONG_MODULES_ALLOWED, long
