"""`--help`, `--version` and every group's help work, and stay light."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from garmaxctl import __version__, build_info, registry

HEAVY = ("boto3", "botocore", "pydantic", "pydantic_settings", "moto", "aws_cdk")
# What typer.rich_utils imports for markdown markup and pretty tracebacks, which garmaxctl
# does not use: deferred by garmaxctl.cli.import_rich_utils (~30 ms of every --help).
HELP_UNUSED = ("rich.markdown", "rich.traceback", "rich.pretty", "rich.syntax", "markdown_it",
               "pygments", "attr")
# garmaxctl's own, needed once a command runs or fails, not for --help/--version.
NOT_BEFORE_A_COMMAND = ("garmaxctl.redact", "logging", "json")
GROUPS = tuple(sorted(e.name for e in registry.children(()) if e.is_group))
COMMANDS = tuple(sorted(e.name for e in registry.children(()) if not e.is_group
                        and not e.hidden))
SUBCOMMANDS = tuple(e.path for e in registry.commands() if len(e.words) > 1)


def test_every_group_and_command_is_registered() -> None:
    assert {"local", "config", "params", "idle"} <= set(GROUPS)
    assert {"doctor", "synth", "diff", "bootstrap", "deploy", "destroy", "outputs", "health",
            "verify", "smoke", "status"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help(cli, command: str) -> None:
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def test_version(cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"garmaxctl {__version__} ({build_info.describe()})"


def test_root_help_lists_every_group(cli) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for word in (*GROUPS, *COMMANDS, "--stage", "--output", "--env-file"):
        assert word in result.stdout


@pytest.mark.parametrize("group", GROUPS)
def test_group_help(cli, group: str) -> None:
    result = cli(group, "--help")
    assert result.exit_code == 0
    assert "Usage" in result.stdout


def _modules_after(argv: list[str]) -> set[str]:
    code = (
        "import sys\n"
        "from garmaxctl.app import app\n"
        f"sys.argv = ['garmaxctl', *{argv!r}]\n"
        "try:\n"
        "    app()\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(sys.modules)\n"
        "import json\n"
        "sys.__stdout__.write('\\n' + json.dumps(loaded))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("argv", [["--help"], ["--version"]])
def test_root_help_imports_nothing_heavy(argv: list[str]) -> None:
    loaded = _modules_after(argv)
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == []
    # The tree is listed from the registry: no command module is imported.
    assert sorted(m for m in loaded if m.startswith("garmaxctl.commands.")) == []
    unused = sorted(m for m in loaded if m.startswith(HELP_UNUSED))
    assert unused == []
    assert sorted(m for m in loaded if m in NOT_BEFORE_A_COMMAND) == []


def test_each_run_starts_quiet_after_a_verbose_one(cli) -> None:
    """``--verbose`` turns the debug log on for its run only (the next run in the same
    process, as under the test runner, is quiet again)."""
    import logging

    from garmaxctl import redact

    assert cli("--verbose", "config", "show").exit_code == 0
    assert logging.getLogger("garmaxctl").level == logging.DEBUG
    assert cli("config", "show").exit_code == 0
    assert logging.getLogger("garmaxctl").level == logging.NOTSET
    assert not [h for h in logging.getLogger().handlers
                if isinstance(h, redact._StderrHandler)]


def _help_output(argv: list[str], *, plain_rich_utils: bool, color: bool) -> bytes:
    """The console script's help as users see it, at a fixed width; ``plain_rich_utils``:
    with typer.rich_utils imported the ordinary way first (what Typer alone renders)."""
    first = "import typer.rich_utils\n" if plain_rich_utils else ""
    code = (f"{first}import sys\nfrom garmaxctl.app import main\n"
            f"sys.argv = ['garmaxctl', *{argv!r}]\nmain()\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("NO_COLOR", "FORCE_COLOR", "TERMINAL_WIDTH") and
           not k.startswith("GARMAX_")}
    env.update({"COLUMNS": "100", **({"FORCE_COLOR": "1"} if color else {"NO_COLOR": "1"})})
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("color", [False, True], ids=["plain", "color"])
@pytest.mark.parametrize("argv", [["--help"], ["params", "--help"],
                                  ["params", "list", "--help"]], ids=" ".join)
def test_help_is_typers_rich_help_byte_for_byte(argv: list[str], color: bool) -> None:
    """Deferring rich_utils' unused imports changes nothing in what --help prints."""
    lean = _help_output(argv, plain_rich_utils=False, color=color)
    assert b"Usage: " in lean and (b"\x1b[" in lean) is color
    assert lean == _help_output(argv, plain_rich_utils=True, color=color)


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    return done.stdout


def test_deferred_modules_are_real_once_used() -> None:
    """After the lean import, rich.markdown and rich.traceback are the real modules, and
    rich_utils' names for them build real objects (markdown help, pretty tracebacks)."""
    code = (
        "import sys\n"
        "from garmaxctl.cli import import_rich_utils\n"
        "import_rich_utils()\n"
        "assert 'rich.markdown' not in sys.modules and 'markdown_it' not in sys.modules\n"
        "import rich.markdown, rich.traceback\n"
        "from typer import rich_utils\n"
        "assert type(rich_utils.Markdown('**x**')) is rich.markdown.Markdown\n"
        "try:\n"
        "    raise ValueError('boom')\n"
        "except ValueError as exc:\n"
        "    tb = rich_utils.Traceback.from_exception(type(exc), exc, exc.__traceback__)\n"
        "assert type(tb) is rich.traceback.Traceback\n"
        "text = rich_utils._make_rich_text(text='**bold**', markup_mode='markdown')\n"
        "assert type(text) is rich.markdown.Markdown\n"
        "print('ok')\n"
    )
    assert _run(code).strip() == "ok"


def test_lean_import_falls_back_to_the_plain_one() -> None:
    """A Typer that imports a name the stand-ins lack still gets its rich_utils."""
    code = (
        "import sys\n"
        "from garmaxctl import cli\n"
        "cli.RICH_UTILS_DEFERRED['rich.markdown'] = ()\n"
        "cli.import_rich_utils()\n"
        "import rich.markdown\n"
        "from typer import rich_utils\n"
        "assert rich_utils.Markdown is rich.markdown.Markdown\n"
        "print('ok')\n"
    )
    assert _run(code).strip() == "ok"


@pytest.mark.parametrize("path", SUBCOMMANDS)
def test_subcommand_help(cli, path: str) -> None:
    result = cli(*path.split(), "--help")
    assert result.exit_code == 0
    assert f"Usage: garmaxctl {path}" in " ".join(result.stdout.split())


@pytest.mark.parametrize("module", sorted({e.import_path for e in registry.commands()}))
def test_command_module_imported_first_still_yields_the_whole_tree(module: str) -> None:
    """No import cycle can drop a group: import a command module before the app."""
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "from garmaxctl.app import app\n"
        "import typer\n"
        "root = typer.main.get_command(app)\n"
        "def walk(group, prefix):\n"
        "    out = []\n"
        "    for name in group.list_commands(None):\n"
        "        cmd = group.get_command(None, name)\n"
        "        out.append(prefix + name)\n"
        "        if hasattr(cmd, 'list_commands'):\n"
        "            out += walk(cmd, prefix + name + ' ')\n"
        "    return out\n"
        "sys.stdout.write(json.dumps(walk(root, '')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert json.loads(done.stdout) == [e.path for e in registry.REGISTRY if not e.hidden]


@pytest.mark.parametrize("group", GROUPS)
def test_group_help_imports_no_aws_sdk(group: str) -> None:
    # Typer 0.29 coerces the root callback's parameters with pydantic once a group runs, so
    # pydantic is expected here; the AWS SDK, moto and aws_cdk are not.
    loaded = _modules_after([group, "--help"])
    heavy = sorted(m for m in loaded if m.split(".")[0] in {"boto3", "botocore", "moto",
                                                            "aws_cdk"})
    assert heavy == []


def test_module_entry_point() -> None:
    done = subprocess.run([sys.executable, "-m", "garmaxctl", "--version"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0
    assert done.stdout.strip() == f"garmaxctl {__version__} ({build_info.describe()})"
