"""One result model for every check garmaxctl runs: doctor's, health's, verify's rows,
smoke's steps and idle's checks are all :class:`CheckResult` with one :class:`Status`.

Each command keeps the words it has always shown (``verify`` and ``smoke`` say ``pass``
where the others say ``ok``) and its JSON layout: :func:`view` turns results into a
command's rows, with the fields it names and its words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    IDLE = "idle"  # not running on purpose: the stage is idle
    SKIPPED = "skipped"


# The spelling of verify's checklist and smoke's steps: a passed item is "pass".
PASS_WORDS: Mapping[Status, str] = {Status.OK: "pass"}


@dataclass
class CheckResult:
    name: str
    status: Status
    detail: str = ""
    fix: str = ""  # what to do about it (doctor, verify)
    latency_ms: float | None = None
    group: str = ""  # health's group, verify's section
    data: dict[str, Any] = field(default_factory=dict)

    def word(self, words: Mapping[Status, str] | None = None) -> str:
        """The status as the command spells it."""
        return (words or {}).get(self.status, self.status.value)


def view(results: Iterable[CheckResult], fields: Sequence[str],
         words: Mapping[Status, str] | None = None) -> list[dict[str, Any]]:
    """Results as a command's JSON rows: ``fields`` in order (``"item=name"`` names a
    field as the command always has), the status spelled with ``words``."""
    rows = []
    for result in results:
        row: dict[str, Any] = {}
        for spec in fields:
            key, _, attr = spec.partition("=")
            attr = attr or key
            row[key] = result.word(words) if attr == "status" else getattr(result, attr)
        rows.append(row)
    return rows


def count(results: Iterable[CheckResult],
          words: Mapping[Status, str] | None = None,
          statuses: Sequence[Status] = tuple(Status)) -> dict[str, int]:
    """How many results have each status (keys spelled with ``words``)."""
    counts = {(words or {}).get(s, s.value): 0 for s in statuses}
    for result in results:
        key = result.word(words)
        counts[key] = counts.get(key, 0) + 1
    return counts
