"""LOCAL's small interface for product code, ``garmaxctl.stage.local``, is cheap and fails
fast on a stopped emulator. (Who may import what — moto only in ``garmaxctl/local/``,
services through ``stage.local`` — is an import contract: tests/test_architecture.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.conftest import free_port


def test_stage_local_imports_no_moto_or_aws_sdk() -> None:
    code = ("import sys, json\nimport garmaxctl.stage.local\n"
            "print(json.dumps(sorted(m for m in sys.modules "
            "if m.split('.')[0] in ('moto', 'boto3', 'botocore'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert json.loads(done.stdout) == []


def test_require_running_fails_at_once_with_the_fix(monkeypatch, tmp_path) -> None:
    from garmaxctl.shared.errors import EmulatorNotRunningError
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
