"""Suite-wide isolation: no developer's real AWS profile, .env or emulator leaks into a test.

Per-area fixtures live in each folder's conftest.py.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]

# Hypothesis profiles. "ci" (the default, `make test`) keeps every property test bounded;
# "fuzz" (`make fuzz`, GARMAX_FUZZ=1) is the long run. A test that sets ``max_examples``
# itself keeps it; tests/fuzz takes its per-family figures from tests/fuzz/budget.py.
settings.register_profile(
    "ci", max_examples=20, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large])
settings.register_profile("fuzz", settings.get_profile("ci"), max_examples=200)
settings.load_profile("fuzz" if os.environ.get("GARMAX_FUZZ") == "1" else "ci")

_LEAKY = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN",
          "AWS_SECURITY_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "NO_COLOR",
          "COLUMNS")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
                          ) -> Iterator[None]:
    for name in list(os.environ):
        if name in _LEAKY or name.startswith(("GARMAX_", "AWS_ENDPOINT_URL_")):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    empty = tmp_path_factory.mktemp("aws-config")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
    monkeypatch.setenv("GARMAX_STATE_DIR", str(tmp_path_factory.mktemp("garmax-state")))
    # LOCAL's default ports, where nothing listens: an emulator a developer left running
    # (`make demo`, `local up`) is never the one a test talks to. Tests that start an
    # emulator give it ports of its own (LocalStack).
    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(_UNUSED_PORTS[0]))
    monkeypatch.setenv("GARMAX_API_PORT", str(_UNUSED_PORTS[1]))
    # Every AWS call a command makes, in this process or a `garmaxctl` subprocess, is
    # recorded for the permissions check at the session's end (tests/iam/recorder.py).
    monkeypatch.setenv("GARMAX_RECORD_CALLS", str(recorded_calls_file(tmp_path_factory)))
    monkeypatch.setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,19,20,21")
    monkeypatch.setenv("CDK_DISABLE_VERSION_CHECK", "1")
    yield
    from garmaxctl import output, redact

    output.reset()
    redact.forget_all()
    redact.disable_verbose_logging()


def recorded_calls_file(factory: pytest.TempPathFactory) -> Path:
    """The session's one file of recorded AWS calls (JSON Lines, names only)."""
    return factory.getbasetemp() / "recorded-aws-calls.jsonl"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--iam-coverage", action="store_true",
                     help="also check that every action of the registry's permissions was "
                          "called by some test (automatic on a run of the whole suite)")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The permissions check (docs/iam/README.md): every recorded call of a command is in
    that command's table; on a whole-suite run, every table action was called."""
    from tests.iam import recorder

    recorder.check_session(session, exitstatus)


def wait_for(check: Any, timeout: float = 60.0) -> Any:
    """Poll ``check`` every 0.5 s until it returns something true (returned); fail after
    ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError("condition not met in time")


def api_request(url: str, method: str = "GET", body: dict | None = None,
                user: str | None = None) -> tuple[int, dict]:
    """One JSON request to a (local) API: (status, parsed body); the LOCAL caller's
    identity in the dev-user header."""
    import json
    import urllib.error
    import urllib.request

    from garmaxctl.shared import contract

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    if user:
        request.add_header(contract.DEV_USER_HEADER, user)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def load_script(name: str) -> Any:
    """``scripts/<name>.py`` (not a package) as a module: the generators and CI helpers."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"script_{name}", REPO / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _UNUSED_PORTS:  # kept free for the isolation above
            return port


_UNUSED_PORTS: tuple[int, ...] = ()
_UNUSED_PORTS = (free_port(),)  # once per session (the suite's isolation above)
_UNUSED_PORTS += (free_port(),)


# --------------------------------------------------------------------------- LOCAL stack

class LocalStack:
    """A LOCAL platform deployed once per test session by `garmaxctl local up --detach`
    in a subprocess (``mock_aws`` and an in-process moto server would share state)."""

    # The runtime caches secrets for 5 minutes, as on Lambda: every test that puts a Stripe
    # webhook secret on the shared stack uses this one value, or a later test would sign
    # with a secret the handlers have not read yet.
    WEBHOOK_SECRET = "whsec_local_stack_tests_0123456789abcdef"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.api_port = free_port()
        self.state_dir = root / "state"
        self.endpoint = f"http://localhost:{self.port}"
        self.api_url = f"http://localhost:{self.api_port}"
        self.up_seconds = 0.0
        self.outputs: dict[str, str] = {}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if (not k.startswith(("GARMAX_", "AWS_")) or k == "GARMAX_RECORD_CALLS")
               and k not in _LEAKY}
        env.update(GARMAX_LOCAL_PORT=str(self.port), GARMAX_API_PORT=str(self.api_port),
                   GARMAX_STATE_DIR=str(self.state_dir), AWS_ACCESS_KEY_ID="testing",
                   AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
                   JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="18,19,20,21",
                   CDK_DISABLE_VERSION_CHECK="1", CI="true",
                   # No automatic telemetry tick (queue samples, alarm evaluation) on the
                   # shared stack: a test ticks on purpose (POST /_local/telemetry/tick),
                   # so no alarm changes state under another test's feet.
                   GARMAX_LOCAL_TELEMETRY_TICK_S="0")
        return env

    def garmaxctl(self, *args: str, check: bool = True, timeout: float = 600,
                  extra_env: dict[str, str] | None = None) -> Any:
        import subprocess
        import sys

        done = subprocess.run([sys.executable, "-m", "garmaxctl", *args], cwd=self.root,
                              env={**self.env(), **(extra_env or {})}, capture_output=True,
                              text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"garmaxctl {' '.join(args)} exited {done.returncode}:\n"
                                 f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
        return done

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def up(self) -> None:
        """`garmaxctl local up --detach`: the emulator, the platform (gateway, workers) and
        the deployed stack; ``outputs`` read back."""
        import json
        import time

        started = time.monotonic()
        done = self.garmaxctl("-o", "json", "local", "up", "--detach")
        self.up_seconds = time.monotonic() - started
        document = json.loads(done.stdout)
        assert document["data"]["api_url"] == self.api_url
        outputs = self.client("cloudformation").describe_stacks(
            StackName="GarmaxAiStack-LOCAL")["Stacks"][0]["Outputs"]
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in outputs}

    def start_undeployed(self) -> None:
        """The emulator and the platform beside it, the CDK bootstrapped, nothing deployed:
        an account as a deploy pipeline finds it (tests/ci)."""
        from unittest import mock

        from garmaxctl.local import supervisor

        with mock.patch.dict(os.environ, self.env(), clear=True):
            supervisor.start_detached(self.port, self.state_dir / "local",
                                      api_port=self.api_port)
        self.garmaxctl("bootstrap")

    def down(self) -> None:
        """`garmaxctl local down`; asserts that nothing is left running."""
        import json

        state_file = self.state_dir / "local" / "emulator.json"
        state = json.loads(state_file.read_text()) if state_file.exists() else None
        self.garmaxctl("local", "down", check=False)
        # `local down` leaves nothing running: the process is gone, both ports are free.
        from garmaxctl.local.supervisor import pid_alive, port_in_use

        assert state is None or not pid_alive(state["pid"])
        assert not port_in_use(self.port) and not port_in_use(self.api_port)

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point in-process CLI calls (CliRunner) of one test at this stack."""
        monkeypatch.setenv("GARMAX_LOCAL_PORT", str(self.port))
        monkeypatch.setenv("GARMAX_API_PORT", str(self.api_port))
        monkeypatch.setenv("GARMAX_STATE_DIR", str(self.state_dir))


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack(tmp_path_factory.mktemp("local-stack"))
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="session")
def emulator_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """One real embedded emulator (a subprocess, no stack deployed) for the session, shared
    by every test that needs a bare emulator; each resets it as it needs."""
    from garmaxctl.local import supervisor

    port = free_port()
    state_dir = tmp_path_factory.mktemp("params-emulator")
    supervisor.start_detached(port, state_dir)
    try:
        yield port
    finally:
        supervisor.stop(state_dir)
