"""``garmaxctl logs query`` and ``logs errors``: CloudWatch Logs Insights for the stage.

:func:`run_query` starts a query over the stage's function log groups, polls
``GetQueryResults`` with back-off until the query is ``Complete`` (or ``Failed``,
``Cancelled``, ``Timeout``), stops it (``StopQuery``) when ``--timeout`` passes or on
Ctrl-C, and returns the rows with the statistics and the estimated cost ($0.005 per GB
scanned). ``max_scan_gb`` refuses a query before it starts when the groups' stored bytes
(``DescribeLogGroups``; an upper bound of what it can scan) exceed it.
:func:`errors` is the ``errors-by-function`` preset, counted per function and time bin.

The clock and the sleep are injectable (:class:`Poll`), so tests never wait.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from garmaxctl.services.logs import presets as preset_file
from garmaxctl.shared import contract
from garmaxctl.shared.errors import ConfigError, OperationError, UsageError
from garmaxctl.stage import prices
from garmaxctl.stage.log_groups import LogGroup, function_log_groups

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

GB = 1024 ** 3
FINAL_FAILURES = {
    "Failed": "failed on the service",
    "Cancelled": "was cancelled (StopQuery, or another client stopped it)",
    "Timeout": "timed out on the service (Logs Insights ends a query after 60 minutes)",
    "Unknown": "ended in an unknown state",
}


@dataclass
class Poll:
    """How to wait for a query: the timeout, the back-off, and the clock and sleep."""

    timeout_s: float = 60.0
    first_delay_s: float = 0.5
    max_delay_s: float = 5.0
    factor: float = 1.5
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass
class QueryResult:
    stage: str
    query: str
    preset: str | None
    query_id: str
    groups: list[LogGroup]
    start: dt.datetime
    end: dt.datetime
    status: str
    fields: list[str]  # in the order of first appearance, without @ptr
    rows: list[dict[str, str]]
    records_matched: int
    records_scanned: int
    bytes_scanned: int
    cost_usd: float  # bytes scanned x $0.005/GB
    polls: int  # GetQueryResults requests made
    stored_bytes: int | None = None  # the groups' storedBytes, when --max-scan-gb asked
    notes: list[str] = field(default_factory=list)

    def label(self, log: str) -> str:
        """A result's ``@log`` (``account:group``) as the function's short name."""
        name = log.split(":", 1)[-1]
        return next((g.label for g in self.groups if g.name == name), name)


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def stored_bytes(logs: Any, groups: Sequence[LogGroup]) -> int:
    """The groups' ``storedBytes`` (DescribeLogGroups), summed."""
    total = 0
    for group in groups:
        pages = logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=group.name)
        total += sum(int(g.get("storedBytes") or 0) for page in pages
                     for g in page.get("logGroups", []) if g.get("logGroupName") == group.name)
    return total


def _stop(logs: Any, query_id: str) -> str:
    """StopQuery, best effort: what happened, in words."""
    try:
        stopped = logs.stop_query(queryId=query_id).get("success")
    except Exception as exc:  # botocore: the query may have just finished
        return f"StopQuery failed: {_code(exc) or type(exc).__name__}"
    return "stopped it (StopQuery)" if stopped else "StopQuery: it had already ended"


def wait(logs: Any, query_id: str, poll: Poll,
         on_status: Callable[[str], None] | None = None) -> tuple[dict[str, Any], int]:
    """Poll ``GetQueryResults`` until the query is final: (the answer, polls made).
    A failed query, or one not complete within ``poll.timeout_s`` (then stopped), is an
    error (exit 1); Ctrl-C stops the query, then interrupts."""
    started = poll.clock()
    delay = poll.first_delay_s
    polls = 0
    try:
        while True:
            answer = logs.get_query_results(queryId=query_id)
            polls += 1
            status = str(answer.get("status", "Unknown"))
            if on_status is not None:
                on_status(status)
            if status == "Complete":
                return answer, polls
            if status in FINAL_FAILURES:
                raise OperationError(f"the Logs Insights query {query_id} "
                                     f"{FINAL_FAILURES[status]}", code="query_failed",
                                     data={"query_id": query_id, "status": status})
            elapsed = poll.clock() - started
            if elapsed >= poll.timeout_s:
                stopped = _stop(logs, query_id)
                raise OperationError(
                    f"the Logs Insights query {query_id} did not complete within "
                    f"{poll.timeout_s:g}s (still {status}); {stopped}", code="query_timeout",
                    hint="narrow --since or the functions, or give a longer --timeout",
                    data={"query_id": query_id, "status": status})
            poll.sleep(min(delay, poll.timeout_s - elapsed))
            delay = min(delay * poll.factor, poll.max_delay_s)
    except KeyboardInterrupt:
        _stop(logs, query_id)
        raise


def run_query(target: StageTarget, query: str, groups: Sequence[LogGroup],
              start: dt.datetime, end: dt.datetime, *, preset: str | None = None,
              poll: Poll | None = None, max_scan_gb: float | None = None,
              on_status: Callable[[str], None] | None = None) -> QueryResult:
    """Run one Logs Insights query over ``groups`` from ``start`` to ``end``."""
    poll = poll or Poll()
    if max_scan_gb is not None and max_scan_gb <= 0:
        raise UsageError("--max-scan-gb takes a positive number of GB")
    target.check_account()
    logs = target.client("logs")
    stored = None
    if max_scan_gb is not None:
        stored = stored_bytes(logs, groups)
        if stored > max_scan_gb * GB:
            most = stored / GB * prices.LOGS_INSIGHTS_GB_SCANNED
            raise UsageError(
                f"the {len(groups)} log groups hold {stored / GB:.3f} GB, more than "
                f"--max-scan-gb {max_scan_gb:g} (up to ${most:.4f} to scan); the query "
                "was not started", code="scan_limit",
                hint="raise --max-scan-gb or query fewer functions")
    try:
        query_id = logs.start_query(
            logGroupNames=[g.name for g in groups], startTime=int(start.timestamp()),
            endTime=int(end.timestamp()), queryString=query)["queryId"]
    except Exception as exc:  # botocore ClientError
        if _code(exc) != "MalformedQueryException":
            raise
        detail = (getattr(exc, "response", {}) or {}).get("queryCompileError") or {}
        where = detail.get("location") or {}
        message = detail.get("message") or str(exc)
        at = f" (characters {where['startCharOffset']}-{where['endCharOffset']})" \
            if "startCharOffset" in where else ""
        raise UsageError(f"Logs Insights cannot read the query{at}: {message}",
                         code="malformed_query") from None
    answer, polls = wait(logs, query_id, poll, on_status)
    rows: list[dict[str, str]] = []
    fields: list[str] = []
    for result in answer.get("results", []):
        row = {c["field"]: c.get("value", "") for c in result if c.get("field") != "@ptr"}
        fields += [f for f in row if f not in fields]
        rows.append(row)
    statistics = answer.get("statistics") or {}
    scanned = int(statistics.get("bytesScanned") or 0)
    return QueryResult(
        stage=target.name, query=query, preset=preset, query_id=query_id, groups=list(groups),
        start=start, end=end, status="Complete", fields=fields, rows=rows,
        records_matched=int(statistics.get("recordsMatched") or 0),
        records_scanned=int(statistics.get("recordsScanned") or 0), bytes_scanned=scanned,
        cost_usd=scanned / GB * prices.LOGS_INSIGHTS_GB_SCANNED, polls=polls,
        stored_bytes=stored)


def groups_for(target: StageTarget, functions: Sequence[contract.Function]) -> list[LogGroup]:
    return function_log_groups(target, functions)


# --------------------------------------------------------------------------- logs errors

@dataclass
class ErrorBin:
    start: dt.datetime
    counts: dict[str, int]  # function short name -> errors in the bin
    total: int


@dataclass
class ErrorsReport:
    stage: str
    by: str
    functions: list[str]  # short names, the table's columns
    bins: list[ErrorBin]  # bins with at least one error, oldest first
    totals: dict[str, int]
    total: int
    peak: ErrorBin | None
    query: QueryResult


def parse_bin_time(text: str) -> dt.datetime:
    """Insights' ``bin()`` value (``2025-06-15 12:05:00.000``, UTC)."""
    return dt.datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=dt.UTC)


def errors(target: StageTarget, functions: Sequence[contract.Function], start: dt.datetime,
           end: dt.datetime, *, by: str, preset: preset_file.Preset, poll: Poll | None = None,
           max_scan_gb: float | None = None,
           on_status: Callable[[str], None] | None = None) -> ErrorsReport:
    """The errors preset, counted per function and ``by`` bin (functions with none: 0)."""
    groups = groups_for(target, functions)
    result = run_query(target, preset.query_text(preset_file.check_bin(by)), groups, start,
                       end, preset=preset.name, poll=poll, max_scan_gb=max_scan_gb,
                       on_status=on_status)
    labels = [g.label for g in groups]
    bin_field = next((f for f in result.fields if f.startswith("bin(")), None)
    count_field = next((f for f in result.fields if f not in (bin_field, "@log")), None)
    if result.rows and (bin_field is None or count_field is None or "@log" not in
                        result.fields):
        raise ConfigError(f"preset {preset.name!r} ({preset.source}) must answer a bin(), "
                          f"@log and a count; it answered {', '.join(result.fields)}")
    by_start: dict[dt.datetime, dict[str, int]] = {}
    for row in result.rows:
        moment = parse_bin_time(row[bin_field])  # type: ignore[index]
        label = result.label(row.get("@log", ""))
        counts = by_start.setdefault(moment, dict.fromkeys(labels, 0))
        counts[label] = counts.get(label, 0) + int(float(row.get(count_field, "0") or 0))  # type: ignore[arg-type]
    bins = [ErrorBin(moment, counts, sum(counts.values()))
            for moment, counts in sorted(by_start.items())]
    totals = {label: sum(b.counts.get(label, 0) for b in bins) for label in labels}
    peak = max(bins, key=lambda b: b.total, default=None)
    return ErrorsReport(stage=target.name, by=by, functions=labels, bins=bins, totals=totals,
                        total=sum(totals.values()), peak=peak, query=result)


__all__ = ["GB", "ErrorBin", "ErrorsReport", "Poll", "QueryResult", "errors", "groups_for",
           "run_query", "stored_bytes", "wait"]
