"""Global options before or after the command; stage and output from the environment."""

from __future__ import annotations

import pytest

from garmaxctl.app import hoist_global_options


@pytest.mark.parametrize("argv", [
    ["-o", "json", "-s", "qa", "config", "show"],
    ["config", "show", "-o", "json", "-s", "qa"],
    ["config", "-o", "json", "show", "--stage", "qa"],
    ["config", "show", "--output=json", "--stage=Qa"],
    ["config", "show", "-ojson", "-sqa"],
])
def test_global_options_anywhere(cli, argv) -> None:
    import json

    result = cli(*argv)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["stage"] == "QA"
    assert document["command"] == "config show"
    assert document["data"]["stage_config"]["lambda_memory_mb"] == 1024


@pytest.mark.parametrize("spelling", ["prod", "Prod", "PROD", " prod "])
def test_stage_any_case_is_canonical(cli, spelling) -> None:
    result, document = cli.json("--stage", spelling, "config", "show")
    assert result.exit_code == 0
    assert document["stage"] == "PROD"
    assert document["data"]["stage"] == "PROD"


def test_stage_and_output_from_environment(cli) -> None:
    import json

    result = cli("config", "show", env={"GARMAX_STAGE": "dev", "GARMAX_OUTPUT": "json"})
    assert result.exit_code == 0
    assert json.loads(result.stdout)["stage"] == "DEV"


def test_flag_beats_environment(cli) -> None:
    _result, document = cli.json("-s", "qa", "config", "show", env={"GARMAX_STAGE": "dev"})
    assert document["stage"] == "QA"


def test_bad_output_mode_is_usage_error(cli) -> None:
    result = cli("-o", "yaml", "config", "show")
    assert result.exit_code == 2
    assert "yaml" in result.stderr


@pytest.mark.parametrize("url", ["not a url", "http://", "ftp://x", "http://[::1",
                                 "http://localhost:99999", ""])
def test_a_malformed_endpoint_url_is_a_usage_error(cli, url) -> None:
    # Found by tests/fuzz: botocore raised ValueError("Invalid endpoint") from the first
    # client, which became an internal error (exit 1) instead of a usage error (exit 2).
    for stage in ("LOCAL", "PROD"):
        result, document = cli.json("-s", stage, "--endpoint-url", url, "outputs")
        assert result.exit_code == 2, document
        assert document["error"]["code"] == "usage"
        assert "--endpoint-url" in document["error"]["message"]


def test_a_good_endpoint_url_is_accepted(cli) -> None:
    result, document = cli.json("--endpoint-url", "http://localhost:4566", "config", "show")
    assert result.exit_code == 0, document


def test_default_output_is_table_without_tty(cli) -> None:
    result = cli("config", "show")
    assert result.exit_code == 0
    assert not result.stdout.lstrip().startswith("{")
    assert "stage LOCAL" in result.stdout


def _on_a_terminal(*args: str, env: dict[str, str] | None = None) -> str:
    """garmaxctl's stdout when it is a real terminal (a pseudo-terminal): colour is on
    there unless --no-color or NO_COLOR turn it off (CliRunner's stdout is never one)."""
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    environ.update(env or {}, TERM="xterm-256color", COLUMNS="120")
    done = subprocess.run([sys.executable, "-m", "garmaxctl", *args], stdout=follower,
                          stderr=subprocess.PIPE, env=environ, timeout=60, check=False)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other end is closed: all read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert done.returncode == 0, done.stderr
    return b"".join(chunks).decode(errors="replace")


def test_no_color_and_NO_COLOR_print_no_escape_codes(tmp_path) -> None:
    assert "\x1b[" in _on_a_terminal("config", "show")  # a terminal gets colour...
    assert "\x1b[" not in _on_a_terminal("--no-color", "config", "show")  # ...unless asked
    assert "\x1b[" not in _on_a_terminal("config", "show", env={"NO_COLOR": "1"})


def test_env_file_option_reads_another_file(cli, write_env) -> None:
    write_env("ALERT_EMAIL=bad\n", name=".env.prod")
    assert cli("config", "validate").exit_code == 2  # no .env at all
    result = cli("--env-file", ".env.prod", "config", "validate")
    assert result.exit_code == 2
    assert "ALERT_EMAIL" in result.stdout


def test_hoisting_stops_at_double_dash() -> None:
    assert hoist_global_options(["logs", "-o", "json", "--", "-o", "x"]) == \
        ["-o", "json", "logs", "--", "-o", "x"]


def test_hoisting_keeps_command_options_in_place() -> None:
    assert hoist_global_options(["local", "logs", "-n", "5", "-v"]) == \
        ["-v", "local", "logs", "-n", "5"]


@pytest.mark.parametrize("name, exit_code", [("x" * 5000, 2)])
def test_an_unusable_path_is_a_file_error_not_an_internal_error(cli, name, exit_code) -> None:
    # Found by tests/fuzz: `params pull --out <a 5,000-character name>` raised OSError
    # (ENAMETOOLONG) from Path.exists() before any AWS call: an internal error.
    result, document = cli.json("params", "pull", "--out", name)
    assert result.exit_code == exit_code, document
    assert document["error"]["code"] == "file_error"
    assert len(document["error"]["message"]) < 300
    assert "Traceback" not in result.stderr


def test_file_errors_say_which_path_and_whether_the_input_must_change() -> None:
    import errno

    from garmaxctl.app import classify

    missing = FileNotFoundError(errno.ENOENT, "No such file or directory", "no/dir/x.json")
    assert classify(missing)[:3] == (2, "file_error",
                                     "cannot use no/dir/x.json: No such file or directory")
    denied = PermissionError(errno.EACCES, "Permission denied", "/etc/shadow")
    assert classify(denied)[:2] == (1, "file_error")
    assert classify(OSError("no file named"))[1] == "internal_error"


def test_the_last_output_option_wins_for_errors_too(cli) -> None:
    # Found by tests/fuzz: `-o table ... -o json` with a usage error printed the error as a
    # table (the first -o) although Click, and every successful run, take the last one.
    import json

    result = cli("-o", "table", "logs", "tail", "--yes=no", "-o", "json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == "usage"
    result = cli("-o", "json", "config", "show", "--bogus", "--output=table")
    assert result.exit_code == 2 and result.stdout == ""


def test_a_non_utf8_argument_is_printed_not_an_internal_error(tmp_path) -> None:
    # Found by tests/fuzz: `--env-file $'\xff'` (a byte that is not UTF-8, which Python
    # hands over as a surrogate) crashed printing the path under a strict stdout (a UTF-8
    # locale's default): UnicodeEncodeError, an internal error.
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "GARMAX_LOCAL_PORT": "1"}
    done = subprocess.run([sys.executable, "-m", "garmaxctl", "config", "validate",
                           "--env-file", os.fsdecode(b"missing-\xff.env")], cwd=tmp_path,
                          env=env, capture_output=True, check=False)
    assert done.returncode == 2, done.stderr
    output = (done.stdout + done.stderr).decode("utf-8", "replace")
    assert "unexpected error" not in output
    assert "missing-\\udcff.env" in output
