"""The emulator process, seen from outside: its state file, pid checks, start, stop, logs.

``garmaxctl local up --detach`` starts the emulator as a background process
(``python -m garmaxctl.local.supervisor serve``, which runs :func:`garmaxctl.local.server.serve`)
that writes its state file once it answers. Files live under ``{state_dir}/local/``:

- ``emulator.json``: pid, port, endpoint, start time; written by the serving process,
  removed when it stops. It is how ``down`` knows what garmaxctl started.
- ``emulator.log``: the serving process's output.

This module imports neither moto nor boto3 (only the standard library at import time):
product code reads LOCAL's status through :mod:`garmaxctl.stage.local`, which uses it.
It never prints to the user: it returns typed results and raises GarmaxErrors.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from garmaxctl.shared.errors import EmulatorError, EmulatorNotRunningError

STATE_FILE = "emulator.json"
LOG_FILE = "emulator.log"
INBOX_FILE = "alert-inbox.jsonl"  # the alert topic's LOCAL inbox (local/inbox.py)
BIND_ADDRESS = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
SERVE_MARKER = "garmaxctl.local.supervisor"  # in the serving process's command line

log = logging.getLogger(__name__)


def default_state_dir() -> Path:
    from garmaxctl.settings import state_dir

    return state_dir() / "local"


def default_port() -> int:
    from garmaxctl.settings import CliSettings

    return CliSettings().local_port


def default_api_port() -> int:
    from garmaxctl.settings import CliSettings

    return CliSettings().api_port


def endpoint_for(port: int) -> str:
    return f"http://localhost:{port}"


def api_url_for(port: int) -> str:
    return f"http://localhost:{port}"


def log_path(state_dir: Path | None = None) -> Path:
    """The serving process's log file (emulator, gateway and workers: one process)."""
    return (state_dir or default_state_dir()) / LOG_FILE


@dataclass(frozen=True)
class EmulatorState:
    pid: int
    port: int
    endpoint_url: str
    started_at: str
    log_path: str
    api_url: str | None = None  # the local API gateway, when the platform runs
    proc_start: str | None = None  # the serving process's start time (guards pid reuse)

    @classmethod
    def read(cls, state_dir: Path) -> EmulatorState | None:
        path = state_dir / STATE_FILE
        try:
            raw = json.loads(path.read_text())
            return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: treated as absent (and replaced by the next start)

    def write(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        tmp = state_dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=2))
        tmp.replace(state_dir / STATE_FILE)


@dataclass
class EmulatorStatus:
    running: bool
    managed: bool  # started by garmaxctl (its state file names a live process)
    endpoint_url: str
    port: int
    pid: int | None = None
    started_at: str | None = None
    uptime_s: float | None = None
    log_path: str | None = None
    api_url: str | None = None
    already_running: bool = False
    detail: str = ""


@dataclass
class StopResult:
    stopped: bool
    pid: int | None
    detail: str


# ----------------------------------------------------------------------------- probing

def port_in_use(port: int, host: str = BIND_ADDRESS) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def probe(port: int, timeout: float = 2.0) -> str | None:
    """What answers on the port: ``"moto"``, ``"other"``, or ``None`` (nothing listening)."""
    if not port_in_use(port):
        return None
    url = f"http://{BIND_ADDRESS}:{port}/moto-api/"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read(200_000)
    except (urllib.error.URLError, OSError, ValueError):
        return "other"
    return "moto" if b"Moto" in body or b"moto" in body else "other"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; treat it as gone.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            return False
    return True


def proc_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _is_our_server(state: EmulatorState) -> bool:
    """The state file's pid is still the process that wrote it (foreground `local up` or
    the detached server), not a recycled pid."""
    if not pid_alive(state.pid):
        return False
    if state.proc_start is not None and Path("/proc").is_dir():
        return proc_start(state.pid) == state.proc_start
    cmdline = Path(f"/proc/{state.pid}/cmdline")
    if cmdline.exists():  # a state file written without a start time
        with contextlib.suppress(OSError):
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            return SERVE_MARKER in text or "garmaxctl" in text
        return False
    return True  # no /proc (macOS): trust the live pid


def _uptime(started_at: str) -> float:
    started = dt.datetime.fromisoformat(started_at)
    return round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1)


def status(state_dir: Path | None = None, port: int | None = None) -> EmulatorStatus:
    state_dir = state_dir or default_state_dir()
    state = EmulatorState.read(state_dir)
    if state and _is_our_server(state):
        answering = probe(state.port) == "moto"
        return EmulatorStatus(
            running=answering, managed=True, endpoint_url=state.endpoint_url, port=state.port,
            pid=state.pid, started_at=state.started_at, uptime_s=_uptime(state.started_at),
            log_path=state.log_path, api_url=state.api_url,
            detail="" if answering else "process is alive but does not answer",
        )
    port = port or (state.port if state else default_port())
    found = probe(port)
    detail = {None: "not running", "moto": "a moto server not started by garmaxctl",
              "other": "port is held by another program"}[found]
    return EmulatorStatus(running=False, managed=False, endpoint_url=endpoint_for(port),
                          port=port, detail=detail,
                          log_path=str(state_dir / LOG_FILE))


def require_running(endpoint_url: str) -> None:
    """Raise a clear error when the LOCAL endpoint does not answer."""
    from urllib.parse import urlparse

    port = urlparse(endpoint_url).port or 80
    if probe(port) != "moto":
        raise EmulatorNotRunningError(
            f"the local AWS emulator is not running at {endpoint_url}",
            hint="start it with `garmaxctl local up --detach`",
        )


# ----------------------------------------------------------------------------- lifecycle

def check_port_free_for_us(port: int, state_dir: Path) -> EmulatorStatus | None:
    """None when the port is free; the running status when it is ours; else an error."""
    current = status(state_dir, port)
    if current.managed and current.running:
        current.already_running = True
        return current
    found = probe(port)
    if found == "moto":
        raise EmulatorError(
            f"port {port} is held by a moto server that garmaxctl did not start",
            hint="stop it (garmaxctl adds LOCAL bridges to its own), or set GARMAX_LOCAL_PORT",
        )
    if found == "other":
        raise EmulatorError(
            f"port {port} is held by another program, not the garmaxctl emulator",
            hint="stop that program or set GARMAX_LOCAL_PORT to a free port",
        )
    return None


def start_detached(port: int | None = None, state_dir: Path | None = None,
                   timeout: float = START_TIMEOUT_S, api_port: int | None = None
                   ) -> EmulatorStatus:
    """Start the emulator as a background process and wait until it answers."""
    port = port or default_port()
    state_dir = state_dir or default_state_dir()
    running = check_port_free_for_us(port, state_dir)
    if running:
        return running
    state_dir.mkdir(parents=True, exist_ok=True)
    stale = state_dir / STATE_FILE
    stale.unlink(missing_ok=True)
    log_path = state_dir / LOG_FILE
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", SERVE_MARKER, "serve", "--port", str(port),
             "--state-dir", str(state_dir),
             *(["--api-port", str(api_port)] if api_port else [])],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError(
                f"the emulator exited during start-up (exit {process.returncode}): "
                f"{last_log_line(log_path)}",
                hint=f"see {log_path}",
            )
        state = EmulatorState.read(state_dir)
        if state and state.pid == process.pid and probe(port) == "moto":
            return status(state_dir, port)
        time.sleep(0.1)
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT_S)
    raise EmulatorError(f"the emulator did not answer on port {port} within {timeout:.0f} s",
                        hint=f"see {log_path}")


def stop(state_dir: Path | None = None, timeout: float = STOP_TIMEOUT_S) -> StopResult:
    """Stop the emulator garmaxctl started; never anything else."""
    state_dir = state_dir or default_state_dir()
    state = EmulatorState.read(state_dir)
    if state is None:
        return StopResult(stopped=False, pid=None, detail="nothing to stop: no emulator started "
                                                          "by garmaxctl is running")
    state_file = state_dir / STATE_FILE
    if not _is_our_server(state):
        state_file.unlink(missing_ok=True)
        return StopResult(stopped=False, pid=state.pid,
                          detail=f"nothing to stop: process {state.pid} is gone "
                                 "(stale state file removed)")
    with contextlib.suppress(ProcessLookupError):  # it may exit on its own meanwhile
        os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_alive(state.pid):
        time.sleep(0.1)
    if pid_alive(state.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.pid, signal.SIGKILL)
        detail = f"stopped process {state.pid} (killed after {timeout:.0f} s)"
    else:
        detail = f"stopped process {state.pid}"
    state_file.unlink(missing_ok=True)
    return StopResult(stopped=True, pid=state.pid, detail=detail)


def inbox_messages(state_dir: Path | None = None) -> list[dict[str, Any]]:
    """What the stack's alert topic delivered on LOCAL, oldest first (local/inbox.py):
    each ``{"received_at", "message_id", "topic_arn", "subject", "timestamp", "message"}``,
    ``message`` being CloudWatch's alarm notification (a dict) for an alarm action."""
    path = (state_dir or default_state_dir()) / INBOX_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    found: list[dict[str, Any]] = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):  # a line being written right now
            found.append(json.loads(line))
    return found


def last_log_line(log_path: Path) -> str:
    lines = read_log(log_path, 20)
    meaningful = [line for line in lines if line.strip()]
    return meaningful[-1].strip()[:300] if meaningful else "no output"


def log_size(log_path: Path) -> int:
    """The log's length in bytes now (0 when there is none yet)."""
    try:
        return log_path.stat().st_size
    except FileNotFoundError:
        return 0


def read_log(log_path: Path, lines: int = 100, *, end: int | None = None) -> list[str]:
    """The last ``lines`` lines (0: all) of the log, up to byte ``end`` (default: its end
    now), so that a follower starting at ``end`` neither repeats nor misses a line."""
    try:
        with open(log_path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell() if end is None else min(end, handle.tell())
            start = max(0, size - 256 * 1024)
            handle.seek(start)
            text = handle.read(size - start).decode(errors="replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:] if lines > 0 else text.splitlines()


FOLLOW_POLL_S = 0.5


def follow_log(log_path: Path, *, offset: int | None = None, poll_s: float = FOLLOW_POLL_S,
               sleep: Callable[[float], None] = time.sleep,
               stop: Callable[[], bool] = lambda: False) -> Iterator[str]:
    """Each complete line appended to the log from byte ``offset`` on (default: its end
    now), without its newline; a line still being written is held until its newline comes.
    Polls every ``poll_s`` seconds (through ``sleep``) until ``stop()`` is true — for ever
    by default: the caller's Ctrl-C ends it."""
    with open(log_path, "rb") as handle:
        if offset is None:
            handle.seek(0, os.SEEK_END)
        else:
            handle.seek(offset)
        pending = b""
        while True:
            chunk = handle.readline()
            if chunk.endswith(b"\n"):
                yield (pending + chunk).rstrip(b"\r\n").decode(errors="replace")
                pending = b""
                continue
            pending += chunk  # end of the file for now, maybe mid-line
            if stop():
                return
            sleep(poll_s)


def main(argv: list[str] | None = None) -> int:
    """The detached server's entry point (``python -m garmaxctl.local.supervisor serve``)."""
    parser = argparse.ArgumentParser(prog=f"python -m {SERVE_MARKER}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", help="run the emulator in the foreground")
    serve_cmd.add_argument("--port", type=int, required=True)
    serve_cmd.add_argument("--state-dir", type=Path, required=True)
    serve_cmd.add_argument("--api-port", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from garmaxctl.local import server

    try:
        server.serve(args.port, args.state_dir, api_port=args.api_port)
    except Exception as exc:  # the parent reads the last log line
        log.error("emulator failed: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
