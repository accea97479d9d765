"""tests/fuzz: the figures of each family, printed at the end of the session."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz.budget import LONG, TALLY


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/fuzz/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.fuzz)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = TALLY.lines()
    if not lines:
        return
    terminalreporter.section("fuzz figures" + (" (GARMAX_FUZZ=1)" if LONG else " (bounded)"))
    for line in lines:
        terminalreporter.write_line(line)
    target = os.environ.get("GARMAX_FUZZ_FIGURES")
    if target:
        Path(target).write_text(json.dumps({f: dict(c) for f, c in TALLY.counts.items()},
                                           indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def fuzz_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where each example's sandbox is made (one folder per example, removed after it)."""
    yield tmp_path_factory.mktemp("fuzz")
