"""Fixtures for ``logs tail``: a stack whose template holds the functions' log groups,
Powertools lines, a fake clock, and AWS's documented answers injected through botocore
``before-call`` hooks on the run's session (throttling, Live Tail's event stream)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from garmaxctl.shared import contract
from tests.cli.conftest import Run, cli, project, write_env  # noqa: F401

ACCOUNT = "123456789012"


def stack_template(stage: str, *, extra: tuple[str, ...] = ()) -> str:
    """A template like the deployed stack's, reduced to its log groups."""
    resources: dict[str, Any] = {
        f"{f.value}LogGroup": {"Type": "AWS::Logs::LogGroup",
                               "Properties": {"LogGroupName":
                                              contract.function_log_group(f, stage)}}
        for f in contract.Function}
    resources["ApiAccessLogs"] = {"Type": "AWS::Logs::LogGroup", "Properties": {
        "LogGroupName": contract.api_access_log_group(stage)}}
    for i, name in enumerate(extra):
        resources[f"Extra{i}"] = {"Type": "AWS::Logs::LogGroup",
                                  "Properties": {"LogGroupName": name}}
    return json.dumps({"Resources": resources})


def powertools(message: str, level: str = "INFO", correlation_id: str | None = None,
               **extra: Any) -> str:
    """A line as the handlers' Powertools logger writes it."""
    document: dict[str, Any] = {"level": level, "location": "handler:42", "message": message,
                                "timestamp": "2026-01-01 00:00:00,000+0000",
                                "service": "garmaxai", "cold_start": False,
                                "function_request_id": "c6af9ac6-7b61-11e6-9a41-93e812345678"}
    if correlation_id:
        document["correlation_id"] = correlation_id
    return json.dumps(document | extra)


@dataclass
class FakeTime:
    """A clock that only sleeping moves; each sleep also yields the real CPU briefly so
    writer threads progress. ``on_sleep`` may raise KeyboardInterrupt (Ctrl-C)."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)
    on_sleep: Callable[[FakeTime], None] | None = None
    real_pause: float = 0.002

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(self)
        time.sleep(self.real_pause)

    def pacing(self, **changes: Any) -> Any:
        from garmaxctl.services.logs.polling import Pacing

        settings: dict[str, Any] = {"clock": self.clock, "sleep": self.sleep,
                                    "poll_interval": 0.5}
        return Pacing(**(settings | changes))


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    """The fake clock, used by every tail this test runs (the CLI's too)."""
    from garmaxctl.services.logs import tail

    fake = FakeTime()
    monkeypatch.setattr(tail, "DEFAULT_PACING", fake.pacing())
    return fake


def response(status: int, parsed: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A (http, parsed) answer for a ``before-call`` hook (botocore then raises the
    error class of ``parsed["Error"]["Code"]`` for a status ≥ 300, as for a real one)."""
    from botocore.awsrequest import AWSResponse

    meta = {"HTTPStatusCode": status, "RequestId": "test", "HTTPHeaders": {}}
    return AWSResponse("https://logs", status, {}, None), parsed | {"ResponseMetadata": meta}


def throttling() -> tuple[Any, dict[str, Any]]:
    return response(400, {"Error": {"Code": "ThrottlingException",
                                    "Message": "Rate exceeded"}})


@dataclass
class Hooks:
    """``before-call`` handlers for the logs clients of every run (CLI or service)."""

    handlers: dict[str, Callable[[dict[str, Any]], Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, session: Any) -> Any:
        session.events.register("before-call.logs", self._before_call)
        return session

    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        with self.lock:
            self.calls.append(model.name)
        handler = self.handlers.get(model.name)
        # ``params`` is the serialized request: the logs API's JSON body.
        return handler(json.loads(params["body"] or b"{}")) if handler else None

    def count(self, operation: str) -> int:
        return self.calls.count(operation)


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> Hooks:
    from garmaxctl import aws

    installed = Hooks()
    wire = aws.log_the_wire
    monkeypatch.setattr(aws, "log_the_wire", lambda session: installed.install(wire(session)))
    return installed


@pytest.fixture
def dev_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """DEV under moto: the stack with the functions' and the API's log groups."""
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", ACCOUNT)
    with mock_aws():
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName=contract.stack_name("DEV"), TemplateBody=stack_template("DEV"))
        yield boto3.client("logs", region_name="us-east-1")


def put(logs: Any, group: str, stream: str, events: list[tuple[int, str]]) -> None:
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": t, "message": m} for t, m in sorted(events)])


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
