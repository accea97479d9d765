"""Faults as AWS gives them, injected into every client garmaxctl makes (botocore hooks).

A :class:`FaultPlan` numbers the run's logical AWS calls (``before-call``, every client,
every thread) and fails the ones it was given: each attempt of such a call (``before-send``,
registered ahead of moto's own stubber) gets the fault, so botocore retries it to the end
("past retries") — throttling and 5xx answers, read timeouts — or fails it at once
(AccessDenied, expired credentials: botocore does not retry those). The request never
reaches the emulator, so a failed call changed nothing. Error bodies follow each service's
protocol (JSON, query XML, rest-XML, Smithy RPC v2 CBOR), so botocore parses the code.

``instant_retries`` (tests/params/test_replace_type.py) keeps botocore's backoff and the
adaptive rate limiter's waits out of the tests: ten attempts take milliseconds.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

KINDS = ("throttled", "5xx", "timeout", "access_denied", "expired")
RETRIED = {"throttled", "5xx", "timeout"}

# What each kind becomes on the CLI (docs/exit-codes.md): error.code of the document when
# the command fails on it as a whole (a report of partial work says partial_failure).
CODES = {"throttled": "throttled", "5xx": "aws_error", "timeout": "timeout",
         "access_denied": "access_denied", "expired": "expired_credentials"}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _cbor_text(value: str) -> bytes:
    data = value.encode()
    if len(data) < 24:
        return bytes([0x60 + len(data)]) + data
    if len(data) < 256:
        return bytes([0x78, len(data)]) + data
    return bytes([0x79]) + len(data).to_bytes(2, "big") + data


def error_response(protocol: str, status: int, code: str, message: str) -> Any:
    """An AWS error answer in the service's protocol."""
    from botocore.awsrequest import AWSResponse

    headers = {"x-amzn-RequestId": "fault-injected"}
    if protocol in ("json", "rest-json"):
        headers["Content-Type"] = "application/x-amz-json-1.1"
        headers["x-amzn-ErrorType"] = code
        body = json.dumps({"__type": code, "message": message}).encode()
    elif protocol == "smithy-rpc-v2-cbor":
        headers.update({"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"})
        body = (b"\xa2" + _cbor_text("__type") + _cbor_text(code) + _cbor_text("message") +
                _cbor_text(message))
    elif protocol == "rest-xml":
        headers["Content-Type"] = "application/xml"
        body = (f"<Error><Code>{code}</Code><Message>{message}</Message>"
                "<RequestId>fault-injected</RequestId></Error>").encode()
    else:  # query, ec2
        headers["Content-Type"] = "text/xml"
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                f"<Message>{message}</Message></Error>"
                "<RequestId>fault-injected</RequestId></ErrorResponse>").encode()
    return AWSResponse("https://fault.invalid/", status, headers, _Raw(body))


def _answer(kind: str, protocol: str, operation: str) -> Any:
    json_like = protocol in ("json", "rest-json", "smithy-rpc-v2-cbor")
    if kind == "throttled":
        return error_response(protocol, 400, "ThrottlingException" if json_like
                              else "Throttling", "Rate exceeded")
    if kind == "5xx":
        return error_response(protocol, 503, "ServiceUnavailable",
                              "Service is unavailable, retry later")
    if kind == "access_denied":
        return error_response(protocol, 400 if json_like else 403,
                              "AccessDeniedException" if json_like else "AccessDenied",
                              f"User: arn:aws:sts::123456789012:assumed-role/ci/fuzz is not "
                              f"authorized to perform: {operation}")
    return error_response(protocol, 400, "ExpiredTokenException" if json_like
                          else "ExpiredToken", "The security token included in the request "
                                               "is expired")


@dataclass
class FaultPlan:
    """Fail the logical calls numbered in ``at`` (1-based, in the order they start) with
    their kind; record every call and what was injected."""

    at: dict[int, str] = field(default_factory=dict)
    # True: answer a faulted call in ``before-call`` (no retries), for services a test
    # fake answers there too (tests/alarms' mute rules): the fault must come first.
    short_circuit: bool = False
    calls: list[str] = field(default_factory=list)
    injected: list[tuple[int, str, str]] = field(default_factory=list)  # (n, op, kind)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    local: threading.local = field(default_factory=threading.local)

    def before_call(self, model: Any, **_: Any) -> Any:
        with self.lock:
            self.calls.append(model.name)
            number = len(self.calls)
            kind = self.at.get(number)
            if kind is not None:
                self.injected.append((number, model.name, kind))
        self.local.fault = (kind, model.name) if kind else None
        if kind is None or not self.short_circuit:
            return None
        from botocore.awsrequest import AWSResponse
        from botocore.exceptions import ReadTimeoutError

        self.local.fault = None
        if kind == "timeout":
            raise ReadTimeoutError(endpoint_url="https://fault.invalid/")
        answer = _answer(kind, "json", model.name)
        body = json.loads(b"".join(answer.raw.stream()))
        status = answer.status_code
        parsed = {"Error": {"Code": body["__type"], "Message": body["message"]},
                  "ResponseMetadata": {"HTTPStatusCode": status}}
        return AWSResponse("https://fault.invalid/", status, {}, None), parsed

    def before_send(self, request: Any, event_name: str, **_: Any) -> Any:
        from botocore.exceptions import ReadTimeoutError

        fault = getattr(self.local, "fault", None)
        if fault is None:
            return None
        kind, operation = fault
        with self.lock:
            self.attempts += 1
        if kind == "timeout":
            raise ReadTimeoutError(endpoint_url=str(request.url))
        protocol = self.local.protocol
        request.url = "http://fault.invalid/"  # moto's stubber must not answer it
        return _answer(kind, protocol, operation)

    def attach(self, client: Any) -> Any:
        protocol = client.meta.service_model.protocol

        def before_call(**kwargs: Any) -> Any:
            self.local.protocol = protocol
            return self.before_call(**kwargs)

        client._fault_hooks = before_call  # kept alive with the client
        client.meta.events.register_first("before-call", before_call)
        client.meta.events.register_first("before-send", self.before_send)
        return client


@pytest.fixture
def instant_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.retries import adaptive, standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda *_: 0)
    monkeypatch.setattr(adaptive.ClientRateLimiter, "on_sending_request",
                        lambda *_, **__: None)


def inject(monkeypatch: pytest.MonkeyPatch, plan: FaultPlan) -> None:
    """Every client ``AwsTarget`` makes from now on carries the plan's hooks."""
    from garmaxctl.aws import AwsTarget

    original = AwsTarget.client

    def client(self: AwsTarget, service: str, **config: Any) -> Any:
        made = original(self, service, **config)
        if getattr(made, "_fault_plan", None) is not plan:
            plan.attach(made)
            made._fault_plan = plan
        return made

    monkeypatch.setattr(AwsTarget, "client", client)
