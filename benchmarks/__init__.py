"""Benchmarks: ``make bench`` (``python -m benchmarks``) runs every ``bench_*`` module here.

Each module has ``run() -> BenchResult``; the runner prints its figures and ratios. Timings
live here, never in tests (house style).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Figure:
    label: str
    seconds: float  # the median of the runs
    runs: list[float] = field(default_factory=list)
    note: str = ""


@dataclass
class BenchResult:
    title: str
    figures: list[Figure] = field(default_factory=list)
    ratios: list[tuple[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def measure(label: str, action: Callable[[], object], *, repeat: int = 3,
            before: Callable[[], object] | None = None, note: str = "") -> Figure:
    """Median wall time of ``action`` over ``repeat`` runs (``before`` is not timed)."""
    runs: list[float] = []
    for _ in range(repeat):
        if before is not None:
            before()
        started = time.perf_counter()
        action()
        runs.append(time.perf_counter() - started)
    return Figure(label=label, seconds=statistics.median(runs), runs=runs, note=note)
