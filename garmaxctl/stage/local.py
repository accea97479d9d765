"""LOCAL's small interface for product code: is the emulator running, where is the local
API. Services reach LOCAL only through this module (docs/architecture.md)."""

from __future__ import annotations

from typing import Any

from garmaxctl import emulator


def status() -> Any:
    """The emulator's status (running, endpoint, API URL, pid, ...)."""
    return emulator.status()


def api_url() -> tuple[str | None, str]:
    """The local gateway's base URL (ending in ``/``), or None and why there is none."""
    current = emulator.status()
    if not current.api_url:
        return None, ("the local API gateway is not running "
                      f"({current.detail or 'no platform'}); start it with `garmaxctl local up`")
    return current.api_url.rstrip("/") + "/", ""


def require_running(endpoint_url: str) -> None:
    """Raise EmulatorNotRunningError (with the fix) unless the emulator answers there."""
    emulator.require_running(endpoint_url)
