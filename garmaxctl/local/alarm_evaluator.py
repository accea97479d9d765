"""CloudWatch's metric alarm evaluation, run by LOCAL against the metrics LOCAL wrote.

moto never evaluates an alarm. On each telemetry tick the platform calls
:meth:`AlarmEvaluator.evaluate_all` (after sampling the queues), at its clock's time;
a test passes its own clock and calls it directly. For each metric alarm:

1. **Datapoints.** The evaluation range is the ``EvaluationPeriods`` most recent periods,
   aligned to the period (as CloudWatch aligns them), the newest being the period in
   progress. A single-metric alarm aggregates the raw data with the same namespace, name
   and exactly the same dimensions (CloudWatch treats each dimension combination as its
   own metric; and the alarm's ``Unit`` if it sets one) into its ``Statistic``
   (``SampleCount``, ``Sum``, ``Average``, ``Minimum``, ``Maximum``) per period.
2. **Metric math.** An alarm on ``Metrics`` evaluates the query with ``ReturnData``,
   whose expression may be ``m1 + m2 + ...`` (a datapoint only where every operand has
   one, as CloudWatch's arithmetic on time series: use ``FILL`` for gaps) or
   ``MAX([m1, m2, ...])`` / ``SUM([m1, m2, ...])`` (the maximum / sum of the operands
   present at each time, as CloudWatch's functions over an array of series). Other
   expressions are not evaluated on LOCAL (the alarm keeps its state; the log says so).
3. **Missing data** (``TreatMissingData``): ``notBreaching``/``breaching`` count a
   missing datapoint as good/bad; ``ignore`` drops it and keeps the state when none is
   left; ``missing`` (the default) drops it and goes to ``INSUFFICIENT_DATA`` when none
   is left.
4. **Decision.** ``ALARM`` when at least ``DatapointsToAlarm`` (default: all
   ``EvaluationPeriods``) datapoints breach the threshold under the
   ``ComparisonOperator``; ``OK`` when that can no longer happen; otherwise unchanged.
5. **Transition** through :func:`garmaxctl.local.bridges.alarm_history.transition`:
   ``StateReason``/``StateReasonData`` as CloudWatch words them, a history item, and the
   new state's SNS actions when ``ActionsEnabled`` (and no active mute rule). Before
   evaluating, an alarm whose muted transition's mute window has ended, still in that
   state, runs that state's actions (``alarm_history.release_mutes``), as CloudWatch does.

Not evaluated on LOCAL (left in their state): composite alarms, percentile statistics
(``ExtendedStatistic``), anomaly-detection thresholds.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from garmaxctl.local.bridges import alarm_history

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
Series = dict[dt.datetime, float]  # period start (naive UTC) -> value

OPERATORS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}
_SUM = re.compile(r"^\s*[A-Za-z]\w*(\s*\+\s*[A-Za-z]\w*)*\s*$")
_ARRAY = re.compile(
    r"^\s*(MAX|SUM)\s*\(\s*\[\s*([A-Za-z]\w*(\s*,\s*[A-Za-z]\w*)*)\s*\]\s*\)\s*$")
_ARRAY_FUNCTIONS: dict[str, Callable[[list[float]], float]] = {"MAX": max, "SUM": sum}


class NotEvaluable(Exception):
    """The alarm uses something LOCAL does not evaluate."""


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is None else moment.astimezone(dt.UTC).replace(tzinfo=None)


def period_starts(now: dt.datetime, period: int, count: int) -> list[dt.datetime]:
    """The ``count`` most recent period starts, oldest first, the last containing ``now``."""
    epoch = dt.datetime(1970, 1, 1)
    seconds = int((_naive(now) - epoch).total_seconds())
    newest = seconds - seconds % period
    return [epoch + dt.timedelta(seconds=newest - period * i) for i in reversed(range(count))]


def _values(datum: Any) -> tuple[float, float, float, float]:
    """(sample count, sum, minimum, maximum) of one stored datum."""
    if hasattr(datum, "value"):
        return 1.0, float(datum.value), float(datum.value), float(datum.value)
    return float(datum.sample_count), float(datum.sum), float(datum.min), float(datum.max)


def aggregate(data: list[Any], statistic: str) -> float:
    count = sum(_values(d)[0] for d in data)
    total = sum(_values(d)[1] for d in data)
    if statistic == "SampleCount":
        return count
    if statistic == "Sum":
        return total
    if statistic == "Average":
        return total / count if count else math.nan
    if statistic == "Minimum":
        return min(_values(d)[2] for d in data)
    if statistic == "Maximum":
        return max(_values(d)[3] for d in data)
    raise NotEvaluable(f"statistic {statistic}")


def metric_series(backend: Any, namespace: str, name: str, dims: list[tuple[str, str]],
                  statistic: str, period: int, starts: list[dt.datetime],
                  unit: str | None = None) -> tuple[Series, dict[dt.datetime, float]]:
    """Per-period values of one metric and the sample count behind each."""
    wanted = sorted(dims)
    end = starts[-1] + dt.timedelta(seconds=period)
    buckets: dict[dt.datetime, list[Any]] = {}
    for datum in list(backend.metric_data):
        if datum.namespace != namespace or datum.name != name:
            continue
        if sorted((d.name, d.value) for d in datum.dimensions) != wanted:
            continue
        if unit and datum.unit and datum.unit != unit:
            continue
        stamp = _naive(datum.timestamp)
        if not starts[0] <= stamp < end:
            continue
        index = int((stamp - starts[0]).total_seconds()) // period
        buckets.setdefault(starts[index], []).append(datum)
    series = {start: aggregate(data, statistic) for start, data in buckets.items()}
    counts = {start: sum(_values(d)[0] for d in data) for start, data in buckets.items()}
    return {k: v for k, v in series.items() if not math.isnan(v)}, counts


def expression_series(expression: str, operands: dict[str, Series]) -> Series:
    """``a + b + ...``, ``MAX([a, b, ...])`` or ``SUM([a, b, ...])`` over per-period
    series. The array functions, as CloudWatch's, combine the operands present at each
    time (a series with no datapoint there is left out); ``+`` needs every operand."""
    match = _ARRAY.match(expression)
    if match:
        combine = _ARRAY_FUNCTIONS[match.group(1)]
        ids = [i.strip() for i in match.group(2).split(",")]
        _known(ids, operands)
        stamps = {s for i in ids for s in operands[i]}
        return {s: combine([operands[i][s] for i in ids if s in operands[i]])
                for s in stamps}
    if _SUM.match(expression):
        ids = [i.strip() for i in expression.split("+")]
        _known(ids, operands)
        stamps = set.intersection(*(set(operands[i]) for i in ids))
        return {s: sum(operands[i][s] for i in ids) for s in stamps}
    raise NotEvaluable(f"expression {expression!r} (LOCAL evaluates '+', MAX([...]) and "
                      "SUM([...]))")


def _known(ids: list[str], operands: dict[str, Series]) -> None:
    unknown = [i for i in ids if i not in operands]
    if unknown:
        raise NotEvaluable(f"unknown metric ids {unknown}")


@dataclass
class Evaluation:
    state: str | None  # None: keep the current state
    reason: str
    reason_data: dict[str, Any]


def _fmt(value: float) -> str:
    return repr(float(value))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def decide(alarm: Any, starts: list[dt.datetime], series: Series,
           counts: dict[dt.datetime, float], now: dt.datetime,
           statistic: str | None) -> Evaluation:
    """CloudWatch's decision for one alarm from its per-period datapoints."""
    if alarm.comparison_operator not in OPERATORS:
        raise NotEvaluable(f"comparison operator {alarm.comparison_operator}")
    compare, words = OPERATORS[alarm.comparison_operator]
    threshold = float(alarm.threshold)
    n = len(starts)
    m = int(alarm.datapoints_to_alarm or n)
    treat = alarm.treat_missing_data or "missing"
    present = [(s, series[s]) for s in starts if s in series]
    missing = n - len(present)
    breaching = sum(1 for _, v in present if compare(v, threshold))
    period = int((starts[1] - starts[0]).total_seconds()) if n > 1 else None
    data: dict[str, Any] = {
        "version": "1.0", "queryDate": alarm_history.iso(now.replace(tzinfo=dt.UTC)
                                                          if now.tzinfo is None else now),
        "startDate": alarm_history.iso(starts[0].replace(tzinfo=dt.UTC)),
    }
    if statistic:
        data["statistic"] = statistic
    data["period"] = period or _alarm_period(alarm)
    data["recentDatapoints"] = [v for _, v in reversed(present)]
    data["threshold"] = threshold
    evaluated = []
    for stamp, value in reversed(present):
        point: dict[str, Any] = {"timestamp": alarm_history.iso(stamp.replace(tzinfo=dt.UTC))}
        if stamp in counts:
            point["sampleCount"] = counts[stamp]
        point["value"] = value
        evaluated.append(point)
    data["evaluatedDatapoints"] = evaluated
    if treat == "breaching":
        breaching += missing
    considered = n if treat in ("breaching", "notBreaching") else len(present)
    if considered == 0:
        if treat == "ignore":
            return Evaluation(None, "", data)
        return Evaluation("INSUFFICIENT_DATA",
                          f"Insufficient Data: {_plural(n, 'datapoint')} "
                          f"{'was' if n == 1 else 'were'} unknown.", data)
    old = alarm.state_value
    if breaching >= m:
        new = "ALARM"
    elif considered - breaching > n - m:
        new = "OK"
    else:
        return Evaluation(None, "", data)
    if not present:  # every datapoint missing, treated as notBreaching (or breaching)
        kind = "Breaching" if treat == "breaching" else "NonBreaching"
        reason = (f"Threshold Crossed: no datapoints were received for {_plural(n, 'period')} "
                  f"and {_plural(missing, 'missing datapoint')} "
                  f"{'was' if missing == 1 else 'were'} treated as [{kind}].")
        return Evaluation(new, reason, data)
    points = ", ".join(f"{_fmt(v)} ({s:%d/%m/%y %H:%M:%S})" for s, v in reversed(present))
    shown = breaching if new == "ALARM" else len(present) - sum(
        1 for _, v in present if compare(v, threshold))
    verb = "was" if shown == 1 else "were"
    negation = "" if new == "ALARM" else "not "
    reason = (f"Threshold Crossed: {shown} out of the last {len(present)} datapoints "
              f"[{points}] {verb} {negation}{words} the threshold ({_fmt(threshold)}) "
              f"(minimum {_plural(m if new == 'ALARM' else 1, 'datapoint')} for "
              f"{old} -> {new} transition).")
    return Evaluation(new, reason, data)


def _alarm_period(alarm: Any) -> int:
    if alarm.period:
        return int(alarm.period)
    for query in alarm.metric_data_queries:
        if query.metric_stat is not None:
            return int(query.metric_stat.period)
        if query.period:
            return int(query.period)
    raise NotEvaluable("no period")


def evaluate(backend: Any, alarm: Any, now: dt.datetime) -> Evaluation:
    """What CloudWatch would decide for ``alarm`` at ``now`` (raises NotEvaluable)."""
    if getattr(alarm, "rule", None):
        raise NotEvaluable("composite alarm")
    if alarm.extended_statistic:
        raise NotEvaluable(f"percentile statistic {alarm.extended_statistic}")
    if getattr(alarm, "threshold_metric_id", None):
        raise NotEvaluable("anomaly detection threshold")
    period = _alarm_period(alarm)
    starts = period_starts(now, period, int(alarm.evaluation_periods))
    if alarm.metric_name:
        dims = [(d.name, d.value) for d in alarm.dimensions]
        series, counts = metric_series(backend, alarm.namespace, alarm.metric_name, dims,
                                       alarm.statistic, period, starts, alarm.unit)
        return decide(alarm, starts, series, counts, now, alarm.statistic)
    operands: dict[str, Series] = {}
    result: Any = None
    for query in alarm.metric_data_queries:
        if query.metric_stat is not None:
            metric = query.metric_stat.metric
            operands[query.id], _ = metric_series(
                backend, metric.namespace, metric.metric_name,
                [(d.name, d.value) for d in metric.dimensions], query.metric_stat.stat,
                period, starts, query.metric_stat.unit)
        # ReturnData defaults to true; exactly one query of an alarm returns data.
        if query.return_data is None or str(query.return_data).lower() in ("true", "1"):
            result = query
    if result is None:
        raise NotEvaluable("no query returns data")
    series = (expression_series(result.expression, operands) if result.expression
              else operands[result.id])
    return decide(alarm, starts, series, {}, now, None)


class AlarmEvaluator:
    """Evaluates every metric alarm of the emulator's region on demand."""

    def __init__(self, region: str = "us-east-1", *, account: str = "123456789012",
                 clock: Clock = alarm_history.utcnow) -> None:
        self.region = region
        self.account = account
        self.clock = clock
        self._skipped: dict[str, str] = {}

    def backend(self) -> Any:
        from moto.cloudwatch.models import cloudwatch_backends

        return cloudwatch_backends[self.account][self.region]

    def evaluate_all(self, at: dt.datetime | None = None) -> dict[str, str]:
        """One evaluation of every alarm; returns the alarms that changed -> new state."""
        now = at or self.clock()
        when = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
        backend = self.backend()
        alarm_history.release_mutes(backend, when)  # a mute window that ended, still in state
        changed: dict[str, str] = {}
        for alarm in list(backend.alarms.values()):
            try:
                outcome = evaluate(backend, alarm, now)
            except NotEvaluable as why:
                if self._skipped.get(alarm.name) != str(why):
                    log.info("alarm %s is not evaluated on LOCAL: %s", alarm.name, why)
                    self._skipped[alarm.name] = str(why)
                continue
            if outcome.state is None:
                continue
            if alarm_history.transition(backend, alarm, outcome.state, outcome.reason,
                                        outcome.reason_data, when=when):
                changed[alarm.name] = outcome.state
                log.info("alarm %s -> %s: %s", alarm.name, outcome.state, outcome.reason)
        return changed
