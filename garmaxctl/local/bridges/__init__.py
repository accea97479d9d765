"""Bridges between moto 5.2.5 and what garmaxctl's LOCAL stack needs (docs/local.md).

Contract for the emulator's server (``garmaxctl/local/server.py``)
------------------------------------------------------------------

* Call :func:`install_bridges` in the process that serves the emulator, **before**
  ``moto.server.ThreadedMotoServer(...).start()`` and before any CloudFormation request
  reaches it. It patches moto's classes in that process only; the bare ``moto_server``
  command, another process, and real AWS stages never see any of it.
* It is idempotent and thread-safe: a second call changes nothing and returns the same
  list. It never resets moto's state, so calling it after a ``/moto-api/reset`` is
  harmless (and unnecessary: patches survive resets).
* It returns ``list[BridgeInfo]``, one entry per bridge, for the emulator's log /
  ``local status``.
* Nothing here is imported by ``garmaxctl`` at import time; importing this package
  imports nothing heavy either (moto is imported inside :func:`install_bridges`).
* It requires exactly moto 5.2.5 (the pinned version): on another version it raises
  :class:`BridgeVersionError` rather than patch internals it has not been tested with.

Example::

    from garmaxctl.local.bridges import install_bridges
    from moto.server import ThreadedMotoServer

    bridges = install_bridges()
    server = ThreadedMotoServer(ip_address="localhost", port=4566, verbose=False)
    server.start()

The emulator must listen on the host name ``localhost`` and CDK/boto3 clients must use
``http://localhost:<port>``: moto resolves a template's S3 URL only for ``localhost``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

SUPPORTED_MOTO_VERSION = "5.2.5"

__all__ = ["SUPPORTED_MOTO_VERSION", "BridgeInfo", "BridgeVersionError", "install_bridges"]


@dataclass(frozen=True)
class BridgeInfo:
    """One bridge: a stable ``name``, its ``kind`` ("cfn-model" or "patch") and a summary."""

    name: str
    kind: str
    summary: str


class BridgeVersionError(RuntimeError):
    """The installed moto is not the version these bridges were written and tested for."""


_lock = threading.Lock()
_installed: list[BridgeInfo] | None = None


def install_bridges() -> list[BridgeInfo]:
    """Install every bridge into this process's moto (idempotent). See the module doc."""
    global _installed
    with _lock:
        if _installed is not None:
            return list(_installed)

        import moto

        if moto.__version__ != SUPPORTED_MOTO_VERSION:
            raise BridgeVersionError(
                f"garmaxctl's emulator bridges need moto=={SUPPORTED_MOTO_VERSION}, "
                f"found {moto.__version__}; reinstall garmaxctl's pinned dependencies"
            )

        # Importing moto's parsing module imports every service model first, so the
        # classes patched below are the ones CloudFormation will use.
        from moto.cloudformation import parsing

        from . import alarm_history, cfn_models, cost_explorer, insights, mute_rules, patches

        infos = [patch() for patch in patches.ALL_PATCHES]
        infos.append(cost_explorer.bridge_cost_explorer())
        infos.extend(alarm_history.install())
        infos.append(mute_rules.install())
        infos.extend(insights.install())
        infos.extend(
            BridgeInfo(
                f"cfn-model:{model.cloudformation_type()}",
                "cfn-model",
                (model.__doc__ or "").strip().splitlines()[0],
            )
            for model in cfn_models.BRIDGED_MODELS
        )
        # moto caches its type registry on first use; new subclasses must be seen.
        parsing.get_model_list.cache_clear()
        parsing.get_model_map.cache_clear()
        parsing.get_name_type_map.cache_clear()
        missing = [
            m.cloudformation_type()
            for m in cfn_models.BRIDGED_MODELS
            if parsing.get_model_map().get(m.cloudformation_type()) is not m
        ]
        if missing:  # pragma: no cover - would mean moto gained or shadowed a type
            raise BridgeVersionError(f"bridged CloudFormation types not registered: {missing}")
        _installed = infos
        return list(infos)
