"""The part of the Logs Insights query language LOCAL runs, over the events moto stores.

Exactly what garmaxctl's presets (``garmaxctl/data/log-queries.toml``) use, and nothing
more (docs/local.md, "Logs Insights"):

- ``fields f, ...`` (plain field names; several ``fields`` commands add up);
- ``filter EXPR``: ``and``/``or``/``not``, parentheses, ``= != < <= > >=`` against a
  string or a number, ``like /regex/``, ``like "substring"``, ``=~ /regex/``,
  ``ispresent(field)``;
- ``stats AGG [as name], ... [by GROUP, ...]`` with ``count()``/``count(*)``/
  ``count(field)``, ``sum``, ``avg``, ``min``, ``max``, ``pct(field, n)``, grouped by
  fields and ``bin(5m)`` (units ms, s, m, h, d, w);
- ``sort field [asc|desc]`` and ``limit n`` (before or after ``stats``).

Fields: ``@timestamp``, ``@message``, ``@logStream``, ``@log`` (``account:group``, as
Insights writes it), ``@ingestionTime``; the keys of a JSON event (Powertools lines),
nested ones joined with dots; in ``/aws/lambda/`` groups, Lambda's ``START``/``END``/
``REPORT`` lines as ``@type``, ``@requestId``, ``@duration``, ``@billedDuration``,
``@memorySize``, ``@maxMemoryUsed``, ``@initDuration`` (each only where the line has it).

Anything else raises :class:`MalformedQuery` with the character offsets of the part
that is outside the subset: the emulator answers it as ``MalformedQueryException``, as
Logs Insights answers a query it cannot compile.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_LIMIT = 10_000  # Insights returns at most 10,000 rows without a `limit`
SUPPORTED = "fields, filter, stats, sort, limit"
_OTHER_COMMANDS = {"display", "parse", "dedup", "unmask", "pattern", "diff", "anomaly",
                   "filterindex", "source", "unnest", "lookup"}
_KEYWORDS = {"and", "or", "not", "like", "as", "by", "asc", "desc", "in"}
_AGGREGATES = {"count", "sum", "avg", "min", "max", "pct"}
_BIN_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
                 "w": 604_800_000}
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<pipe>\|)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<quoted>`[^`]*`)
  | (?P<number>\d+(?:\.\d+)?[A-Za-z]*)
  | (?P<name>[@A-Za-z_][A-Za-z0-9_.@$-]*)
  | (?P<op>!=|<=|>=|=~|=|<|>|\(|\)|,|\*)
""", re.VERBOSE)
_REGEX = re.compile(r"/((?:[^/\\]|\\.)*)/")
_LAMBDA_LINE = re.compile(r"^(START|END|REPORT) RequestId: (\S+)")
_REPORT_FIELD = re.compile(r"(Init Duration|Billed Duration|Duration|Max Memory Used|"
                           r"Memory Size): ([\d.]+) (?:ms|MB)")
_REPORT_NAMES = {"Duration": "@duration", "Billed Duration": "@billedDuration",
                 "Memory Size": "@memorySize", "Max Memory Used": "@maxMemoryUsed",
                 "Init Duration": "@initDuration"}


class MalformedQuery(Exception):
    """The query is outside the subset (or not Insights at all): where and why."""

    def __init__(self, message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end


@dataclass(frozen=True)
class Token:
    kind: str  # string, regex, number, name, keyword, op, pipe
    text: str
    start: int
    end: int

    @property
    def value(self) -> Any:
        if self.kind == "string":
            return re.sub(r"\\(.)", r"\1", self.text[1:-1])
        if self.kind == "number" and re.fullmatch(r"\d+(?:\.\d+)?", self.text):
            return float(self.text) if "." in self.text else int(self.text)
        return self.text


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    at = 0
    while at < len(text):
        previous = tokens[-1] if tokens else None
        if text[at] == "/" and previous is not None and previous.text.lower() in ("like",
                                                                                  "=~"):
            match = _REGEX.match(text, at)
            if match is None:
                raise MalformedQuery("unterminated regular expression", at, len(text))
            tokens.append(Token("regex", match.group(1), at, match.end()))
            at = match.end()
            continue
        match = _TOKEN.match(text, at)
        if match is None:
            raise MalformedQuery(f"unexpected character {text[at]!r}", at, at + 1)
        kind = match.lastgroup or ""
        word = match.group()
        if kind == "quoted":
            kind, word = "name", word[1:-1]
        elif kind == "name" and word.lower() in _KEYWORDS:
            kind, word = "keyword", word.lower()
        if kind != "space":
            tokens.append(Token(kind, word, match.start(), match.end()))
        at = match.end()
    return tokens


# --------------------------------------------------------------------------- the parse

Expr = tuple[Any, ...]


@dataclass(frozen=True)
class Aggregate:
    function: str
    field: str | None  # None: count() / count(*)
    name: str
    percentile: float | None = None


@dataclass(frozen=True)
class Group:
    name: str
    field: str | None = None  # a field, or None for bin()
    bin_ms: int = 0


@dataclass
class Query:
    fields: list[str] = field(default_factory=list)
    filters: list[Expr] = field(default_factory=list)
    aggregates: list[Aggregate] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    sort: tuple[str, bool] | None = None  # before stats: over events
    limit: int | None = None
    after_sort: tuple[str, bool] | None = None  # after stats: over its rows
    stats: bool = False


class _Parser:
    def __init__(self, tokens: Sequence[Token], text: str) -> None:
        self.tokens = list(tokens)
        self.at = 0
        self.text = text

    def peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            end = len(self.text)
            raise MalformedQuery("unexpected end of the command", end, end)
        self.at += 1
        return token

    def expect(self, text: str) -> Token:
        token = self.take()
        if token.text != text:
            raise MalformedQuery(f"expected {text!r}, found {token.text!r}", token.start,
                                 token.end)
        return token

    def accept(self, text: str) -> bool:
        token = self.peek()
        if token is not None and token.text == text and token.kind != "string":
            self.at += 1
            return True
        return False

    def field_name(self) -> str:
        token = self.take()
        if token.kind != "name":
            raise MalformedQuery(f"expected a field name, found {token.text!r}", token.start,
                                 token.end)
        if self.peek() is not None and self.peek().text == "(":  # type: ignore[union-attr]
            raise MalformedQuery(f"function {token.text}() is not in LOCAL's subset",
                                 token.start, token.end)
        return token.text

    def done(self) -> None:
        token = self.peek()
        if token is not None:
            raise MalformedQuery(f"unexpected {token.text!r}", token.start, token.end)

    # expressions ---------------------------------------------------------------

    def expression(self) -> Expr:
        left = self.conjunction()
        while self.accept("or"):
            left = ("or", left, self.conjunction())
        return left

    def conjunction(self) -> Expr:
        left = self.unary()
        while self.accept("and"):
            left = ("and", left, self.unary())
        return left

    def unary(self) -> Expr:
        if self.accept("not"):
            return ("not", self.unary())
        if self.accept("("):
            inner = self.expression()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Expr:
        token = self.take()
        if token.kind != "name":
            raise MalformedQuery(f"expected a field, found {token.text!r}", token.start,
                                 token.end)
        if self.accept("("):
            if token.text.lower() != "ispresent":
                raise MalformedQuery(f"function {token.text}() is not in LOCAL's subset",
                                     token.start, token.end)
            name = self.field_name()
            self.expect(")")
            return ("present", name)
        negate = self.accept("not")
        operator = self.take()
        if operator.text in ("like", "=~"):
            pattern = self.take()
            if pattern.kind == "regex":
                try:
                    compiled = re.compile(pattern.text)
                except re.error as exc:
                    raise MalformedQuery(f"bad regular expression: {exc}", pattern.start,
                                         pattern.end) from None
                return ("regex", token.text, compiled, negate)
            if pattern.kind == "string" and operator.text == "like":
                return ("contains", token.text, pattern.value, negate)
            raise MalformedQuery("expected /regex/ or a string", pattern.start, pattern.end)
        if negate or operator.text not in ("=", "!=", "<", "<=", ">", ">="):
            raise MalformedQuery(f"operator {operator.text!r} is not in LOCAL's subset",
                                 operator.start, operator.end)
        literal = self.take()
        if literal.kind not in ("string", "number") or (isinstance(literal.value, str) \
                and literal.kind == "number"):
            raise MalformedQuery("expected a string or a number", literal.start, literal.end)
        return ("cmp", operator.text, token.text, literal.value)

    # stats ---------------------------------------------------------------------

    def aggregate(self) -> Aggregate:
        token = self.take()
        function = token.text.lower()
        if token.kind != "name" or function not in _AGGREGATES:
            raise MalformedQuery(f"{token.text!r} is not an aggregate in LOCAL's subset "
                                 f"({', '.join(sorted(_AGGREGATES))})", token.start, token.end)
        self.expect("(")
        name_field: str | None = None
        percentile: float | None = None
        if self.accept("*"):
            if function != "count":
                raise MalformedQuery(f"{function}(*) is not valid", token.start, token.end)
        elif self.peek() is not None and self.peek().text != ")":  # type: ignore[union-attr]
            name_field = self.field_name()
        if function == "pct":
            self.expect(",")
            number = self.take()
            if number.kind != "number" or not 0 <= float(number.value) <= 100:
                raise MalformedQuery("pct() takes a percentile from 0 to 100", number.start,
                                     number.end)
            percentile = float(number.value)
        self.expect(")")
        if function != "count" and name_field is None:
            raise MalformedQuery(f"{function}() needs a field", token.start, token.end)
        text = self.text[token.start:self.tokens[self.at - 1].end]
        name = self.alias() or re.sub(r"\s+", " ", text)
        return Aggregate(function, name_field, name, percentile)

    def group(self) -> Group:
        token = self.take()
        if token.kind == "name" and token.text.lower() == "bin" and self.accept("("):
            period = self.take()
            match = re.fullmatch(r"(\d+)([a-z]+)", period.text) if period.kind == "number" \
                else None
            if match is None or match.group(2) not in _BIN_UNITS_MS or int(match.group(1)) < 1:
                raise MalformedQuery("bin() takes a period such as 5m, 1h, 1d (units ms, s, "
                                     "m, h, d, w)", period.start, period.end)
            self.expect(")")
            text = self.text[token.start:self.tokens[self.at - 1].end]
            return Group(self.alias() or text,
                         bin_ms=int(match.group(1)) * _BIN_UNITS_MS[match.group(2)])
        self.at -= 1
        name = self.field_name()
        return Group(self.alias() or name, field=name)

    def alias(self) -> str | None:
        if self.accept("as"):
            return self.field_name()
        return None

    def sort_key(self) -> tuple[str, bool]:
        name = self.field_name()
        descending = False
        if self.accept("desc"):
            descending = True
        else:
            self.accept("asc")
        return name, descending


def _commands(tokens: list[Token]) -> Iterable[list[Token]]:
    command: list[Token] = []
    for token in tokens:
        if token.kind == "pipe":
            if not command:
                raise MalformedQuery("empty command", token.start, token.end)
            yield command
            command = []
        else:
            command.append(token)
    if command:
        yield command
    elif tokens:
        raise MalformedQuery("the query ends with |", tokens[-1].start, tokens[-1].end)


def parse(text: str) -> Query:
    """The query, or :class:`MalformedQuery` for anything outside the subset."""
    tokens = tokenize(text)
    if not tokens:
        raise MalformedQuery("the query is empty", 0, len(text))
    query = Query()
    for command in _commands(tokens):
        head = command[0]
        verb = head.text.lower()
        parser = _Parser(command[1:], text)
        if head.kind not in ("name", "keyword") or verb not in ("fields", "filter", "stats",
                                                                  "sort", "limit"):
            known = verb in _OTHER_COMMANDS
            raise MalformedQuery(
                f"`{head.text}` is {'not in' if known else 'not a command of'} LOCAL's Logs "
                f"Insights subset ({SUPPORTED}; docs/local.md)", head.start, head.end)
        if verb == "fields":
            if query.stats:
                raise MalformedQuery("fields after stats is not in LOCAL's subset",
                                     head.start, head.end)
            query.fields.append(parser.field_name())
            while parser.accept(","):
                query.fields.append(parser.field_name())
        elif verb == "filter":
            if query.stats:
                raise MalformedQuery("filter after stats is not in LOCAL's subset",
                                     head.start, head.end)
            query.filters.append(parser.expression())
        elif verb == "stats":
            if query.stats:
                raise MalformedQuery("a second stats is not in LOCAL's subset", head.start,
                                     head.end)
            query.stats = True
            query.aggregates.append(parser.aggregate())
            while parser.accept(","):
                query.aggregates.append(parser.aggregate())
            if parser.accept("by"):
                query.groups.append(parser.group())
                while parser.accept(","):
                    query.groups.append(parser.group())
        elif verb == "sort":
            key = parser.sort_key()
            if query.stats:
                query.after_sort = key
            else:
                query.sort = key
        else:
            number = parser.take()
            if number.kind != "number" or not isinstance(number.value, int) \
                    or not 1 <= number.value <= DEFAULT_LIMIT:
                raise MalformedQuery(f"limit takes a whole number from 1 to {DEFAULT_LIMIT}",
                                     number.start, number.end)
            query.limit = number.value
        parser.done()
    return query


# --------------------------------------------------------------------------- the records

def _flatten(value: Any, prefix: str, into: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(inner, f"{prefix}.{key}" if prefix else str(key), into)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _flatten(inner, f"{prefix}.{index}", into)
    elif value is not None and prefix:
        into[prefix] = value


def record(group: str, account: str, stream: str, timestamp: int, message: str,
           ingestion_time: int, pointer: str) -> dict[str, Any]:
    """One event with the fields Insights discovers in it."""
    fields: dict[str, Any] = {}
    text = message.strip()
    if text.startswith("{"):
        with contextlib.suppress(ValueError):
            _flatten(json.loads(text), "", fields)
    if group.startswith("/aws/lambda/"):
        line = _LAMBDA_LINE.match(message)
        if line:
            fields["@type"], fields["@requestId"] = line.group(1), line.group(2)
            for name, number in _REPORT_FIELD.findall(message):
                fields[_REPORT_NAMES[name]] = float(number) if "." in number else int(number)
    fields.update({"@timestamp": timestamp, "@message": message, "@logStream": stream,
                   "@log": f"{account}:{group}", "@ingestionTime": ingestion_time,
                   "@ptr": pointer})
    return fields


# --------------------------------------------------------------------------- running it

def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _compare(operator: str, value: Any, literal: Any) -> bool:
    left, right = _number(value), _number(literal)
    pair: tuple[Any, Any] = (left, right) if left is not None and right is not None \
        and not isinstance(literal, str) else (_text(value), _text(literal))
    a, b = pair
    return {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b,
            ">=": a >= b}[operator]


def matches(expr: Expr, fields: dict[str, Any]) -> bool:
    kind = expr[0]
    if kind == "or":
        return matches(expr[1], fields) or matches(expr[2], fields)
    if kind == "and":
        return matches(expr[1], fields) and matches(expr[2], fields)
    if kind == "not":
        return not matches(expr[1], fields)
    if kind == "present":
        return expr[1] in fields
    if kind == "regex":
        value = fields.get(expr[1])
        found = value is not None and expr[2].search(_text(value)) is not None
        return found != expr[3]
    if kind == "contains":
        value = fields.get(expr[1])
        found = value is not None and expr[2] in _text(value)
        return found != expr[3]
    value = fields.get(expr[2])
    return value is not None and _compare(expr[1], value, expr[3])


def _sort_key(name: str) -> Callable[[dict[str, Any]], tuple[int, float, str]]:
    def key(fields: dict[str, Any]) -> tuple[int, float, str]:
        value = fields.get(name)
        if value is None:
            return (2, 0.0, "")
        number = _number(value)
        return (0, number, "") if number is not None else (1, 0.0, _text(value))

    return key


def _sorted(rows: list[dict[str, Any]], key: tuple[str, bool]) -> list[dict[str, Any]]:
    name, descending = key
    present = [r for r in rows if name in r]
    missing = [r for r in rows if name not in r]  # missing values last either way
    return sorted(present, key=_sort_key(name), reverse=descending) + missing


def timestamp_text(ms: int) -> str:
    """Insights' timestamp format: ``2025-06-15 12:05:03.123`` (UTC)."""
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def value_text(name: str, value: Any) -> str:
    if name in ("@timestamp", "@ingestionTime") and isinstance(value, int):
        return timestamp_text(value)
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return str(int(value))
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return _text(value)


def _percentile(values: list[float], percentile: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(percentile / 100 * len(ordered)))  # nearest rank
    return ordered[rank - 1]


def _aggregate(aggregate: Aggregate, rows: list[dict[str, Any]]) -> Any:
    if aggregate.function == "count":
        if aggregate.field is None:
            return len(rows)
        return sum(1 for r in rows if aggregate.field in r)
    values = [n for r in rows
              if (n := _number(r.get(aggregate.field))) is not None]  # type: ignore[arg-type]
    if not values:
        return None
    if aggregate.function == "sum":
        return sum(values)
    if aggregate.function == "avg":
        return sum(values) / len(values)
    if aggregate.function == "min":
        return min(values)
    if aggregate.function == "max":
        return max(values)
    return _percentile(values, aggregate.percentile or 0.0)


def _stats(query: Query, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    buckets: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        key: list[Any] = []
        for group in query.groups:
            if group.field is None:
                key.append(row["@timestamp"] // group.bin_ms * group.bin_ms)
            else:
                key.append(row.get(group.field))
        buckets.setdefault(tuple(key), []).append(row)
    if not query.groups and not buckets:
        buckets[()] = []  # stats without `by` answers one row, even over nothing
    out: list[dict[str, Any]] = []
    def order(item: tuple[tuple[Any, ...], Any]) -> list[str]:
        return [f"{k:020d}" if isinstance(k, int) else _text(k) for k in item[0]]

    for bucket, members in sorted(buckets.items(), key=order):
        result: dict[str, Any] = {}
        for group, value in zip(query.groups, bucket, strict=True):
            if value is not None:
                result[group.name] = timestamp_text(value) if group.field is None else value
        for aggregate in query.aggregates:
            value = _aggregate(aggregate, members)
            if value is not None:
                result[aggregate.name] = value
        out.append(result)
    return out


@dataclass
class Outcome:
    rows: list[list[dict[str, str]]]  # GetQueryResults' results: [[{field, value}]]
    records_matched: int
    records_scanned: int
    bytes_scanned: int


def run(query: Query, events: Iterable[dict[str, Any]]) -> Outcome:
    """Run a parsed query over records (from :func:`record`) within its time range."""
    scanned = matched = size = 0
    kept: list[dict[str, Any]] = []
    for fields in events:
        scanned += 1
        size += len(fields["@message"].encode())
        if all(matches(f, fields) for f in query.filters):
            matched += 1
            kept.append(fields)
    if query.stats:
        rows = _stats(query, kept)
        if query.after_sort is not None:
            rows = _sorted(rows, query.after_sort)
        names: list[str] | None = None
    else:
        rows = _sorted(kept, query.sort) if query.sort is not None else kept
        names = [*(query.fields or ["@timestamp", "@message"]), "@ptr"]
    rows = rows[:query.limit or DEFAULT_LIMIT]
    results = []
    for row in rows:
        keys = names if names is not None else list(row)
        results.append([{"field": k, "value": value_text(k, row[k])}
                        for k in dict.fromkeys(keys) if k in row])
    return Outcome(results, matched, scanned, size)
