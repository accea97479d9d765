"""The Lambda bundle: ``runtime/`` plus garmaxctl's ``__init__`` and its ``shared`` package
(contract, stages, errors) — the handlers import nothing else from garmaxctl and no CLI
dependency."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from garmaxctl.shared import contract
from infra.bundling import PACKAGE_INIT, SHARED_PACKAGE

REPO = Path(__file__).resolve().parents[2]

_BLOCKER = """
import sys
BLOCKED = ("typer", "rich", "moto", "aws_cdk", "constructs", "dotenv", "pydantic_settings")
class Block:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in BLOCKED:
            raise ImportError(f"{name} is not in the Lambda bundle")
        return None
sys.meta_path.insert(0, Block())
import importlib
for entry in %r:
    module, _, attr = entry.rpartition(".")
    assert callable(getattr(importlib.import_module(module), attr)), entry
import runtime.testing, runtime.domain.budget
import garmaxctl
assert garmaxctl.__file__.startswith(%r), garmaxctl.__file__
print("ok")
"""


def test_handlers_import_from_the_bundle_alone(tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(REPO / "runtime", bundle / "runtime",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / SHARED_PACKAGE, bundle / SHARED_PACKAGE,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / PACKAGE_INIT, bundle / PACKAGE_INIT)
    code = _BLOCKER % (tuple(contract.HANDLERS.values()), str(bundle))
    result = subprocess.run([sys.executable, "-c", code], cwd=bundle, capture_output=True,
                            text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(bundle),
                                 "AWS_DEFAULT_REGION": "us-east-1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


def test_requirements_pin_what_the_venv_runs():
    pins = {}
    for line in (REPO / "runtime" / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, pinned = line.partition("==")
            pins[name.split("[")[0]] = pinned
    assert {"aws-lambda-powertools", "stripe", "pydantic", "boto3"} <= set(pins)
    for name, pinned in pins.items():
        assert version(name) == pinned, name
