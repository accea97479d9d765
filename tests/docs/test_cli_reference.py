"""docs/cli.md is generated from the command tree (`make docs`, scripts/cli_docs.py): current,
complete, independent of the terminal, and every example in it is a real command line."""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest

from garmaxctl import registry
from tests.conftest import load_script
from tests.docs import commands

REPO = commands.REPO


def _generator() -> Any:
    return load_script("cli_docs")


@pytest.fixture(scope="module")
def generated() -> str:
    return str(_generator().render())


def test_docs_cli_md_is_the_generated_one(generated: str) -> None:
    """A changed command, option, help text, example or permission without `make docs`
    fails here."""
    current = (REPO / "docs" / "cli.md").read_text()
    assert current == generated, "docs/cli.md is stale: run `make docs` and commit it"


def test_the_reference_does_not_depend_on_the_terminal(
        generated: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert _generator().render() == generated
    assert "\x1b[" not in generated


def test_every_visible_command_has_a_section_and_the_rest_do_not(generated: str) -> None:
    headings = re.findall(r"^#{2,3} `garmaxctl ([^`]+)`$", generated, re.M)
    expected = [e.path for e in registry.REGISTRY if not e.hidden and not e.alias]
    assert headings == expected  # registry order, groups as sections, no alias section
    for alias in (e for e in registry.REGISTRY if e.alias):
        assert f"Alias: `garmaxctl {alias.path}`." in generated


def test_every_command_shows_its_options_from_the_code(generated: str) -> None:
    section = generated.split("### `garmaxctl cost report`")[1].split("\n### ")[0]
    assert "| `--max-api-spend` | USD | 0.05 | Refuse a run whose requests cost more. |" \
        in section
    assert "- ActionsWithoutResourceLevelPermissions: `ce:GetCostAndUsage`, " \
           "`ce:GetCostForecast`" in section
    assert "$0.01 per request. A run makes 2 requests" in section
    top = generated.split("## Global options")[1].split("\n## ")[0]
    assert "| `-s, --stage` | str | LOCAL | LOCAL, DEV, QA or PROD (any case). " \
           "(env: `GARMAX_STAGE`) |" in top


def test_a_run_costs_only_where_it_calls_a_billed_api(generated: str) -> None:
    costs = {path for path in re.findall(r"^#{2,3} `garmaxctl ([^`]+)`$", generated, re.M)
             if "What one run costs:" in generated.split(f"`garmaxctl {path}`\n")[1]
             .split("\n## ")[0].split("\n### ")[0]}
    assert costs == {"cost report", "cost forecast", "logs tail", "logs query",
                     "logs errors"}
    assert "$0.005 per GB of log data scanned" in generated


@pytest.mark.parametrize("entry", [e for e in registry.commands() if not e.alias],
                         ids=lambda e: e.path)
def test_every_command_has_an_example_of_itself_that_exists(entry: registry.Entry) -> None:
    words = tuple(shlex.split(entry.example))
    assert words, f"{entry.path}: no example= in garmaxctl/registry.py"
    ctx, problems = commands.walk(words)
    assert problems == [], f"{entry.path}: example {entry.example!r}: {problems}"
    assert ctx.command_path == f"garmaxctl {entry.path}", \
        f"{entry.path}: the example {entry.example!r} runs `{ctx.command_path}`"
