"""LOCAL, as product code sees it: is the emulator up, where is the local API.

Services reach LOCAL only through this module, never through :mod:`garmaxctl.local`
(the emulator, its bridges and platform: moto lives there). Everything here is cheap:
it reads the emulator's state file and probes its port; nothing imports moto or boto3.
"""

from __future__ import annotations

from garmaxctl.local import supervisor
from garmaxctl.local.supervisor import EmulatorStatus

__all__ = ["EmulatorStatus", "api_url", "default_api_url", "endpoint", "require_running",
           "status"]


def status() -> EmulatorStatus:
    """The emulator of this checkout (``GARMAX_STATE_DIR``, ``GARMAX_LOCAL_PORT``)."""
    return supervisor.status()


def endpoint() -> str:
    """Where LOCAL's emulator answers by default: ``http://localhost:{GARMAX_LOCAL_PORT}``."""
    return supervisor.endpoint_for(supervisor.default_port())


def default_api_url() -> str:
    """Where the local gateway listens when it runs: ``http://localhost:{GARMAX_API_PORT}``."""
    return supervisor.api_url_for(supervisor.default_api_port())


def api_url() -> tuple[str | None, str]:
    """The running local gateway's base URL (ending in ``/``), or None and why not."""
    current = status()
    if not current.api_url:
        return None, ("the local API gateway is not running "
                      f"({current.detail or 'no platform'}); start it with `garmaxctl local up`")
    return current.api_url.rstrip("/") + "/", ""


def require_running(endpoint_url: str) -> None:
    """Raise :class:`garmaxctl.shared.errors.EmulatorNotRunningError` unless the emulator answers
    at ``endpoint_url``. A stopped emulator fails at once (connection refused), with the
    fix: start it with `garmaxctl local up --detach`."""
    supervisor.require_running(endpoint_url)
