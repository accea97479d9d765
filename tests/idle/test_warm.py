"""Issue 11 item 15: the warm-up after ``up`` runs each restored function's code, and a
function Lambda made ``Inactive`` during a long idle is brought back.

Moto cannot run Lambda code without Docker and has no function states, so ``LambdaService``
answers as AWS Lambda does, through botocore event hooks on the engine's session:

- ``Invoke`` runs "the handler": an API Gateway proxy event is answered with its HTTP
  response, an SQS event with ``batchItemFailures`` (the runtime's processors report a
  record that is not a message that way); ``DryRun`` is answered 204 without running;
- a function can be ``Inactive``: AWS documents that invoking it fails
  (``ResourceNotReadyException``, the service model's error "The function is inactive")
  and sets it ``Pending`` until its resources are recreated, then ``Active``;
  ``GetFunction``/``GetFunctionConfiguration`` report the state.
"""

from __future__ import annotations

import io
import json
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

from garmaxctl.shared import contract
from tests.idle import builder

STAGE = "DEV"
API = contract.function_name(contract.Function.API, STAGE)
TRYON = contract.function_name(contract.Function.TRYON_PROCESSOR, STAGE)
WEBHOOK = contract.function_name(contract.Function.STRIPE_WEBHOOK, STAGE)
CONSUMERS = {contract.function_name(f, STAGE) for f in contract.CONSUMERS.values()}


def _response(status: int, parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    parsed.setdefault("ResponseMetadata", {"HTTPStatusCode": status, "HTTPHeaders": {}})
    return AWSResponse("https://lambda.us-east-1.amazonaws.com", status, {}, None), parsed


class LambdaService:
    def __init__(self, states: dict[str, str] | None = None, *,
                 pending_reads: int = 3, reactivates: bool = True) -> None:
        self.states = dict(states or {})  # function -> Inactive | Pending (absent: Active)
        self.pending_reads = pending_reads
        self.reactivates = reactivates
        self._left: dict[str, int] = {}
        self.invocations: list[tuple[str, str, Any]] = []  # (function, type, event)

    def before_call(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        if model.name != "Invoke":
            return None
        name = params["url_path"].split("/functions/")[1].split("/")[0]
        headers = params.get("headers", {})
        kind = headers.get("X-Amz-Invocation-Type", "RequestResponse")
        body = params.get("body") or b"{}"
        event = json.loads(body.read() if hasattr(body, "read") else body)
        self.invocations.append((name, kind, event))
        state = self.states.get(name, "Active")
        if state == "Inactive":
            self.states[name], self._left[name] = "Pending", self.pending_reads
            return _response(502, {"Error": {
                "Code": "ResourceNotReadyException",
                "Message": "The function is inactive and its VPC connection is no longer "
                           "available."}})
        if state == "Pending":
            return _response(409, {"Error": {"Code": "ResourceConflictException",
                                             "Message": "The operation cannot be performed "
                                                        "at this time."}})
        if kind == "DryRun":
            return _response(204, {"StatusCode": 204})
        if "Records" in event:
            answer = {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                            for r in event["Records"]]}
        else:
            ok = event.get("httpMethod") == "GET" and event.get("path") == "/api/health"
            answer = {"statusCode": 200 if ok else 404,
                      "body": json.dumps({"status": "ok"} if ok else {"code": "x"})}
        payload = json.dumps(answer).encode()
        return _response(200, {"StatusCode": 200, "ExecutedVersion": "$LATEST",
                               "Payload": StreamingBody(io.BytesIO(payload), len(payload))})

    def after_call(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        config = parsed.get("Configuration") if model.name == "GetFunction" else \
            parsed if model.name == "GetFunctionConfiguration" else None
        if not config or config.get("FunctionName") not in self.states:
            return
        name = config["FunctionName"]
        state = self.states[name]
        if state == "Pending":
            self._left[name] -= 1
            if self._left[name] <= 0:
                state = "Active" if self.reactivates else "Inactive"
                if state == "Active":
                    del self.states[name]
                else:
                    self.states[name] = state
        config["State"] = state
        config["StateReasonCode"] = "Idle" if state == "Inactive" else \
            "Restoring" if state == "Pending" else None

    def attach(self, engine: Any) -> Any:
        events = engine.aws.session.events
        events.register("before-call.lambda.Invoke", self.before_call)
        events.register("after-call.lambda", self.after_call)
        return engine

    def invoked(self, name: str) -> list[tuple[str, Any]]:
        return [(kind, event) for fn, kind, event in self.invocations if fn == name]


def _down(dev) -> dict[str, Any]:
    dev.build()
    before = dev.observe()
    assert dev.engine().down().ok
    return before


def test_up_warms_each_restored_function_with_an_event_its_handler_answers(dev) -> None:
    before = _down(dev)
    service = LambdaService()

    report = service.attach(dev.engine()).up()

    assert report.ok, report
    assert dev.observe() == before
    assert all(kind == "RequestResponse" for _, kind, _ in service.invocations)  # no DryRun
    ((_, api_event),) = service.invoked(API)
    assert (api_event["httpMethod"], api_event["path"]) == ("GET", "/api/health")
    for consumer in CONSUMERS:
        ((_, event),) = service.invoked(consumer)
        (record,) = event["Records"]
        assert record["eventSource"] == "aws:sqs" and "not a message" in record["body"]
    assert not service.invoked(WEBHOOK)  # kept running and Active: left alone
    checks = {c.name: c for c in report.checks}
    assert checks[f"warm {API}"].status == "ok"
    assert "HTTP 200" in checks[f"warm {API}"].detail
    assert checks[f"warm {TRYON}"].status == "ok"
    assert "batch item failure" in checks[f"warm {TRYON}"].detail


def test_up_brings_back_functions_lambda_made_inactive_while_idle(dev) -> None:
    before = _down(dev)
    service = LambdaService({TRYON: "Inactive", WEBHOOK: "Inactive"})

    report = service.attach(dev.engine()).up()

    assert report.ok, report
    assert dev.observe() == before
    assert service.states == {}  # both Active again
    # The first invoke failed as documented; the warm-up ran once the function was Active.
    assert [kind for kind, _ in service.invoked(TRYON)] == ["RequestResponse"] * 2
    checks = {c.name: c for c in report.checks}
    assert checks[f"warm {TRYON}"].status == "ok"
    assert "was Inactive (Idle), Active again" in checks[f"warm {TRYON}"].detail
    assert checks[f"active {WEBHOOK}"].status == "ok"
    assert len(service.invoked(WEBHOOK)) == 1  # only the invoke that wakes it


def test_a_function_that_stays_inactive_fails_up_and_keeps_the_snapshot(dev) -> None:
    _down(dev)
    service = LambdaService({TRYON: "Inactive"}, reactivates=False)
    engine = service.attach(dev.engine())
    engine.timeouts.function = 0.5

    report = engine.up()

    assert not report.ok and report.phase == "restoring"
    (check,) = [c for c in report.checks if c.name == f"warm {TRYON}"]
    assert check.status == "fail" and "not Active" in check.detail
    assert dev.parameter("/garmaxai/ops/DEV/idle/snapshot") is not None
    assert builder.client("lambda").get_function_concurrency(
        FunctionName=TRYON)["ReservedConcurrentExecutions"] == 2  # restored all the same
