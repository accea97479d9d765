"""LOCAL is one package (issue 10): nothing outside ``garmaxctl/local/`` imports moto, the
package calls no service except from ``workflow.py``, and product code reaches LOCAL only
through ``garmaxctl.stage.local``, which is cheap and fails fast on a stopped emulator."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

PACKAGE = Path(__file__).resolve().parents[2] / "garmaxctl"


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules(under: Path) -> list[Path]:
    return sorted(under.rglob("*.py"))


def _hits(paths: list[Path], *prefixes: str) -> list[str]:
    return sorted(f"{path.relative_to(PACKAGE)}: {name}" for path in paths
                  for name in _imports(path)
                  if any(name == p or name.startswith(p + ".") for p in prefixes))


def test_nothing_outside_the_local_package_imports_moto() -> None:
    outside = [p for p in _modules(PACKAGE) if PACKAGE / "local" not in p.parents]
    assert _hits(outside, "moto") == []


def test_the_local_package_calls_services_only_from_its_workflow() -> None:
    inside = [p for p in _modules(PACKAGE / "local") if p.name != "workflow.py"]
    assert _hits(inside, "garmaxctl.services", "garmaxctl.commands") == []


def test_services_reach_local_only_through_the_stage_layer() -> None:
    services = _modules(PACKAGE / "services")
    assert _hits(services, "garmaxctl.local", "garmaxctl.emulator") == []


def test_stage_local_imports_no_moto_or_aws_sdk() -> None:
    code = ("import sys, json\nimport garmaxctl.stage.local\n"
            "print(json.dumps(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('moto', 'boto3', 'botocore'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert json.loads(done.stdout) == []


def test_require_running_fails_at_once_with_the_fix(monkeypatch, tmp_path) -> None:
    from garmaxctl.errors import EmulatorNotRunningError
    from garmaxctl.stage import local

    endpoint = f"http://localhost:{free_port()}"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(EmulatorNotRunningError) as raised:
        local.require_running(endpoint)
    assert time.monotonic() - started < 1.0
    assert endpoint in raised.value.message
    assert raised.value.hint == "start it with `garmaxctl local up --detach`"


def test_api_url_says_why_there_is_none(monkeypatch, tmp_path) -> None:
    from garmaxctl.stage import local

    monkeypatch.setenv("GARMAX_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))
    monkeypatch.setenv("GARMAX_API_PORT", "3999")
    url, why = local.api_url()
    assert url is None
    assert "not running" in why and "garmaxctl local up" in why
    assert local.default_api_url() == "http://localhost:3999"
    assert local.status().running is False
