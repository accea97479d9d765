from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from garmaxctl.app import app


class Run:
    """``CliRunner`` around the real app, with stdout and stderr kept apart."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def __call__(self, *args: str, env: dict[str, str] | None = None,
                 input: str | None = None) -> Any:
        runner = CliRunner()
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(self.cwd)
            return runner.invoke(app, list(args), env=env, input=input,
                                 catch_exceptions=False)

    def json(self, *args: str, **kwargs: Any) -> tuple[Any, dict]:
        result = self(*args, "-o", "json", **kwargs)
        return result, json.loads(result.stdout)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A working directory with no .env."""
    return tmp_path


@pytest.fixture
def cli(project: Path) -> Run:
    return Run(project)


@pytest.fixture
def write_env(project: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = ".env") -> Path:
        path = project / name
        path.write_text(text)
        return path

    return write


ENVELOPE_KEYS = {"schema", "ok", "exit_code", "command", "stage", "data"}


def assert_envelope(document: dict, *, exit_code: int, command: str) -> None:
    assert set(document) >= ENVELOPE_KEYS
    assert document["schema"] == 1
    assert document["exit_code"] == exit_code
    assert document["ok"] is (exit_code == 0)
    assert document["command"] == command
    if exit_code:
        assert set(document["error"]) == {"code", "message"}
        assert "\n" not in document["error"]["message"]


def render_outcome(outcome: Any, width: int = 80) -> str:
    """An Outcome's tables and lines as a terminal of ``width`` columns shows them (no
    colour): what the 80-column checks of a command's own tests read."""
    import io

    from rich.console import Console

    from garmaxctl import output

    console = Console(width=width, file=io.StringIO(), color_system=None)
    for table in outcome.tables:
        console.print(output.render_table(table))
    for line in outcome.lines:
        console.print(line, markup=False, highlight=False)
    return console.file.getvalue()


def assert_reads_at_80(outcome: Any) -> str:
    """No line past 80 columns and every word of every cell whole; the rendered text."""
    text = render_outcome(outcome)
    assert max(len(line) for line in text.splitlines()) <= 80, text
    words = {w for t in outcome.tables for row in t.rows for cell in row
             for w in str(cell).split()}
    broken = sorted(w for w in words if w not in text.split())
    assert not broken, (broken, text)
    return text
