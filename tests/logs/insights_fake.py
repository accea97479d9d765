"""Logs Insights answered as AWS answers it, for real-stage tests of ``logs query``.

:class:`FakeInsights` answers ``StartQuery``, ``GetQueryResults`` and ``StopQuery`` through
a botocore ``before-call`` hook on every session the CLI makes (everything else — the
stack's resources, ``DescribeLogGroups`` — goes to ``mock_aws``). ``statuses`` is the
script of what successive ``GetQueryResults`` calls see (the last one repeats), so a
test drives a query that completes late, never completes or fails; its clock only moves
when the code under test sleeps, so no test waits. Answers are validated against the
logs service model's output shapes, as botocore's Stubber does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse

ENDPOINT = "https://logs.us-east-1.amazonaws.com/"


@dataclass
class FakeInsights:
    statuses: list[str] = field(default_factory=lambda: ["Complete"])
    results: list[dict[str, str]] = field(default_factory=list)
    statistics: dict[str, float] = field(default_factory=lambda: {
        "recordsMatched": 2.0, "recordsScanned": 1000.0, "bytesScanned": 3 * 1024 ** 3})
    malformed: tuple[str, int, int] | None = None  # (message, start, end) at StartQuery
    interrupt_after_sleeps: int | None = None  # Ctrl-C while waiting
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    now: float = 1000.0

    # the injected clock and sleep ------------------------------------------------

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if self.interrupt_after_sleeps is not None \
                and len(self.sleeps) >= self.interrupt_after_sleeps:
            raise KeyboardInterrupt
        self.sleeps.append(seconds)
        self.now += seconds

    def operations(self) -> list[str]:
        return [op for op, _ in self.requests]

    def request(self, operation: str) -> dict[str, Any]:
        return next(params for op, params in self.requests if op == operation)

    # the hook ------------------------------------------------------------------

    def install(self, session: Any) -> Any:
        session.events.register("before-call.cloudwatch-logs", self._before_call)
        return session

    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        from botocore.validate import validate_parameters

        handler = getattr(self, model.name, None)
        if handler is None:
            return None  # to mock_aws
        request = json.loads(params["body"] or b"{}")
        self.requests.append((model.name, request))
        answer = handler(request)
        if "Error" in answer:
            answer["ResponseMetadata"] = {"HTTPStatusCode": 400}
            return AWSResponse(ENDPOINT, 400, {}, None), answer
        validate_parameters(answer, model.output_shape)
        answer["ResponseMetadata"] = {"HTTPStatusCode": 200}
        return AWSResponse(ENDPOINT, 200, {}, None), answer

    # the answers ---------------------------------------------------------------

    def StartQuery(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.malformed is not None:
            message, start, end = self.malformed
            return {"Error": {"Code": "MalformedQueryException", "Message": message},
                    "queryCompileError": {"location": {"startCharOffset": start,
                                                       "endCharOffset": end},
                                          "message": message}}
        return {"queryId": "0f1e2d3c-query"}

    def GetQueryResults(self, request: dict[str, Any]) -> dict[str, Any]:
        polls = self.operations().count("GetQueryResults")
        status = self.statuses[min(polls, len(self.statuses)) - 1]
        answer: dict[str, Any] = {"status": status, "results": []}
        if status == "Complete":
            answer["results"] = [
                [{"field": k, "value": v} for k, v in row.items()] + [
                    {"field": "@ptr", "value": f"ptr-{n}"}] for n, row in
                enumerate(self.results)]
            answer["statistics"] = dict(self.statistics)
        return answer

    def StopQuery(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"success": True}
