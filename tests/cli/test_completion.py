"""Shell completion (README, "Shell completion"): the real app completes the way each
shell's script asks it to (``_GARMAXCTL_COMPLETE`` and the typed words), from the registry,
the stages, the function short names and the alarm-name cache — never from AWS."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from garmaxctl import registry
from garmaxctl.stage import alarms as stage_alarms

BIN = Path(sys.executable).parent
ALARMS = ["GarmaxAI-ApiErrorRate-DEV", "GarmaxAI-LambdaErrors-DEV",
          "GarmaxAI-TryonDlqNotEmpty-DEV"]
SHORT = ["ApiErrorRate", "LambdaErrors", "TryonDlqNotEmpty"]


def bash_env(line: str) -> dict[str, str]:
    """What Typer's bash script sets: the words so far, and the index of the one under the
    cursor (a line ending in a space completes a new, empty word)."""
    words = shlex.split(line)
    cword = len(words) if not line or line.endswith(" ") else len(words) - 1
    return {"_GARMAXCTL_COMPLETE": "complete_bash", "COMP_WORDS": f"garmaxctl {line}",
            "COMP_CWORD": str(cword + 1)}


def complete(cli: Any, line: str, **env: str) -> list[str]:
    result = cli(env={**bash_env(line), **env})
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout.split()


# ----------------------------------------------------------------------------- the tree

def test_command_names(cli) -> None:
    assert complete(cli, "al") == ["alarms"]
    assert complete(cli, "alarms ") == [e.name for e in registry.children(("alarms",))
                                        if not e.hidden]
    assert complete(cli, "logs t") == ["tail"]
    top = complete(cli, "")
    assert top == [e.name for e in registry.children(()) if not e.hidden]


def test_global_option_names_and_version_is_not_run(cli) -> None:
    names = complete(cli, "--")
    assert {"--stage", "--output", "--install-completion", "--show-completion"} <= set(names)
    # --version on the line is not acted on while completing: the commands follow it.
    assert complete(cli, "--version ") == [e.name for e in registry.children(())
                                           if not e.hidden]


# ----------------------------------------------------------------------------- stages

@pytest.mark.parametrize(("line", "expected"), [
    ("-s d", ["DEV"]),
    ("-s ", ["LOCAL", "DEV", "QA", "PROD"]),
    ("--stage P", ["PROD"]),
    ("--stage lo", ["LOCAL"]),
    ("-s x", []),
    ("alarms show -s q", ["QA"]),  # after the command, as the root hoists it
    ("logs tail api --stage ", ["LOCAL", "DEV", "QA", "PROD"]),
    ("--stage = p", ["PROD"]),  # bash splits --stage=p at the "="
    ("-o j", ["json"]),
])
def test_stage_and_output_values(cli, line: str, expected: list[str]) -> None:
    assert complete(cli, line) == expected


# ----------------------------------------------------------------------------- functions

@pytest.mark.parametrize(("line", "expected"), [
    ("logs tail t", ["tryon"]),
    ("logs tail ", ["api", "webhook", "tryon", "render", "billing"]),
    ("logs tail api render ", ["webhook", "tryon", "billing"]),  # not given twice
    ("-s dev logs tail --since 1h b", ["billing"]),
    ("logs query r", ["render"]),
    ("logs errors w", ["webhook"]),
])
def test_function_short_names(cli, line: str, expected: list[str]) -> None:
    assert complete(cli, line) == expected


# ----------------------------------------------------------------------------- alarm names

@pytest.mark.parametrize("command", ["show", "history", "test", "mute", "unmute"])
def test_alarm_names_come_from_the_cache_of_the_lines_stage(cli, command: str) -> None:
    stage_alarms.write_name_cache("DEV", ALARMS)  # what `alarms list` writes
    assert complete(cli, f"-s dev alarms {command} ") == SHORT
    assert complete(cli, f"alarms {command} --stage DEV L") == ["LambdaErrors"]
    assert complete(cli, f"alarms {command} ") == []  # LOCAL: nothing cached
    assert complete(cli, f"alarms {command} ", GARMAX_STAGE="dev") == SHORT


def test_full_alarm_names_once_the_text_starts_like_one(cli) -> None:
    stage_alarms.write_name_cache("DEV", ALARMS)
    assert complete(cli, "-s dev alarms show GarmaxAI-T") == ["GarmaxAI-TryonDlqNotEmpty-DEV"]


@pytest.mark.parametrize("content", [None, "", "{not json", '{"names": 3}', '["x"]'])
def test_no_usable_cache_no_names_no_error(cli, content: str | None) -> None:
    path = stage_alarms.name_cache_path("QA")
    if content is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    assert complete(cli, "-s qa alarms show ") == []


def test_an_unknown_stage_offers_no_names(cli) -> None:
    stage_alarms.write_name_cache("DEV", ALARMS)
    assert complete(cli, "-s staging alarms show ") == []


# ----------------------------------------------------------------------------- never fails

def test_a_failing_completer_offers_nothing_and_prints_nothing(cli, monkeypatch) -> None:
    def broken(stage: str, *, short: bool = True) -> list[str]:
        raise RuntimeError("boom")

    monkeypatch.setattr(stage_alarms, "cached_names", broken)
    assert complete(cli, "-s dev alarms show ") == []


def test_a_failing_walk_of_the_tree_offers_nothing(cli, monkeypatch) -> None:
    from typer._click import shell_completion

    def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(shell_completion, "_resolve_context", broken)
    assert complete(cli, "alarms ") == []


def test_a_failure_outside_the_walk_prints_nothing(cli, monkeypatch) -> None:
    """Not even the JSON error document a failed run prints under GARMAX_OUTPUT=json: the
    shell would offer its words as completions."""
    from garmaxctl import completion

    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(completion, "use_garmax_shells", broken)
    result = cli(env={**bash_env("alarms "), "GARMAX_OUTPUT": "json"})
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", "")


# ----------------------------------------------------------------------------- zsh, fish

def test_zsh_shape(cli) -> None:
    result = cli(env={"_GARMAXCTL_COMPLETE": "complete_zsh",
                      "_TYPER_COMPLETE_ARGS": "garmaxctl logs tail t"})
    assert result.exit_code == 0
    assert result.stdout.strip() == """_arguments '*: :(("tryon":"TryonProcessor"))'"""
    stage_alarms.write_name_cache("DEV", ALARMS)
    result = cli(env={"_GARMAXCTL_COMPLETE": "complete_zsh",
                      "_TYPER_COMPLETE_ARGS": "garmaxctl alarms show -s dev Api"})
    assert result.stdout.strip() == """_arguments '*: :(("ApiErrorRate"))'"""


def test_fish_shape(cli) -> None:
    base = {"_GARMAXCTL_COMPLETE": "complete_fish", "_TYPER_COMPLETE_ARGS": "garmaxctl -s d"}
    result = cli(env={**base, "_TYPER_COMPLETE_FISH_ACTION": "get-args"})
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["DEV"]
    result = cli(env={**base, "_TYPER_COMPLETE_ARGS": "garmaxctl logs tail a",
                      "_TYPER_COMPLETE_FISH_ACTION": "get-args"})
    assert result.stdout.splitlines() == ["api\tApi"]
    # is-args: exit 0 when there are values (fish offers them, not files), else 1.
    assert cli(env={**base, "_TYPER_COMPLETE_FISH_ACTION": "is-args"}).exit_code == 0
    nothing = {**base, "_TYPER_COMPLETE_ARGS": "garmaxctl alarms show ",
               "_TYPER_COMPLETE_FISH_ACTION": "is-args"}
    assert cli(env=nothing).exit_code == 1


# ----------------------------------------------------------------------------- the scripts

@pytest.mark.parametrize(("shell", "marks"), [
    ("bash", ["_GARMAXCTL_COMPLETE=complete_bash",
              "complete -o default -F _garmaxctl_completion garmaxctl"]),
    ("zsh", ["#compdef garmaxctl", "_GARMAXCTL_COMPLETE=complete_zsh"]),
    ("fish", ["complete --command garmaxctl", "_GARMAXCTL_COMPLETE=complete_fish"]),
])
def test_show_completion_prints_the_shells_script(cli, monkeypatch, shell: str,
                                                 marks: list[str]) -> None:
    # Typer detects the shell it runs in; this switch (read as Typer builds the options)
    # lets the option name one instead.
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    result = cli("--show-completion", shell)
    assert result.exit_code == 0
    for mark in marks:
        assert mark in result.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bash(script: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    if bash is None:  # pragma: no cover - bash is on every machine this runs on
        pytest.skip("no bash")
    full = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(home), **env}
    return subprocess.run([bash, "--norc", "--noprofile", "-c", script], env=full,
                          capture_output=True, text=True, timeout=120, check=False)


def test_bash_completes_through_the_script_garmaxctl_shows(tmp_path: Path) -> None:
    """The real thing: bash sources `--show-completion` (the shell detected from bash
    itself) and its completion function asks the console script."""
    stage_alarms.write_name_cache("DEV", ALARMS)
    script = (
        'eval "$(garmaxctl --show-completion)"\n'
        "ask() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=();\n"
        "  _garmaxctl_completion garmaxctl; echo \"${COMPREPLY[*]}\"; }\n"
        "ask garmaxctl -s d\n"
        "ask garmaxctl logs tail t\n"
        "ask garmaxctl alarms show -s dev ''\n"
        "ask garmaxctl al\n"
    )
    done = _bash(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["DEV", "tryon", " ".join(SHORT), "alarms"]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_through_the_script_garmaxctl_shows(tmp_path: Path) -> None:
    """fish's own completion engine (`complete -C`), from the script garmaxctl shows."""
    stage_alarms.write_name_cache("DEV", ALARMS)
    script = ("garmaxctl --show-completion | source\n"
              "for line in 'garmaxctl -s d' 'garmaxctl logs tail t' "
              "'garmaxctl alarms show -s dev L'\n"
              "    complete -C $line\n"
              "end\n")
    full = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(tmp_path)}
    done = subprocess.run([str(shutil.which("fish")), "--no-config", "-c", script], env=full,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["DEV", "tryon\tTryonProcessor", "LambdaErrors"]


def test_install_completion_in_bash(tmp_path: Path) -> None:
    done = _bash("garmaxctl --install-completion", tmp_path)
    assert done.returncode == 0, done.stderr
    installed = tmp_path / ".bash_completions" / "garmaxctl.sh"
    assert "_GARMAXCTL_COMPLETE=complete_bash" in installed.read_text()
    assert f"source '{installed}'" in (tmp_path / ".bashrc").read_text()


# ----------------------------------------------------------------------------- no AWS

def test_completing_never_calls_aws_nor_loads_other_commands(tmp_path: Path) -> None:
    """A real stage with a cache, no credentials and an endpoint nothing listens on: the
    names come, no AWS SDK is imported (so no call could be made), no call is recorded,
    and only the command being completed is imported."""
    stage_alarms.write_name_cache("PROD", [n.replace("DEV", "PROD") for n in ALARMS])
    record = tmp_path / "calls.jsonl"
    code = (
        "import json, sys\n"
        "from garmaxctl.app import main\n"
        "sys.argv = ['garmaxctl']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write('\\nMODULES ' + json.dumps(sorted(sys.modules)))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(bash_env("-s prod alarms show "), GARMAX_RECORD_CALLS=str(record),
               AWS_ENDPOINT_URL=f"http://localhost:{_free_port()}",
               AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.stdout.split() == SHORT
    loaded = set(json.loads(done.stderr.rsplit("MODULES ", 1)[1]))
    assert not {m for m in loaded if m.split(".")[0] in ("boto3", "botocore", "moto")}
    assert {m for m in loaded if m.startswith("garmaxctl.commands.")} == \
        {"garmaxctl.commands.alarms"}
    assert not record.exists()


def test_help_does_not_load_the_completion_module() -> None:
    code = ("import sys\nfrom garmaxctl.app import main\nsys.argv = ['garmaxctl', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "sys.stderr.write(str('garmaxctl.completion' in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.stderr.strip().endswith("False")
    assert "--install-completion" in done.stdout and "--show-completion" in done.stdout
