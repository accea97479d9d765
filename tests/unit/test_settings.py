"""The .env model: python-dotenv parsing, placeholders as unset, formats, no value echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from garmaxctl.settings import ALL_KEYS, load_env_file, parse_env_text
from garmaxctl.shared import contract

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value", ["", "  ", "PLACEHOLDER", "PLACEHOLDER_ACCOUNT_ID",
                                   "r8_xxxxxxxxxxxxx", "sk_xxxxx", "XXXXXX",
                                   "https://app.your-domain.com", "ops@your-company.com", None])
def test_placeholders(value) -> None:
    assert contract.is_placeholder(value)


@pytest.mark.parametrize("value", ["r8_abc123", "sk_test_4eC39HqLyjWDarjtT1zdp7dc", "200",
                                   "ops@garmax.ai", "xxxx-not-five"])
def test_real_values_are_not_placeholders(value) -> None:
    assert not contract.is_placeholder(value)


def test_env_example_lists_every_mapped_and_guide_key() -> None:
    values, _, problems = parse_env_text((REPO / ".env.example").read_text())
    assert problems == []
    assert set(ALL_KEYS) <= set(values)
    assert {p.env_key for p in contract.PARAMETERS} <= set(values)


def test_env_example_is_valid_and_all_placeholders_for_secrets() -> None:
    env = load_env_file(REPO / ".env.example")
    assert env.problems == []
    for key in contract.SECRET_ENV_KEYS:
        assert not env.is_set(key), key


def test_tricky_values_survive_intact(tmp_path) -> None:
    service_account = ('{\n  "type": "service_account",\n'
                       '  "private_key": "-----BEGIN KEY-----\\nabc\\n"\n}')
    (tmp_path / ".env").write_text(
        "DATABASE_URL=mysql://user:p%40ss=word@db.example.com:3306/garmax?ssl=true\n"
        "JWT_SECRET='a#b=c\"d'\n"
        f"GEMINI_SERVICE_ACCOUNT_JSON='{service_account}'\n"
        "FRONTEND_URL=https://app.garmax.ai/#/home  # trailing comment\n"
        "REDIS_URL=\"rediss://:pw@cache:6379/0\"\n"
    )
    env = load_env_file(tmp_path / ".env")
    assert env.problems == []
    assert env.values["DATABASE_URL"] == \
        "mysql://user:p%40ss=word@db.example.com:3306/garmax?ssl=true"
    assert env.values["JWT_SECRET"] == 'a#b=c"d'
    assert env.values["GEMINI_SERVICE_ACCOUNT_JSON"] == service_account
    assert env.values["FRONTEND_URL"] == "https://app.garmax.ai/#/home"
    assert env.values["REDIS_URL"] == "rediss://:pw@cache:6379/0"


def test_values_come_from_the_file_alone(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ALERT_EMAIL", "from-process@example.com")
    monkeypatch.setenv("DAILY_BUDGET_USD", "999")
    (tmp_path / ".env").write_text("ALERT_EMAIL=from-file@example.com\n")
    env = load_env_file(tmp_path / ".env")
    assert env.settings is not None
    assert env.settings.ALERT_EMAIL == "from-file@example.com"
    assert env.settings.DAILY_BUDGET_USD is None
    assert "DAILY_BUDGET_USD" not in env.values


def test_no_interpolation_from_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME_SECRET", "leak")
    (tmp_path / ".env").write_text("JWT_SECRET=abc${HOME_SECRET}def\n")
    assert load_env_file(tmp_path / ".env").values["JWT_SECRET"] == "abc${HOME_SECRET}def"


@pytest.mark.parametrize(("line", "key", "words"), [
    ("REPLICATE_API_KEY=abc123", "REPLICATE_API_KEY", "r8_"),
    ("STRIPE_SECRET_KEY=pk_live_123", "STRIPE_SECRET_KEY", "sk_"),
    ("STRIPE_WEBHOOK_SECRET=secret123", "STRIPE_WEBHOOK_SECRET", "whsec_"),
    ("ALERT_EMAIL=ops-at-garmax", "ALERT_EMAIL", "e-mail"),
    ("DAILY_BUDGET_USD=two hundred", "DAILY_BUDGET_USD", "number"),
    ("DAILY_BUDGET_USD=-5", "DAILY_BUDGET_USD", "greater than or equal"),
    ("MAX_CONCURRENT_RENDERS_PER_USER=0", "MAX_CONCURRENT_RENDERS_PER_USER", "greater"),
    ("MAX_RENDERS_PER_USER_DAILY=2.5", "MAX_RENDERS_PER_USER_DAILY", "integer"),
    ("AWS_ACCOUNT_ID=12345", "AWS_ACCOUNT_ID", "12 digits"),
    ("GEMINI_SERVICE_ACCOUNT_JSON={not json", "GEMINI_SERVICE_ACCOUNT_JSON", "JSON"),
    ("REDIS_URL=http://cache", "REDIS_URL", "redis"),
    ("RENDER_PROVIDER=dalle", "RENDER_PROVIDER", "one of"),
    ("GEMINI_TRAFFIC_PERCENT=150", "GEMINI_TRAFFIC_PERCENT", "less than or equal"),
])
def test_format_problems_name_the_key_not_the_value(tmp_path, line, key, words) -> None:
    (tmp_path / ".env").write_text(f"# comment\n{line}\n")
    env = load_env_file(tmp_path / ".env")
    assert [p.key for p in env.problems] == [key]
    problem = env.problems[0]
    assert words in problem.message
    assert problem.line == 2
    value = line.split("=", 1)[1]
    assert value not in problem.message


def test_malformed_line_is_a_problem_with_its_line_number(tmp_path) -> None:
    (tmp_path / ".env").write_text("ALERT_EMAIL=ops@garmax.ai\nthis is not a pair\n")
    env = load_env_file(tmp_path / ".env")
    assert len(env.problems) == 1
    assert env.problems[0].line == 2
    assert "could not be parsed" in env.problems[0].message


@pytest.mark.parametrize(("line", "key", "words"), [
    ("JWT_SECRET", "JWT_SECRET", "no '='"),  # a key whose value was forgotten
    ("sk_live_51Habcdefghijklmnop", "?", "no '='"),  # a pasted secret is never named
    ('"JWT_SECRET=abc', "?", "not a variable name"),
    ("export", "?", "no '='"),
])
def test_a_line_without_key_and_value_is_a_problem(tmp_path, line: str, key: str,
                                                   words: str) -> None:
    (tmp_path / ".env").write_text(f"ALERT_EMAIL=a@b.io\n{line}\nDAILY_BUDGET_USD=10\n")
    env = load_env_file(tmp_path / ".env")
    assert [(p.key, p.line) for p in env.problems] == [(key, 2)]
    assert words in env.problems[0].message and "sk_live" not in env.problems[0].message
    assert set(env.values) == {"ALERT_EMAIL", "DAILY_BUDGET_USD"}


def test_an_empty_value_is_no_problem(tmp_path) -> None:
    (tmp_path / ".env").write_text("ALERT_EMAIL=a@b.io\nSENTRY_DSN=\n")
    assert load_env_file(tmp_path / ".env").problems == []


def test_duplicate_key_is_a_problem(tmp_path) -> None:
    (tmp_path / ".env").write_text("ALERT_EMAIL=a@b.io\nALERT_EMAIL=c@d.io\n")
    assert [p.message for p in load_env_file(tmp_path / ".env").problems] == ["key is set twice"]


def test_missing_file_is_not_an_error(tmp_path) -> None:
    env = load_env_file(tmp_path / "nope.env")
    assert env.exists is False and env.problems == []


def test_an_unparsable_line_is_not_echoed(tmp_path) -> None:
    (tmp_path / ".env").write_text('sk_live_PASTEDSECRET123 "oops\n')
    env = load_env_file(tmp_path / ".env")
    assert len(env.problems) == 1
    assert "PASTEDSECRET" not in env.problems[0].key + env.problems[0].message
