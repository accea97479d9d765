"""A canary secret in .env never appears in output, in either format, even with --verbose."""

from __future__ import annotations

import pytest
import typer

from garmaxctl.app import app

CANARY = "sk_live_CANARY0123456789abcdef"
WEBHOOK_CANARY = "whsec_CANARYwebhook0123456789"
JSON_CANARY = '{"type": "service_account", "private_key": "CANARY-PRIVATE-KEY-42"}'


@pytest.fixture
def canary_env(write_env):
    return write_env(
        f"STRIPE_SECRET_KEY={CANARY}\n"
        f"STRIPE_WEBHOOK_SECRET={WEBHOOK_CANARY}\n"
        f"GEMINI_SERVICE_ACCOUNT_JSON='{JSON_CANARY}'\n"
        "ALERT_EMAIL=ops@example.com\n"
    )


def _assert_clean(text: str) -> None:
    for secret in (CANARY, WEBHOOK_CANARY, "CANARY-PRIVATE-KEY-42"):
        assert secret not in text


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_config_show_never_prints_secrets(cli, canary_env, fmt) -> None:
    result = cli("-o", fmt, "config", "show")
    assert result.exit_code == 0
    _assert_clean(result.stdout + result.stderr)
    assert "STRIPE_SECRET_KEY" in result.stdout  # the key is listed, its value is not


def test_invalid_env_with_verbose_prints_no_secret(cli, write_env) -> None:
    write_env(f"STRIPE_SECRET_KEY={CANARY}\nSTRIPE_WEBHOOK_SECRET=nope-{CANARY}\n")
    for fmt in ("table", "json"):
        result = cli("-v", "-o", fmt, "config", "validate")
        assert result.exit_code == 2
        _assert_clean(result.stdout + result.stderr)


@pytest.fixture
def leaky_command():
    """A scaffold command whose unexpected error message contains the secret."""

    def leak(ctx) -> None:
        from garmaxctl.cli import options

        opts = options(ctx)
        opts.env()  # loads .env, registering its secrets for redaction
        raise RuntimeError(f"could not parse {CANARY} near {WEBHOOK_CANARY}")

    def command(ctx: typer.Context) -> None:
        leak(ctx)

    app.command("leak-for-test", hidden=True)(command)
    yield
    app.registered_commands[:] = [c for c in app.registered_commands
                                  if c.name != "leak-for-test"]


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_verbose_traceback_is_redacted(cli, canary_env, leaky_command, fmt) -> None:
    result = cli("--verbose", "-o", fmt, "leak-for-test")
    assert result.exit_code == 1
    assert "Traceback" in result.stderr  # --verbose does show it...
    _assert_clean(result.stdout + result.stderr)  # ...without the secret
    assert "****" in result.stderr + result.stdout


def test_unknown_keys_are_listed_without_their_value(cli, write_env) -> None:
    write_env("SESSION_SECRET=hunter2-unknown-key-value\nALERT_EMAIL=ops@example.com\n")
    for fmt in ("table", "json"):
        result = cli("-o", fmt, "config", "show")
        assert result.exit_code == 0
        assert "SESSION_SECRET" in result.stdout
        assert "hunter2-unknown-key-value" not in result.stdout
