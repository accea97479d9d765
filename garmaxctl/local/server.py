"""The embedded AWS emulator: a moto ``ThreadedMotoServer`` inside garmaxctl's own process.

Running moto in our own process (not the bare ``moto_server`` command) is what lets
garmaxctl teach it what it lacks (:mod:`garmaxctl.local.bridges`, LOCAL only) before the
first request. :func:`serve` is the serving process's main loop: the foreground
``garmaxctl local up`` calls it (through :mod:`garmaxctl.local.workflow`), the detached
one runs it through ``python -m garmaxctl.local.supervisor serve``. With an API port, the
LOCAL platform (:mod:`garmaxctl.local.platform`: gateway, workers, stack watcher) runs
beside it.

moto is imported only inside functions here, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from garmaxctl.local.supervisor import (
    BIND_ADDRESS,
    LOG_FILE,
    STATE_FILE,
    EmulatorState,
    api_url_for,
    endpoint_for,
    port_in_use,
    proc_start,
    require_running,
)
from garmaxctl.shared.errors import EmulatorError

log = logging.getLogger(__name__)


class EmbeddedServer:
    """moto's ThreadedMotoServer with garmaxctl's LOCAL bridges installed first."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._server: Any = None

    def start(self) -> list[Any]:
        bridges = install_bridges()
        from moto.server import ThreadedMotoServer

        # ThreadedMotoServer.start() waits forever if the bind fails in its thread: check first.
        if port_in_use(self.port):
            raise EmulatorError(f"port {self.port} is already in use",
                                hint="stop what holds it, or set GARMAX_LOCAL_PORT")
        self._server = ThreadedMotoServer(ip_address=BIND_ADDRESS, port=self.port, verbose=False)
        self._server.start()
        return bridges

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def install_bridges() -> list[Any]:
    """Teach moto what LOCAL needs (docs/local.md)."""
    from garmaxctl.local import bridges

    return list(bridges.install_bridges())


def serve(port: int, state_dir: Path, *, api_port: int | None = None,
          ready: Callable[[EmulatorState], None] | None = None,
          stop_event: threading.Event | None = None) -> None:
    """Run the emulator in this process until SIGTERM/SIGINT (or ``stop_event``).

    With ``api_port``, the LOCAL platform (gateway and workers) runs beside it and follows
    the deployed stack.
    """
    if api_port is not None and port_in_use(api_port):
        raise EmulatorError(f"API port {api_port} is already in use",
                            hint="stop what holds it, or set GARMAX_API_PORT")
    server = EmbeddedServer(port)
    bridges = server.start()
    platform = None
    if api_port is not None:
        from garmaxctl.local.platform import Platform

        platform = Platform(endpoint_for(port), api_port, state_dir=state_dir)
        try:
            platform.start()
        except BaseException:
            server.stop()  # nothing is left listening when the platform cannot start
            raise
    state = EmulatorState(pid=os.getpid(), port=port, endpoint_url=endpoint_for(port),
                          started_at=dt.datetime.now(dt.UTC).isoformat(),
                          log_path=str(state_dir / LOG_FILE),
                          api_url=api_url_for(api_port) if api_port else None,
                          proc_start=proc_start(os.getpid()))
    state.write(state_dir)
    log.info("emulator listening on %s (pid %s, %d bridges)", state.endpoint_url, state.pid,
             len(bridges))
    stop = stop_event or threading.Event()
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    else:
        previous = None
    try:
        if ready:
            ready(state)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if platform is not None:
            platform.stop()
        server.stop()
        current = EmulatorState.read(state_dir)
        if current and current.pid == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                (state_dir / STATE_FILE).unlink()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        log.info("emulator stopped")


def reset(endpoint_url: str) -> None:
    """Wipe every resource the emulator holds."""
    require_running(endpoint_url)
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=30):
        pass
