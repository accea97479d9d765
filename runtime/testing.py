"""Builders for Lambda invocations outside Lambda: tests, the local gateway, the workers.

- ``LambdaContext``: the attributes Powertools reads from a real context.
- ``api_gateway_event()``: an API Gateway REST proxy event, the caller in
  ``requestContext.authorizer.claims.sub`` (where Cognito puts it).
- ``sqs_event()`` / ``sqs_record()``: an SQS event shaped like Lambda's event source
  mapping delivers it (``messageId``, ``receiptHandle``, ``body``, ``attributes``...).

Pure stdlib; importing this module imports no AWS SDK.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"


@dataclass
class LambdaContext:
    function_name: str = "GarmaxAi-Local"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timeout_s: float = 300.0
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    _started: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        if not self.invoked_function_arn:
            self.invoked_function_arn = (f"arn:aws:lambda:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:"
                                         f"function:{self.function_name}")
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_s - elapsed) * 1000))


def api_gateway_event(method: str, path: str, *, body: Any = None, user: str | None = None,
                      headers: dict[str, str] | None = None, stage: str = "local",
                      query: dict[str, str] | None = None, base64_body: bool = False,
                      resource: str | None = None) -> dict[str, Any]:
    """A REST API (v1) proxy event. ``body``: str as is, anything else JSON-encoded."""
    split = urlsplit(path)
    query = dict(query or {}) | dict(parse_qsl(split.query))
    text = body if body is None or isinstance(body, str) else json.dumps(body)
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if base64_body and text is not None:
        text = base64.b64encode(text.encode()).decode()
    request_context: dict[str, Any] = {
        "accountId": DEFAULT_ACCOUNT, "apiId": "local", "stage": stage,
        "httpMethod": method.upper(), "path": f"/{stage}{split.path}",
        "resourcePath": resource or split.path, "requestId": str(uuid.uuid4()),
        "requestTimeEpoch": int(time.time() * 1000),
        "identity": {"sourceIp": "127.0.0.1", "userAgent": "garmax-local"},
    }
    if user is not None:
        request_context["authorizer"] = {"claims": {"sub": user}}
    return {
        "resource": resource or split.path,
        "path": split.path,
        "httpMethod": method.upper(),
        "headers": hdrs,
        "multiValueHeaders": {k: [v] for k, v in hdrs.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": request_context,
        "body": text,
        "isBase64Encoded": bool(base64_body and text is not None),
    }


def queue_arn(queue_name: str) -> str:
    return f"arn:aws:sqs:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:{queue_name}"


def sqs_record(body: str | dict, *, message_id: str | None = None, receive_count: int = 1,
               source_arn: str | None = None, receipt_handle: str | None = None,
               attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    now_ms = str(int(time.time() * 1000))
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": receipt_handle or uuid.uuid4().hex,
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": now_ms,
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": now_ms,
        },
        "messageAttributes": attributes or {},
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": source_arn or queue_arn("local-queue"),
        "awsRegion": DEFAULT_REGION,
    }


def sqs_event(*bodies: str | dict, source_arn: str | None = None,
              receive_count: int = 1) -> dict[str, Any]:
    return {"Records": [sqs_record(b, source_arn=source_arn, receive_count=receive_count)
                        for b in bodies]}
