"""Acceptance 2: push -> pull gives back every value byte for byte; pull's file and
stdout rules; the dotenv writer round-trips through python-dotenv."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import given, settings
from hypothesis import strategies as st

from garmaxctl.services.params import dotenv_quote, to_dotenv
from garmaxctl.settings import load_env_file
from tests.params.conftest import CANARY, GEMINI_JSON, VALUES, Target, assert_envelope

# A .env as the team writes it by hand: double-quoted multi-line JSON, `=` and `#` inside
# quotes, an unquoted URL, single quotes around double quotes.
_JSON_DQ = GEMINI_JSON.replace("\\", "\\\\").replace('"', '\\"')  # escaped for "..."
HANDWRITTEN = f"""# hand-written
JWT_SECRET={CANARY}
GEMINI_SERVICE_ACCOUNT_JSON="{_JSON_DQ}"
DATABASE_URL="mysql://admin:p%40ss=w#rd@db.example.com:3306/garmax?ssl=true"
FRONTEND_URL=https://app.example.com/path?a=1&b=2
RDS_PASSWORD='say "hi" = # ok'
INTERNAL_API_KEY="it's = #1"
ALERT_EMAIL=ops@example.com  # a comment, not part of the value
"""


def _pulled_dotenv(text: str) -> dict[str, str]:
    return dict(dotenv_values(stream=io.StringIO(text), interpolate=False))


def test_push_then_pull_gives_every_value_back_byte_for_byte(cli, full_env, target: Target,
                                                             tmp_path: Path) -> None:
    assert cli(*target.args, "params", "push").exit_code == 0
    out = tmp_path / "pulled.env"
    result = cli(*target.args, "params", "pull", "--out", str(out))
    assert result.exit_code == 0, result.stdout + result.stderr
    pulled = load_env_file(out)
    assert pulled.values == VALUES
    assert pulled.problems == []
    assert _pulled_dotenv(out.read_text()) == VALUES  # python-dotenv's own reader too
    assert pulled.values["GEMINI_SERVICE_ACCOUNT_JSON"].count("\n") == 5
    assert json.loads(pulled.values["GEMINI_SERVICE_ACCOUNT_JSON"])["private_key"].endswith(
        "-----END PRIVATE KEY-----\n")

    result, document = cli.json(*target.args, "params", "pull", "--format", "json",
                                "--decrypt")
    assert result.exit_code == 0
    assert_envelope(document, exit_code=0, command="params pull")
    assert document["data"]["values"] == VALUES


def test_a_handwritten_env_round_trips(cli, write_env, local: Target, tmp_path: Path) -> None:
    path = write_env(HANDWRITTEN)
    original = load_env_file(path).values
    assert original["ALERT_EMAIL"] == "ops@example.com"
    assert original["GEMINI_SERVICE_ACCOUNT_JSON"] == GEMINI_JSON
    assert cli(*local.args, "params", "push").exit_code == 0
    stored = {k.rsplit("/", 1)[-1]: v["Value"] for k, v in local.tree().items()}
    assert stored["url"] in (original["DATABASE_URL"], original["FRONTEND_URL"])
    result = cli(*local.args, "params", "pull", "--decrypt")
    assert result.exit_code == 0
    assert _pulled_dotenv(result.stdout) == original
    out = tmp_path / "again.json"
    assert cli(*local.args, "params", "pull", "--format", "json", "--out", str(out)
               ).exit_code == 0
    assert json.loads(out.read_text()) == original


def test_pull_file_is_0600_and_an_existing_file_needs_force(cli, full_env, dev: Target,
                                                            tmp_path: Path) -> None:
    assert cli(*dev.args, "params", "push").exit_code == 0
    out = tmp_path / ".env.pulled"
    assert cli(*dev.args, "params", "pull", "--out", str(out)).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env", ".env.pulled"]  # no temp

    out.write_text("KEEP=1\n")
    result, document = cli.json(*dev.args, "params", "pull", "--out", str(out))
    assert result.exit_code == 2 and document["error"]["code"] == "file_exists"
    assert out.read_text() == "KEEP=1\n"
    out.chmod(0o644)
    assert cli(*dev.args, "params", "pull", "--out", str(out), "--force").exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert load_env_file(out).values == VALUES


def test_pull_refuses_to_print_secrets_without_decrypt(cli, full_env, dev: Target) -> None:
    # Stricter than "not on a terminal": stdout never gets a secret without --decrypt.
    assert cli(*dev.args, "params", "push").exit_code == 0
    result, document = cli.json(*dev.args, "params", "pull")
    assert result.exit_code == 2
    assert document["error"]["code"] == "secrets_need_decrypt"
    table = cli(*dev.args, "params", "pull", "--format", "json")
    assert table.exit_code == 2 and "--decrypt" in table.stderr
    assert CANARY not in result.stdout + result.stderr + table.stdout + table.stderr


def test_pull_without_secrets_needs_no_decrypt(cli, write_env, dev: Target) -> None:
    write_env("ALERT_EMAIL=ops@example.com\nDAILY_BUDGET_USD=200\n")
    assert cli(*dev.args, "params", "push").exit_code == 0
    result = cli(*dev.args, "params", "pull")
    assert result.exit_code == 0
    assert result.stdout == "DAILY_BUDGET_USD='200'\nALERT_EMAIL='ops@example.com'\n"


def test_pull_into_a_missing_directory_is_exit_2(cli, full_env, dev: Target,
                                                 tmp_path: Path) -> None:
    assert cli(*dev.args, "params", "push").exit_code == 0
    result, document = cli.json(*dev.args, "params", "pull", "--out",
                                str(tmp_path / "nowhere" / ".env"))
    assert result.exit_code == 2 and document["error"]["code"] == "bad_out"


def test_pull_with_an_unknown_format_is_exit_2(cli, dev: Target) -> None:
    result, document = cli.json(*dev.args, "params", "pull", "--format", "yaml")
    assert result.exit_code == 2
    assert "dotenv or json" in document["error"]["message"]


# ----------------------------------------------------------------------------- the writer

@pytest.mark.parametrize("value", [
    "", "plain", "a=b", "a #b", "#x", "it's", 'say "hi"', "back\\slash", "\\'", "\\",
    "line1\nline2", "cr\r\nlf", "tab\tx", "$HOME ${USER}", "  padded  ", "ünïcødé ✓",
    "trailing\\", "\x07bell\x0bvt\x0cff",
])
def test_dotenv_quote_round_trips(value: str) -> None:
    text = f"K={dotenv_quote(value)}\n"
    assert _pulled_dotenv(text) == {"K": value}


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.from_regex(r"[A-Z][A-Z0-9_]{0,15}", fullmatch=True),
                       st.text(alphabet=st.characters(blacklist_categories=("Cs",),
                                                      blacklist_characters="\x00")),
                       max_size=5))
def test_to_dotenv_round_trips_through_python_dotenv(values: dict[str, str]) -> None:
    text = to_dotenv(values)
    assert _pulled_dotenv(text) == values
    path_text = io.StringIO(text, newline=None).read()  # a text-mode read of the file
    assert _pulled_dotenv(path_text) == values
