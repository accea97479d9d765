"""`garmaxctl local up --detach | status | logs | reset | down`, for real: a port, a
process, boto3 calls against it."""

from __future__ import annotations

import http.server
import json
import os
import threading
import time
from collections.abc import Iterator

import boto3
import pytest

from tests.conftest import free_port


@pytest.fixture
def port(monkeypatch) -> int:
    chosen = free_port()
    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(chosen))
    return chosen


@pytest.fixture
def emulator(cli, port) -> Iterator[dict]:
    result, document = cli.json("local", "up", "--detach", "--emulator-only")
    assert result.exit_code == 0, result.stdout + result.stderr
    yield document["data"]["emulator"]
    cli("local", "down")


def _s3(port: int):
    return boto3.client("s3", endpoint_url=f"http://localhost:{port}", region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _alive(pid: int) -> bool:
    from garmaxctl.local.supervisor import pid_alive

    return pid_alive(pid)


def test_up_detach_serves_aws_calls_and_down_stops_it(cli, port, emulator) -> None:
    pid = emulator["pid"]
    assert emulator["endpoint_url"] == f"http://localhost:{port}"
    assert _alive(pid)
    _s3(port).create_bucket(Bucket="garmax-test")
    assert [b["Name"] for b in _s3(port).list_buckets()["Buckets"]] == ["garmax-test"]

    result, status = cli.json("local", "status")
    assert result.exit_code == 0
    assert status["data"]["endpoint_url"] == f"http://localhost:{port}"
    assert status["data"]["running"] is True and status["data"]["pid"] == pid
    assert status["data"]["uptime_s"] >= 0

    logs = cli("local", "logs", "-n", "50")
    assert logs.exit_code == 0
    assert "emulator listening on" in logs.stdout

    down = cli("local", "down")
    assert down.exit_code == 0 and f"stopped process {pid}" in down.stdout
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)
    result, status = cli.json("local", "status")
    assert result.exit_code == 1 and status["data"]["running"] is False


def test_second_up_reports_the_running_one(cli, emulator) -> None:
    result, document = cli.json("local", "up", "--detach", "--emulator-only")
    assert result.exit_code == 0
    assert document["data"]["emulator"]["already_running"] is True
    assert document["data"]["emulator"]["pid"] == emulator["pid"]
    assert document["data"]["deployed"] is False
    table = cli("local", "up", "--detach", "--emulator-only")
    assert "already running" in table.stdout


def test_down_with_nothing_running(cli, port) -> None:
    result, document = cli.json("local", "down")
    assert result.exit_code == 0
    assert document["data"]["stopped"] is False
    assert "nothing to stop" in document["data"]["detail"]


def test_down_removes_a_stale_state_file(cli, port, tmp_path) -> None:
    from garmaxctl.local.supervisor import EmulatorState, default_state_dir

    state_dir = default_state_dir()
    EmulatorState(pid=2**22 + 7, port=port, endpoint_url="x", started_at="2026-01-01T00:00:00",
                  log_path="x").write(state_dir)
    result, document = cli.json("local", "down")
    assert result.exit_code == 0
    assert "stale" in document["data"]["detail"]
    assert not (state_dir / "emulator.json").exists()


@pytest.fixture
def foreign_server(port) -> Iterator[None]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                             http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield
    server.shutdown()
    server.server_close()


def test_foreign_process_on_the_port_is_an_error(cli, port, foreign_server) -> None:
    result = cli("local", "up", "--detach", "--emulator-only")
    assert result.exit_code == 1
    assert f"port {port} is held by another program" in result.stderr
    assert "GARMAX_LOCAL_PORT" in result.stderr
    _down, document = cli.json("local", "down")  # and down does not touch it
    assert document["data"]["stopped"] is False


def test_foreign_moto_server_is_not_adopted(cli, port) -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        result = cli("local", "up", "--detach", "--emulator-only")
        assert result.exit_code == 1
        assert "moto server that garmaxctl did not start" in result.stderr
    finally:
        server.stop()


def test_reset_wipes_the_emulator(cli, port, emulator) -> None:
    _s3(port).create_bucket(Bucket="to-be-wiped")
    result = cli("local", "reset")
    assert result.exit_code == 0
    assert _s3(port).list_buckets()["Buckets"] == []


def test_foreground_up_runs_until_interrupted(port, tmp_path) -> None:
    import signal
    import subprocess
    import sys

    env = dict(os.environ)
    process = subprocess.Popen([sys.executable, "-m", "garmaxctl", "local", "up",
                                "--emulator-only"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                _s3(port).list_buckets()
                break
            except Exception:
                time.sleep(0.2)
        else:
            pytest.fail("foreground emulator never answered")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "Ctrl-C to stop" in err
    assert "emulator stopped" in out
    assert "Traceback" not in err


def test_status_json_when_stopped(cli, port) -> None:
    result = cli("-o", "json", "local", "status")
    document = json.loads(result.stdout)
    assert result.exit_code == 1
    assert document["error"]["code"] == "emulator_not_running"
    assert document["data"]["endpoint_url"] == f"http://localhost:{port}"
