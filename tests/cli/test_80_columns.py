"""Every command's tables read at an 80-column terminal: no word or resource name broken
mid-word, cut off, or past column 80 (issue 12, acceptance 6).

Each case runs the real command in-process (``CliRunner``, table mode) with ``COLUMNS=80``
(``output.stdout_console`` lays tables out at ``COLUMNS`` when stdout is not a terminal),
on realistic data: a DEV stage on moto (the golden documents' setups,
tests/cli/test_golden_documents.py), Cost Explorer answered as AWS does
(tests/cost/conftest.py), or the deployed LOCAL stack (``local_stack``, slow). Every
``output.Table`` the command renders is recorded on its way to the real
``output.render_table``; the check then takes each cell as the table shows it
(``output.cell_text``), splits it into whitespace-separated tokens, and asserts that every
token of :data:`MIN_TOKEN` characters or more appears **whole on one line** of the output
(delimited by whitespace) at least as many times as the tables hold it. A name folded over
two lines, cut with "…", or pushed past column 80 fails, naming the token.

To add a command: one ``Case`` in :data:`CASES` (argv, and a setup that puts realistic
data in place; ``local=True`` for the deployed LOCAL stack).
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from garmaxctl import output
from tests.cli.conftest import Run
from tests.cli.test_golden_documents import (
    MOTO_ACCOUNT,
    World,
    doctor_dev,
    doctor_local,
    health_stage,
    health_unhealthy,
    idle_stage,
    idle_stage_down,
    invalid_env,
    local_no_emulator,
    params_pushed,
    params_stage,
    small_stack,
    valid_env,
)
from tests.cost.conftest import FakeCostExplorer, Item, add_ledger_table, month_of_items
from tests.health.conftest import fake_api  # noqa: F401

WIDTH = 80
MIN_TOKEN = 3  # shorter tokens ("ok", "-", "2") match anywhere: not evidence either way

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")


# --------------------------------------------------------------------------- setups

def cost_explorer(world: World) -> FakeCostExplorer:
    """A month of the stage's and the account's line items, answered as Cost Explorer
    does (tests/cost/conftest.py), with a long service and usage type name."""
    import datetime as dt

    from garmaxctl import aws

    fake = FakeCostExplorer(page_size=1000)
    fake.items = month_of_items(dt.date(2025, 5, 1), 31)
    fake.items.append(Item(dt.date(2025, 5, 3), "Amazon Elastic Compute Cloud - Compute",
                           "USE1-DataTransfer-Regional-Bytes", "12.5"))
    fake.estimated_from = dt.date(2025, 5, 10)
    wire = aws.log_the_wire
    world.monkeypatch.setattr(aws, "log_the_wire", lambda session: fake.install(wire(session)))
    return fake


def budget_spend(world: World) -> None:
    """The DEV stage with spend in the ledger and a user's quota in use."""
    import datetime as dt

    from garmaxctl.shared import contract
    from garmaxctl.shared.stages import get_stage_config
    from runtime.domain.budget import reserve_spend

    stage = world.request.getfixturevalue("fake_api")
    from tests.health.conftest import build_dev_stage

    dev = build_dev_stage(stage)
    add_ledger_table(dev)
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    for provider, usd in (("gemini", 2.34), ("replicate", 31.5)):
        reserve_spend(dev.client("dynamodb"), "BudgetLedger-DEV", "DEV", day, provider, usd,
                      get_stage_config("DEV").budgets)
    dev.client("dynamodb").put_item(
        TableName=dev.outputs[contract.OutputKey.QUOTAS_TABLE],
        Item={"pk": {"S": f"TRYON#user-0123456789abcdef0123456789abcdef#{day}"},
              "used": {"N": "3"}})


def doctor_permissions(world: World) -> None:
    """An IAM Identity Center role that may read but not change the stage (IAM's policy
    simulator answered as AWS does, tests/iam/fake_iam.py)."""
    from tests.iam.fake_iam import SSO_ROLE, SSO_ROLE_ARN, FakeIam, install

    writes = ("Put", "Delete", "Update", "Register", "Start", "Stop", "Set", "Enable",
              "Disable", "Restore", "Create")
    install(world.monkeypatch, FakeIam(
        caller=f"arn:aws:sts::{MOTO_ACCOUNT}:assumed-role/{SSO_ROLE}/alice@example.com",
        roles={SSO_ROLE: SSO_ROLE_ARN},
        decide=lambda action, resource: "implicitDeny"
        if action.split(":")[1].startswith(writes) else "allowed"))


def idle_up_after_down(world: World) -> None:
    idle_stage_down(world)


# --------------------------------------------------------------------------- cases

@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]
    setup: Callable[[World], Any] | None = None
    aws: bool = False  # inside mock_aws, DEV/QA/PROD accounts = moto's
    local: bool = False  # against the deployed LOCAL stack (the `local_stack` fixture)


CASES = [
    Case("doctor_local", ("doctor",), doctor_local),
    Case("doctor_dev", ("-s", "dev", "doctor"), doctor_dev, aws=True),
    Case("doctor_permissions", ("-s", "dev", "doctor", "--permissions"), doctor_permissions,
         aws=True),
    Case("config_show", ("config", "show"), valid_env),
    Case("config_validate_invalid", ("config", "validate"), invalid_env),
    Case("params_plan", ("-s", "dev", "params", "plan"), params_stage, aws=True),
    Case("params_push_dry_run", ("-s", "dev", "params", "push", "--dry-run"), params_stage,
         aws=True),
    Case("params_push", ("-s", "dev", "params", "push"), params_stage, aws=True),
    Case("params_list", ("-s", "dev", "params", "list"), params_pushed, aws=True),
    Case("params_history_secret", ("-s", "dev", "params", "history", "JWT_SECRET"),
         params_pushed, aws=True),
    Case("params_history_string", ("-s", "dev", "params", "history", "DAILY_BUDGET_USD"),
         params_pushed, aws=True),
    Case("idle_status", ("-s", "dev", "idle", "status"), idle_stage, aws=True),
    Case("idle_status_while_idle", ("-s", "dev", "idle", "status"), idle_stage_down,
         aws=True),
    Case("idle_down_dry_run", ("-s", "dev", "idle", "down", "--dry-run"), idle_stage,
         aws=True),
    Case("idle_down", ("-s", "dev", "idle", "down"), idle_stage, aws=True),
    Case("idle_up", ("-s", "dev", "idle", "up"), idle_up_after_down, aws=True),
    Case("health", ("-s", "dev", "health"), health_stage, aws=True),
    Case("health_unhealthy", ("-s", "dev", "health"), health_unhealthy, aws=True),
    Case("verify", ("-s", "dev", "verify"), health_stage, aws=True),
    Case("status", ("-s", "dev", "status"), health_stage, aws=True),
    Case("status_all_stages", ("status", "--all-stages"), health_stage, aws=True),
    Case("outputs", ("-s", "dev", "outputs"), small_stack, aws=True),
    Case("local_status_no_emulator", ("local", "status"), local_no_emulator),
    Case("cost_report", ("-s", "dev", "cost", "report", "--from", "2025-05-01", "--until",
                         "2025-05-15"), cost_explorer, aws=True),
    Case("cost_report_by_usage_type", ("-s", "dev", "cost", "report", "--by", "usage-type",
                                       "--from", "2025-05-01", "--until", "2025-05-15"),
         cost_explorer, aws=True),
    Case("cost_forecast", ("-s", "dev", "cost", "forecast"), cost_explorer, aws=True),
    Case("budget_status", ("-s", "dev", "budget", "status"), budget_spend, aws=True),
    # The deployed LOCAL stack (slow: one stack for the session).
    Case("local_idle_status", ("idle", "status"), local=True),
    Case("local_verify", ("verify",), local=True),
    Case("local_health", ("health",), local=True),
    Case("local_status", ("status",), local=True),
    Case("local_smoke", ("smoke",), local=True),
    Case("local_outputs", ("outputs",), local=True),
    Case("local_local_status", ("local", "status"), local=True),
    Case("local_alarms_list", ("alarms", "list"), local=True),
    Case("local_alarms_show", ("alarms", "show", "LambdaErrors"), local=True),
    Case("local_alarms_history", ("alarms", "history", "--since", "1d"), local=True),
    Case("local_logs_errors", ("logs", "errors", "--since", "1h"), local=True),
    Case("local_logs_query_slowest", ("logs", "query", "--preset", "slowest", "--since", "1h"),
         local=True),
    Case("logs_query_list", ("logs", "query", "--list")),
]


# --------------------------------------------------------------------------- the check

def tokens_of(tables: list[output.Table]) -> Counter[str]:
    """Every whitespace-separated token of every header and cell, as the table shows it,
    with how many times the tables hold it."""
    counts: Counter[str] = Counter()
    for table in tables:
        for text in [*table.columns, *(output.cell_text(v) for row in table.rows for v in row)]:
            counts.update(t for t in str(text).split() if len(t) >= MIN_TOKEN)
    return counts


def broken_tokens(text: str, tables: list[output.Table], width: int = WIDTH) -> list[str]:
    """What does not read at ``width`` columns: lines past it, and tokens of the tables not
    found whole on one line as many times as the tables hold them."""
    from rich.cells import cell_len

    lines = text.splitlines()
    tokens = tokens_of(tables)
    # Past the width only a word wider than any line may go (of a table, or of the lines
    # after it: an ARN), alone on its line (whole: the terminal wraps it softly, so it
    # still copies as one word).
    problems = [f"line {n} is {cell_len(line)} columns: {line!r}"
                for n, line in enumerate(lines, 1) if cell_len(line) > width
                and not (len(line.split()) == 1 and cell_len(line.strip()) > width - 6)]
    for token, needed in sorted(tokens.items()):
        whole = re.compile(r"(?<!\S)" + re.escape(token) + r"(?!\S)")
        found = sum(len(whole.findall(line)) for line in lines)
        if found < needed:
            problems.append(f"{token!r}: {needed} in the tables, {found} whole in the output")
    return problems


def test_the_check_sees_a_folded_name_and_a_cut_one() -> None:
    table = output.Table(columns=("resource", "note"),
                         rows=[("GarmaxAi-TryonProcessor-DEV", "reserved concurrency 0")])
    head = "resource note\n"
    whole = head + "GarmaxAi-TryonProcessor-DEV  reserved concurrency 0"
    assert broken_tokens(whole, [table]) == []
    folded = head + "GarmaxAi-TryonProc  reserved\nessor-DEV          concurrency 0"
    assert broken_tokens(folded, [table]) == [
        "'GarmaxAi-TryonProcessor-DEV': 1 in the tables, 0 whole in the output"]
    assert broken_tokens(head + "GarmaxAi-TryonProcesso…  reserved concurrency 0", [table])
    # One word wider than the screen, alone on its line, is left whole for the terminal.
    assert broken_tokens("x" * 81 + "\n" + whole, [table]) == []
    twice = output.Table(columns=("resource", "note"), rows=[("GarmaxAi-Api-DEV", "x")] * 2)
    assert broken_tokens(head + "GarmaxAi-Api-DEV x\nGarmaxAi-Api-\nDEV x", [twice])
    assert broken_tokens("x" * 81 + " y\n" + whole, [table])  # past 80: one long word only


def test_a_word_wider_than_the_screen_is_printed_whole_on_its_own_line() -> None:
    import io

    from rich.console import Console

    url = "https://sqs.us-east-1.amazonaws.com/123456789012/" + "GarmaxAiStack-LOCAL-" * 3
    table = output.Table(columns=("output", "value"),
                         rows=[("TryonQueueUrl", url), ("ApiId", "3leu6nippq")])
    console = Console(width=WIDTH, file=io.StringIO(), color_system=None)
    console.print(output.render_table(table), crop=False)
    text = console.file.getvalue()
    assert url in text.splitlines() and broken_tokens(text, [table]) == []


# --------------------------------------------------------------------------- running


@contextlib.contextmanager
def _stage(case: Case, world: World) -> Iterator[None]:
    if case.local:
        world.request.getfixturevalue("local_stack").use(world.monkeypatch)
        yield
        return
    if not case.aws:
        yield
        return
    from moto import mock_aws

    from tests.idle.conftest import quiet_moto

    quiet_moto()
    for stage in ("DEV", "QA", "PROD"):
        world.monkeypatch.setenv(f"GARMAX_{stage}_ACCOUNT", MOTO_ACCOUNT)
    with mock_aws():
        yield


def render_at(case: Case, world: World, width: int = WIDTH) -> tuple[str, list[output.Table]]:
    """The command's table output at ``width`` columns and the tables it rendered."""
    tables: list[output.Table] = []
    real = output.render_table

    def recording(table: output.Table) -> Any:
        tables.append(table)
        return real(table)

    with _stage(case, world):
        if case.setup is not None:
            case.setup(world)
        world.monkeypatch.setattr(output, "render_table", recording)
        result = world.cli(*case.argv, env={"COLUMNS": str(width)})
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result.stdout, tables


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          request: pytest.FixtureRequest) -> World:
    project = tmp_path / "project"
    project.mkdir()
    return World(cli=Run(project), project=project, monkeypatch=monkeypatch, request=request)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=[pytest.mark.slow]
                                               if c.local else []) for c in CASES])
def test_tables_read_at_80_columns(case: Case, world: World) -> None:
    text, tables = render_at(case, world)
    assert tables, f"{case.name} rendered no table:\n{text}"
    problems = broken_tokens(text, tables)
    assert not problems, f"{case.name} at {WIDTH} columns:\n" + "\n".join(problems) \
        + "\n\n" + text
