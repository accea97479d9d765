"""After ``up``: every function idle touched (or kept) is brought back to ``Active``, and
each restored function is warmed for real, with an event its handler answers cheaply.

- **Active again.** Lambda sets a function that has not run for a long time ``Inactive``
  (it reclaims the function's external resources, e.g. its VPC network interfaces).
  Invoking an inactive function fails and sets it ``Pending`` until the resources are
  recreated, then ``Active`` (or ``Inactive`` again if that fails): AWS's documented way to
  bring it back. So for an ``Inactive`` function ``up`` invokes it once (the call fails as
  documented) and waits with the ``function_active_v2`` waiter; a ``Pending`` one is only
  waited for.
- **Warm for real.** ``Invoke(InvocationType="DryRun")`` only checks permissions and runs
  no code, so it warms nothing. Instead each restored function is invoked synchronously
  with an event its handler answers without touching anything: an ingress function (the
  Api) an API Gateway proxy ``GET /api/health`` (answered 200 from the handler's own
  configuration), an SQS consumer one record that is not a message (answered by the
  handler as a batch item failure, as any malformed message is: no queue, table or
  provider is touched, and no Lambda error is counted). The check reports the answer.

On LOCAL nothing is warmed: the local gateway and workers run the handlers inside
garmaxctl's long-lived local process (no cold start; moto cannot run Lambda code), and the
``/api/health`` probe through the local gateway exercises the Api handler.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from garmaxctl.result import CheckResult, Status
from garmaxctl.services.idle.context import StepFailed, one_line

if TYPE_CHECKING:
    from garmaxctl.services.idle.context import Context
    from garmaxctl.services.idle.kinds import WarmUp

OK, FAIL, SKIPPED = Status.OK, Status.FAIL, Status.SKIPPED
WARM_BODY = "garmaxctl idle warm-up: not a message"
LOCAL_NOTE = ("nothing to warm on LOCAL: the local gateway and workers run the handlers in "
              "garmaxctl's local process (moto cannot run Lambda code); /api/health exercises "
              "the Api handler")


def http_event(stage: str) -> dict[str, Any]:
    """An API Gateway REST proxy event for ``GET /api/health``."""
    request = f"garmaxctl-warm-{uuid.uuid4().hex}"
    return {"resource": "/{proxy+}", "path": "/api/health", "httpMethod": "GET",
            "headers": {"User-Agent": "garmaxctl-idle-warm"},
            "multiValueHeaders": {"User-Agent": ["garmaxctl-idle-warm"]},
            "queryStringParameters": None, "multiValueQueryStringParameters": None,
            "pathParameters": {"proxy": "api/health"}, "stageVariables": None,
            "requestContext": {"resourcePath": "/{proxy+}", "httpMethod": "GET",
                               "path": f"/{stage.lower()}/api/health",
                               "stage": stage.lower(), "requestId": request,
                               "identity": {"sourceIp": "127.0.0.1",
                                            "userAgent": "garmaxctl-idle-warm"}},
            "body": None, "isBase64Encoded": False}


def sqs_event(region: str) -> dict[str, Any]:
    """One SQS record whose body is not a message of any queue."""
    now = str(int(time.time() * 1000))
    return {"Records": [{
        "messageId": f"garmaxctl-warm-{uuid.uuid4().hex}", "receiptHandle": "garmaxctl-warm",
        "body": WARM_BODY,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": now,
                       "SenderId": "garmaxctl", "ApproximateFirstReceiveTimestamp": now},
        "messageAttributes": {}, "md5OfBody": hashlib.md5(WARM_BODY.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{region}:000000000000:garmaxctl-warm-up",
        "awsRegion": region}]}


def _answer(raw: Any) -> Any:
    payload = raw.read().decode(errors="replace") if raw is not None else ""
    try:
        return json.loads(payload) if payload else None
    except ValueError:
        return payload


def _activate(ctx: Context, name: str, event: dict[str, Any]) -> str:
    """Bring the function to ``Active``; returns what was done ("" if it was Active).
    Raises ``StepFailed`` if it does not become Active."""
    config = ctx.client("lambda").get_function_configuration(FunctionName=name)
    state = config.get("State") or "Active"
    if state == "Active":
        return ""
    if state == "Failed":
        raise StepFailed(f"state Failed: {config.get('StateReason') or '?'}")
    if state == "Inactive":
        # AWS: the invocation fails (ResourceNotReadyException), and Lambda recreates the
        # function's resources.
        with contextlib.suppress(Exception):
            ctx.aws.client("lambda", retries={"mode": "standard", "max_attempts": 1}).invoke(
                FunctionName=name, Payload=json.dumps(event).encode())
    ctx.boto_wait("lambda", "function_active_v2", ctx.timeouts.function, FunctionName=name)
    reason = config.get("StateReasonCode") or config.get("StateReason") or "?"
    return f"was {state} ({reason}), Active again"


def _invoke(ctx: Context, name: str, kind: str | None, event: dict[str, Any]) -> CheckResult:
    check = f"warm {name}"
    answer = ctx.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body = _answer(answer.get("Payload"))
    error = answer.get("FunctionError")
    if error and "docker" in str(body).lower():
        return CheckResult(check, SKIPPED, "the target cannot run Lambda code (an emulator)")
    if error:
        return CheckResult(check, FAIL, f"{error}: {str(body)[:160]}")
    if kind == "sqs":
        if isinstance(body, dict) and "batchItemFailures" in body:
            return CheckResult(check, OK, "ran: the warm-up record answered as a batch item "
                                          "failure, as any malformed message is")
        return CheckResult(check, FAIL, f"unexpected answer to an SQS event: {str(body)[:160]}")
    status = body.get("statusCode") if isinstance(body, dict) else None
    if isinstance(status, int) and status < 500:
        return CheckResult(check, OK, f"ran: GET /api/health answered HTTP {status}")
    return CheckResult(check, FAIL, f"GET /api/health answered {str(body)[:160]}")


def warm(ctx: Context, warmups: Iterable[WarmUp], wake: Iterable[str]) -> list[CheckResult]:
    """Bring ``wake`` and the warm-ups' functions back to Active, then warm the warm-ups."""
    warmups = list(warmups)
    names = list(dict.fromkeys([*wake, *(w.function for w in warmups)]))
    if not names:
        return []
    if ctx.aws.is_local:
        return [CheckResult("warm", SKIPPED, LOCAL_NOTE)]
    events = {w.function: w.event for w in warmups}
    checks: list[CheckResult] = []
    for name in names:
        kind = events.get(name)
        event = sqs_event(ctx.client("lambda").meta.region_name) if kind == "sqs" \
            else http_event(ctx.stage)
        try:
            activated = _activate(ctx, name, event)
        except Exception as exc:
            checks.append(CheckResult(f"warm {name}" if name in events else f"active {name}",
                                      FAIL, f"not Active: {one_line(exc)}"))
            continue
        if name not in events:  # kept running: only brought back if Lambda had idled it
            if activated:
                checks.append(CheckResult(f"active {name}", OK, activated))
            continue
        try:
            result = _invoke(ctx, name, kind, event)
        except Exception as exc:
            result = CheckResult(f"warm {name}", FAIL, one_line(exc))
        if activated:
            result.detail = f"{activated}; {result.detail}"
        checks.append(result)
    return checks
