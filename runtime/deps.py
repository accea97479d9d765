"""What a service function needs: configuration, clients and a clock, all injectable.

Handlers build one with ``Deps.from_env()`` per invocation (cheap: the clients are
shared); tests and the CLI pass their own clients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime import aws
from runtime.config import RuntimeConfig, load_config
from runtime.domain.clock import Clock, utcnow


@dataclass
class Deps:
    config: RuntimeConfig
    clock: Clock = utcnow
    clients: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Deps:
        return cls(config=load_config())

    def client(self, service: str) -> Any:
        found = self.clients.get(service)
        return found if found is not None else aws.client(service)

    @property
    def ddb(self) -> Any:
        return self.client("dynamodb")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def sqs(self) -> Any:
        return self.client("sqs")

    @property
    def events(self) -> Any:
        return self.client("events")
