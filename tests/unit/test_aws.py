"""The AWS target: LOCAL to the emulator with test credentials; real stages ignore an
inherited AWS_ENDPOINT_URL; adaptive retries and the user agent."""

from __future__ import annotations

from garmaxctl import __version__
from garmaxctl.aws import AwsTarget
from garmaxctl.shared.stages import get_stage_config


def test_local_targets_the_emulator_with_test_credentials(monkeypatch) -> None:
    monkeypatch.setenv("GARMAX_LOCAL_PORT", "4999")
    monkeypatch.setenv("AWS_PROFILE", "someones-real-profile")
    target = AwsTarget(stage=get_stage_config("LOCAL"))
    assert target.endpoint_url == "http://localhost:4999"
    client = target.client("sqs")
    assert client.meta.endpoint_url == "http://localhost:4999"
    creds = target.session.get_credentials()
    assert creds.access_key == "testing"
    env = target.subprocess_env({"AWS_PROFILE": "x", "PATH": "/bin"})
    assert "AWS_PROFILE" not in env and env["AWS_ENDPOINT_URL"] == "http://localhost:4999"


def test_real_stage_ignores_inherited_endpoint_with_a_warning(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    target = AwsTarget(stage=get_stage_config("DEV"))
    assert target.warnings and "ignored" in target.warnings[0]
    client = target.client("ssm")
    assert client.meta.endpoint_url == "https://ssm.us-east-1.amazonaws.com"
    env = target.subprocess_env({"AWS_ENDPOINT_URL": "http://localhost:4566",
                                 "AWS_ENDPOINT_URL_S3": "http://x"})
    assert "AWS_ENDPOINT_URL" not in env and "AWS_ENDPOINT_URL_S3" not in env


def test_endpoint_url_option_retargets_a_real_stage(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://elsewhere:1")
    target = AwsTarget(stage=get_stage_config("QA"), endpoint_url="http://localhost:4566")
    assert target.warnings == []
    assert target.client("ssm").meta.endpoint_url == "http://localhost:4566"


def test_clients_use_adaptive_retries_and_our_user_agent() -> None:
    target = AwsTarget(stage=get_stage_config("DEV"))
    config = target.client("sts").meta.config
    assert config.retries["mode"] == "adaptive"
    assert f"garmaxctl/{__version__}" in config.user_agent_extra


def test_one_session_per_run_and_cached_clients() -> None:
    target = AwsTarget(stage=get_stage_config("DEV"))
    assert target.session is target.session
    assert target.client("sts") is target.client("sts")
