"""How many examples each fuzz family runs, and the figures it keeps.

``make test`` runs the bounded figures (hypothesis profile "ci"); ``make fuzz`` sets
``GARMAX_FUZZ=1`` (profile "fuzz") and runs the long ones, with the tests marked ``fuzz``.
Every example adds to a :class:`Tally`; ``tests/fuzz/conftest.py`` prints one summary line
per family at the end of the session (and writes them to ``GARMAX_FUZZ_FIGURES`` if set).
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import settings

LONG = os.environ.get("GARMAX_FUZZ") == "1"

# family -> (bounded, long)
EXAMPLES: dict[str, tuple[int, int]] = {
    "argv": (60, 2000),
    "env": (20, 500),
    "idle faults": (6, 240),  # ~15% of the runs' drawn call numbers fall past the run's end
    "params faults": (8, 60),
    "other faults": (8, 60),
}


def examples(family: str) -> int:
    bounded, long = EXAMPLES[family]
    return long if LONG else bounded


def family_settings(family: str) -> Any:
    """The active profile with this family's number of examples."""
    return settings(settings.default, max_examples=examples(family))


STANDARD = ("examples", "tracebacks", "lost_writes", "inexact_restores", "findings")


@dataclass
class Tally:
    """Examples run and what went wrong, per family (a finding also fails its test)."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, family: str, **figures: int) -> None:
        with self.lock:
            counter = self.counts.setdefault(family, Counter(dict.fromkeys(STANDARD, 0)))
            counter.update(figures)

    def lines(self) -> list[str]:
        """One line per family: the standard figures first, then the family's own."""
        out = []
        for family, counter in sorted(self.counts.items()):
            parts = [f"{counter['examples']} examples"]
            parts += [f"{name.replace('_', ' ')} {counter[name]}" for name in STANDARD[1:]]
            parts += [f"{name.replace('_', ' ')} {counter[name]}" for name in sorted(counter)
                      if name not in STANDARD]
            out.append(f"fuzz {family}: " + ", ".join(parts))
        return out


TALLY = Tally()
