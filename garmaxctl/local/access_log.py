"""API Gateway's access log lines and ``AWS/ApiGateway`` metrics for the local gateway.

A REST API stage with an ``AccessLogSetting`` writes one line per request, in the
stage's ``Format`` (``$context`` variables substituted; a variable with no value is
written as ``-``), into the log group of its ``DestinationArn``. With no access log
setting, API Gateway writes none, and neither does LOCAL. The stage's setting is read
from the deployed stage (``GetStage``: the stack's ``AccessLogSetting``).

Metrics, per request, with the dimensions ``ApiName`` and ``Stage`` (those the stack's
alarms use): ``Count`` 1, ``4XXError`` and ``5XXError`` 1 or 0 (so ``Average`` is the
error rate), ``Latency`` (request received -> response sent) and ``IntegrationLatency``
(the handler's invocation), in milliseconds.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from garmaxctl.local.telemetry import Sink, dimensions

_VARIABLE = re.compile(r"\$context\.[A-Za-z0-9_.]+")


@dataclass
class ApiRequest:
    """One request as the gateway saw it."""

    request_id: str
    method: str
    path: str
    status: int
    response_length: int
    received_at: dt.datetime
    latency_ms: float
    integration_latency_ms: float | None = None
    source_ip: str = "127.0.0.1"
    user_agent: str = "-"
    protocol: str = "HTTP/1.1"
    extended_request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])


def resource_path(path: str, resources: list[str]) -> str:
    """The API resource (``/api/tryon/{id}``) a request path matched, as API Gateway
    reports it in ``$context.resourcePath``; the path itself when none matches."""
    best: tuple[int, str] | None = None
    for template in resources:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\+\\\}", ".+", re.escape(template))
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern) + "$"
        if re.match(pattern, path):
            literal = len(re.sub(r"\{[^}]+\}", "", template))
            if best is None or literal > best[0]:
                best = (literal, template)
    return best[1] if best else path


def context_values(request: ApiRequest, *, api_id: str, stage: str, account: str,
                   resource: str) -> dict[str, str]:
    received = request.received_at.astimezone(dt.UTC)
    return {
        "$context.requestId": request.request_id,
        "$context.extendedRequestId": request.extended_request_id,
        "$context.identity.sourceIp": request.source_ip,
        "$context.identity.userAgent": request.user_agent,
        "$context.requestTime": received.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "$context.requestTimeEpoch": str(int(received.timestamp() * 1000)),
        "$context.httpMethod": request.method,
        "$context.resourcePath": resource,
        "$context.path": f"/{stage}{request.path}",
        "$context.status": str(request.status),
        "$context.protocol": request.protocol,
        "$context.responseLength": str(request.response_length),
        "$context.apiId": api_id,
        "$context.stage": stage,
        "$context.accountId": account,
        "$context.responseLatency": str(round(request.latency_ms)),
        "$context.integrationLatency": ("-" if request.integration_latency_ms is None
                                        else str(round(request.integration_latency_ms))),
    }


def render(log_format: str, values: dict[str, str]) -> str:
    """The stage's format with each ``$context`` variable substituted (``-`` if unknown)."""
    return _VARIABLE.sub(lambda m: values.get(m.group(0), "-"), log_format)


def log_group_of(destination_arn: str) -> str:
    """``arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]`` -> ``NAME``."""
    name = destination_arn.split(":log-group:", 1)[-1]
    return name[:-2] if name.endswith(":*") else name


@dataclass
class ApiStage:
    """What the deployed stage says about logging (read by the stack watcher)."""

    api_id: str
    api_name: str
    stage: str
    access_log_destination: str | None
    access_log_format: str | None
    resources: list[str]


class ApiTelemetry:
    """Access log lines and metrics for the requests the local gateway answered."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self._stream = uuid.uuid4().hex  # one access log stream per gateway run
        self._lock = threading.Lock()

    def record(self, stage: ApiStage, request: ApiRequest) -> None:
        if stage.access_log_destination and stage.access_log_format:
            values = context_values(request, api_id=stage.api_id, stage=stage.stage,
                                    account=self.sink.account,
                                    resource=resource_path(request.path, stage.resources))
            line = render(stage.access_log_format, values)
            sent_ms = int(request.received_at.timestamp() * 1000 + request.latency_ms)
            self.sink.put_log_events(log_group_of(stage.access_log_destination),
                                     self._stream, [(sent_ms, line)])
        dims = dimensions(ApiName=stage.api_name, Stage=stage.stage)
        at = request.received_at
        data: list[dict[str, Any]] = [
            {"MetricName": "Count", "Dimensions": dims, "Value": 1, "Unit": "Count",
             "Timestamp": at},
            {"MetricName": "4XXError", "Dimensions": dims,
             "Value": 1 if 400 <= request.status < 500 else 0, "Unit": "Count", "Timestamp": at},
            {"MetricName": "5XXError", "Dimensions": dims,
             "Value": 1 if request.status >= 500 else 0, "Unit": "Count", "Timestamp": at},
            {"MetricName": "Latency", "Dimensions": dims, "Value": round(request.latency_ms, 2),
             "Unit": "Milliseconds", "Timestamp": at},
        ]
        if request.integration_latency_ms is not None:
            data.append({"MetricName": "IntegrationLatency", "Dimensions": dims,
                         "Value": round(request.integration_latency_ms, 2),
                         "Unit": "Milliseconds", "Timestamp": at})
        self.sink.put_metrics("AWS/ApiGateway", data)
