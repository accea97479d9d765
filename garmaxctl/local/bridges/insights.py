"""Logs Insights on LOCAL: the queries garmaxctl runs, answered from the events moto stores.

moto 5.2.5 parses only ``fields``/``sort``/``limit`` of a query and silently ignores
``filter``, ``stats`` and ``bin`` (every event comes back, unfiltered), reports no
statistics, and answers ``StopQuery`` with a 500. Real Logs Insights compiles the query at
``StartQuery`` (``MalformedQueryException`` with a ``queryCompileError`` when it cannot),
runs it over the events of the groups in the time range, and reports
``recordsMatched``/``recordsScanned``/``bytesScanned`` in ``GetQueryResults``.

This bridge (emulator process only, through ``install_bridges()``) runs exactly the
subset of the language garmaxctl's presets use (:mod:`.insights_language`) over moto's
stored events, computes the statistics from what it scanned (the events of the groups in
the range; bytes = the UTF-8 size of their messages), and answers
``MalformedQueryException`` in AWS's shape for anything outside the subset. A query
completes within ``StartQuery`` (status ``Complete`` at the first ``GetQueryResults``);
``StopQuery`` of a finished query answers ``success: false``, of an unknown one
``ResourceNotFoundException``.
"""

from __future__ import annotations

import json
from typing import Any

from . import BridgeInfo
from .insights_language import MalformedQuery, Outcome, parse, record, run

_MARK = "__garmax_bridge__"


def malformed(error: MalformedQuery) -> Exception:
    """``MalformedQueryException`` as Logs Insights answers it (with queryCompileError)."""
    from moto.logs.exceptions import LogsClientError

    exception = LogsClientError("MalformedQueryException", error.message)
    exception.description = json.dumps({
        "__type": "MalformedQueryException", "message": error.message,
        "queryCompileError": {"location": {"startCharOffset": error.start,
                                           "endCharOffset": error.end},
                              "message": error.message}})
    return exception


def execute(groups: list[Any], account: str, query_string: str, start_time: int,
            end_time: int) -> Outcome:
    """Run ``query_string`` over moto's ``LogGroup`` objects (times in epoch seconds, both
    inclusive, as ``StartQuery`` takes them)."""
    query = parse(query_string)
    low, high = start_time * 1000, end_time * 1000 + 999

    def events() -> Any:
        for group in groups:
            for stream in list(group.streams.values()):
                name = stream.log_stream_name
                for event in list(stream.events):
                    if low <= event.timestamp <= high:
                        yield record(group.name, account, name, event.timestamp,
                                     event.message, event.ingestion_time,
                                     f"{group.name}|{name}|{event.event_id}")

    return run(query, events())


def install() -> list[BridgeInfo]:
    """Patch moto's Logs (emulator process only; idempotent)."""
    from moto.logs.exceptions import ResourceNotFoundException
    from moto.logs.models import LogQuery, LogsBackend
    from moto.logs.responses import LogsResponse

    if getattr(LogsBackend.start_query, _MARK, False):
        return _INFOS

    class BridgedQuery(LogQuery):
        """A query this bridge ran: its rows and statistics, never moto's own run."""

        def __init__(self, query_id: str, start_time: int, end_time: int, query: str,
                     log_groups: list[Any], outcome: Outcome) -> None:
            from moto.core.utils import utcnow

            self.query_id = query_id
            self.start_time = start_time
            self.end_time = end_time
            self.query = query
            self.log_group_names = [g.name for g in log_groups]
            self.create_time = utcnow()
            self.outcome = outcome
            self.results = []
            self.status = "Complete"

        def to_result_json(self) -> dict[str, Any]:
            return {"results": self.outcome.rows, "status": self.status,
                    "statistics": {"recordsMatched": float(self.outcome.records_matched),
                                   "recordsScanned": float(self.outcome.records_scanned),
                                   "bytesScanned": float(self.outcome.bytes_scanned)}}

    def start_query(self: Any, log_group_names: list[str], start_time: int, end_time: int,
                    query_string: str) -> str:
        from moto.moto_api._internal import mock_random

        for name in log_group_names or []:
            if name not in self.groups:
                raise ResourceNotFoundException()
        groups = [self.groups[name] for name in log_group_names or []]
        try:
            outcome = execute(groups, self.account_id, query_string, start_time, end_time)
        except MalformedQuery as error:
            raise malformed(error) from None
        query_id = str(mock_random.uuid1())
        self.queries[query_id] = BridgedQuery(query_id, start_time, end_time, query_string,
                                              groups, outcome)
        return query_id

    def get_query_results(self: Any, query_id: str) -> Any:
        if query_id not in self.queries:
            raise ResourceNotFoundException("Query does not exist.")
        return self.queries[query_id]

    def stop_query(self: Any) -> str:
        query_id = self._get_param("queryId")
        query = self.logs_backend.queries.get(query_id)
        if query is None:
            raise ResourceNotFoundException("Query does not exist.")
        running = query.status in ("Scheduled", "Running")
        if running:
            query.status = "Cancelled"
        return json.dumps({"success": running})

    for owner, name, new in ((LogsBackend, "start_query", start_query),
                             (LogsBackend, "get_query_results", get_query_results),
                             (LogsResponse, "stop_query", stop_query)):
        original = owner.__dict__.get(name)
        vars(new).update({_MARK: True, **({"__wrapped__": original} if original else {})})
        setattr(owner, name, new)
    return _INFOS


_INFOS = [BridgeInfo("logs-insights-subset", "patch",
                     "Logs Insights runs the presets' subset (filter, stats, bin) with "
                     "statistics; MalformedQueryException for the rest; StopQuery answers")]
