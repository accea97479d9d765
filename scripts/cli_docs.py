"""Generate docs/cli.md, the command reference, from the command tree (`make docs`).

Everything comes from the code: the commands and groups from ``garmaxctl.registry`` (in
its order; aliases noted with the command they name, hidden commands left out), each
command's usage, arguments and options from its Click command (what ``--help`` shows, as
plain text: no terminal width, no colour), the example from the entry's ``example=``, the
AWS actions from its ``actions=`` (the same functions as docs/iam/commands.md, from
scripts/iam.py), and what one run is billed for from the prices in the code that bills it.
tests/docs/test_cli_reference.py fails when docs/cli.md is stale.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import typer
from typer import _click as click
from typer.core import TyperArgument, TyperGroup, TyperOption

from garmaxctl import app as app_module
from garmaxctl import cli, registry

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "cli.md"


def _iam() -> ModuleType:
    """scripts/iam.py: the per-command actions of docs/iam/commands.md, reused."""
    spec = importlib.util.spec_from_file_location("iam_script", REPO / "scripts" / "iam.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- the tree

def root_context() -> click.Context:
    root = typer.main.get_command(app_module.app)
    return click.Context(root, info_name="garmaxctl", **root.context_settings)


def command_context(entry: registry.Entry) -> click.Context:
    """The Click context of a registered command, below its groups', as a run makes it (so
    the help option's names are the root's)."""
    ctx = root_context()
    for word in entry.words:
        group = ctx.command
        assert isinstance(group, TyperGroup)
        command = group.get_command(ctx, word)
        if isinstance(command, cli.Placeholder):
            command = cli.load_command(command.entry)
        assert command is not None, entry.path
        ctx = click.Context(command, parent=ctx, info_name=word, **command.context_settings)
    return ctx


# --------------------------------------------------------------------------- text

def usage(ctx: click.Context) -> str:
    """The usage line ``--help`` shows, on one line whatever the terminal's width."""
    return " ".join([ctx.command_path, *ctx.command.collect_usage_pieces(ctx)])


def cell(text: str) -> str:
    """Text for a table cell: one line, ``|`` and ``<`` escaped (GitHub reads ``<x>`` as
    HTML)."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "\\<")


def code(text: str) -> str:
    """A code span (in a table cell: ``|`` escaped, which GitHub honours in code too)."""
    return f"`{text}`".replace("|", "\\|")


def paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but ``-`` dropped."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _names(option: TyperOption) -> str:
    """``-s, --stage``: short names first (the help option's come from a set: in order)."""
    return ", ".join([*sorted(option.opts, key=lambda n: (n.startswith("--"), n)),
                      *option.secondary_opts])


def _value(param: TyperOption | TyperArgument, ctx: click.Context) -> str:
    if isinstance(param, TyperOption) and (param.is_flag or param.count):
        return "flag"
    if param.metavar:
        return param.metavar
    return param.display_type(ctx).strip("<>")


def _default(param: TyperOption | TyperArgument) -> str:
    default = param.default
    if callable(default) or default in (None, False, (), []):
        return "required" if param.required else ""
    if default is True:
        return "on"
    return str(default)


def _help(param: TyperOption | TyperArgument) -> str:
    text = cell(getattr(param, "help", None) or "")
    envvar = param.envvar if isinstance(param, TyperOption) else None
    if envvar:
        text += f" (env: `{envvar}`)"
    return text


def params_table(ctx: click.Context, *, skip_help: bool = True) -> list[str]:
    params = [p for p in ctx.command.get_params(ctx)
              if not getattr(p, "hidden", False)
              and not (skip_help and isinstance(p, TyperOption)
                       and set(p.opts) & set(ctx.help_option_names))]
    arguments = [p for p in params if isinstance(p, TyperArgument)]
    options = [p for p in params if isinstance(p, TyperOption)]
    lines: list[str] = []
    if arguments:
        lines += ["| Argument | Value | Default | What |", "|---|---|---|---|"]
        for a in arguments:
            name = a.metavar or a.name.upper() + (" ..." if a.nargs < 0 else "")
            value = a.display_type(ctx).strip("<>")
            lines.append(f"| {code(name)} | {cell(value)} | {cell(_default(a))} "
                         f"| {_help(a)} |")
        lines.append("")
    if options:
        lines += ["| Option | Value | Default | What |", "|---|---|---|---|"]
        for o in options:
            lines.append(f"| {code(_names(o))} | {cell(_value(o, ctx))} | "
                         f"{cell(_default(o))} | {_help(o)} |")
        lines.append("")
    return lines


# --------------------------------------------------------------------------- cost

def _fixed_requests() -> dict[str, int]:
    """How many Cost Explorer requests a run of each cost command makes (first pages), from
    the request lists the service itself sends (tests/cost check those counts)."""
    report = importlib.import_module("garmaxctl.services.cost.report")  # the module
    day = dt.date(2025, 1, 15)
    return {
        "cost report": len(report.report_requests("DEV", day, day, "daily", "service")),
        "cost forecast": len(report.forecast_requests("DEV", day)),
    }


def run_cost(entry: registry.Entry) -> list[str]:
    """What one run is billed for, from the billed actions it needs (nothing if none)."""
    from garmaxctl.services.cost import explorer
    from garmaxctl.services.logs import livetail
    from garmaxctl.stage import prices

    actions = {p.action for p in entry.actions}
    lines: list[str] = []
    if actions & {"ce:GetCostAndUsage", "ce:GetCostForecast"}:
        ttl = int(explorer.CACHE_TTL.total_seconds() // 3600)
        count = _fixed_requests().get(entry.path)
        runs = (f" A run makes {count} requests, one more for each further page of an "
                "answer" if count else " A run's requests")
        lines.append(
            f"- Cost Explorer API: ${explorer.REQUEST_USD:.2f} per request.{runs}; none "
            f"when answered from the {ttl}-hour cache (`--refresh` asks again). "
            f"`--max-api-spend` (default ${explorer.DEFAULT_MAX_API_SPEND_USD:.2f}) refuses "
            "a run that would cost more ([cost.md](cost.md)).")
    if "logs:StartQuery" in actions:
        lines.append(
            f"- CloudWatch Logs Insights: ${prices.LOGS_INSIGHTS_GB_SCANNED} per GB of log "
            "data scanned (us-east-1), whatever the query returns; the footer says what the "
            "run scanned, and `--max-scan-gb` refuses a query beforehand "
            "([logs.md](logs.md)). Nothing is billed on LOCAL.")
    if "logs:StartLiveTail" in actions:
        lines.append(
            f"- CloudWatch Logs Live Tail (`--follow` on a real stage): "
            f"${livetail.USD_PER_MINUTE:.2f} per minute of session (us-east-1); polling "
            "(LOCAL, `--endpoint-url`, over 10 groups) is not billed per request "
            "([logs.md](logs.md)).")
    return lines


# --------------------------------------------------------------------------- the page

INTRO = """\
# The garmaxctl command reference

Generated by `make docs` (`scripts/cli_docs.py`) from the command tree: the commands in
`garmaxctl/registry.py` (their `example=` and `actions=`) and each command's options; do
not edit. Every example here is checked against the real commands by `make test`
(tests/docs). What each command's policy allows: [iam/README.md](iam/README.md); the same
actions by command: [iam/commands.md](iam/commands.md). Exit codes and the JSON document:
[exit-codes.md](exit-codes.md).
"""


def global_options() -> list[str]:
    ctx = root_context()
    lines = ["## Global options", "",
             "Accepted before or after the command: `garmaxctl -s DEV -o json doctor` is",
             "`garmaxctl doctor -s DEV -o json`.", "", "```text",
             usage(ctx), "```", ""]
    return lines + params_table(ctx, skip_help=False)


def contents(visible: list[registry.Entry]) -> list[str]:
    lines = ["## Commands", ""]
    for entry in visible:
        if entry.alias:
            continue
        depth = "  " if len(entry.words) > 1 else ""
        heading = f"garmaxctl {entry.path}"
        lines.append(f"{depth}- [`{heading}`](#{anchor(heading)}): {cell(entry.help)}")
    return [*lines, ""]


def section(entry: registry.Entry, aliases: dict[str, list[str]], roles: dict[str, list[str]],
            iam: ModuleType) -> list[str]:
    level = "#" * (1 + len(entry.words)) if not entry.is_group else "##"
    heading = f"garmaxctl {entry.path}"
    lines = [f"{level} `{heading}`", ""]
    if entry.is_group:
        return [*lines, cell(entry.help), ""]
    ctx = command_context(entry)
    lines += [*paragraphs(ctx.command.help or entry.help), ""]
    for alias in aliases.get(entry.path, []):
        lines += [f"Alias: `garmaxctl {alias}`.", ""]
    if entry.mutates:
        prod = ("" if entry.words[0] == "local" else
                " On PROD it needs confirmation: `--yes`, or a yes on a terminal.")
        lines += ["Changes the stage; every run is audited ([security.md](security.md))."
                  + prod, ""]
    lines += ["```text", usage(ctx), "```", ""]
    lines += params_table(ctx)
    lines += ["Example:", "", "```bash", entry.example, "```", ""]
    lines += iam_lines(entry, roles, iam)
    cost = run_cost(entry)
    if cost:
        lines += ["What one run costs:", "", *cost, ""]
    return lines


def iam_lines(entry: registry.Entry, roles: dict[str, list[str]], iam: ModuleType
              ) -> list[str]:
    heading = f"garmaxctl {entry.path}"
    policies = ", ".join(f"[{r}](iam/{r}.json)" for r in roles[entry.path]) or "none"
    lines = [f"AWS APIs it calls, as IAM actions by resource ([iam/commands.md]"
             f"(iam/commands.md#{anchor(heading)})); in the policies: {policies}.", ""]
    by_resource: list[tuple[str, list[str]]] = iam.actions_by_resource(entry)
    if not by_resource:
        return [*lines, f"None: {iam.no_actions_reason(entry)}.", ""]
    for name, actions in by_resource:
        lines.append(f"- {name}: {', '.join(f'`{a}`' for a in actions)}")
    return [*lines, ""]


def render() -> str:
    """docs/cli.md's text."""
    iam = _iam()
    roles: dict[str, list[str]] = iam.command_roles()
    visible = [e for e in registry.REGISTRY if not e.hidden]
    targets: dict[tuple[Any, ...], str] = {
        (e.module, e.function): e.path for e in visible if not e.is_group and not e.alias}
    aliases: dict[str, list[str]] = {}
    for e in visible:
        if e.alias:
            aliases.setdefault(targets[(e.module, e.function)], []).append(e.path)
    lines = [INTRO, *global_options(), *contents(visible)]
    for entry in visible:
        if not entry.alias:
            lines += section(entry, aliases, roles, iam)
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None, write: Callable[[str], object] = print) -> int:
    OUT.write_text(render())
    write(f"wrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
