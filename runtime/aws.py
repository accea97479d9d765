"""boto3 clients for the runtime, created once per process (per Lambda container).

Clients are thread-safe; creating them is not, hence the lock. ``AWS_ENDPOINT_URL``
(set by the local workers and gateway on LOCAL) is honoured by boto3 itself. Tests call
``reset_clients()`` so a client never outlives its moto mock.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

_lock = threading.Lock()
_clients: dict[str, Any] = {}
_sessions: list[boto3.session.Session] = []  # one session: its service models load once

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=5,
    read_timeout=20,
    max_pool_connections=50,
)


def client(service: str) -> Any:
    """The shared client for ``service`` (``dynamodb``, ``s3``, ``sqs``, ``events``, ...)."""
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(service)
        if found is None:
            found = session().client(service, config=_CONFIG)
            _clients[service] = found
        return found


def session() -> boto3.session.Session:
    """The process's boto3 session (callers creating a client hold ``_lock`` or accept a race
    that at worst builds a second session)."""
    if not _sessions:
        _sessions.append(boto3.session.Session())
    return _sessions[0]


def make_client(service: str, config: Config | None = None) -> Any:
    with _lock:
        return session().client(service, config=config or _CONFIG)


def reset_clients() -> None:
    with _lock:
        _clients.clear()
