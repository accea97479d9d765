"""Fixtures for the emulator-bridge tests.

The bridged emulator always runs in a subprocess (``serve_bridged.py``): the bridges
patch moto's classes process-wide, and ``mock_aws`` tests elsewhere in the session must
keep seeing moto as released. Each test starts from a reset emulator.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

HERE = Path(__file__).parent
REPO = HERE.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return int(sock.getsockname()[1])


class Emulator:
    def __init__(self, port: int, process: subprocess.Popen[str], log: Path) -> None:
        self.port = port
        self.url = f"http://localhost:{port}"
        self.process = process
        self.log = log

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def reset(self) -> None:
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_emulator(log: Path) -> Emulator:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, str(HERE / "serve_bridged.py"), str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=env,
            text=True,
        )
    emulator = Emulator(port, process, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"emulator exited: {log.read_text()}")
        try:
            if requests.get(f"{emulator.url}/moto-api/", timeout=1).ok:
                return emulator
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    emulator.stop()
    raise RuntimeError(f"emulator did not answer on {emulator.url}: {log.read_text()}")


@pytest.fixture(scope="session")
def bridged_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emulator = start_emulator(tmp_path_factory.mktemp("emulator") / "emulator.log")
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def emu(bridged_emulator: Emulator) -> Emulator:
    bridged_emulator.reset()
    return bridged_emulator


@pytest.fixture
def deploy(emu: Emulator) -> Callable[..., dict[str, str]]:
    """Create or update a stack from a template dict; returns its outputs."""
    import json

    cfn = emu.client("cloudformation")

    def _deploy(name: str, template: dict[str, Any], **kwargs: Any) -> dict[str, str]:
        body = json.dumps(template)
        existing = [s["StackName"] for s in cfn.list_stacks()["StackSummaries"]]
        if name in existing:
            cfn.update_stack(StackName=name, TemplateBody=body, **kwargs)
        else:
            cfn.create_stack(StackName=name, TemplateBody=body, **kwargs)
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        assert stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), stack
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    return _deploy
