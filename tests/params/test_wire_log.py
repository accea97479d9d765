"""Issue 11, items 1 and 2: ``--verbose`` logs the wire (operation, status, sizes) and never
a body, so no secret reaches stderr — neither a .env secret with quotes, backslashes,
newlines or JSON, nor the temporary credentials of an assumed role."""

from __future__ import annotations

from pathlib import Path

from tests.params.conftest import VALUES, Target, env_text

MARKERS = ("Zq9canaryQUOTE", "Zq9canaryJSON", "Zq9canaryNEWLINE", "Zq9canarySLASH")
SECRETS = {
    "STRIPE_SECRET_KEY": f'sk_live_{MARKERS[0]}"quoted"\'single\'',
    "GEMINI_SERVICE_ACCOUNT_JSON": (
        '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n'
        f'{MARKERS[1]}\\"q\\\\b\\n-----END PRIVATE KEY-----\\n"}}'),
    "JWT_SECRET": f"first-line-{MARKERS[2]}\nsecond \"line\"",
    "RDS_PASSWORD": f"back\\slash\\\\{MARKERS[3]}\\n\\\"",
}


def _clean(text: str) -> None:
    for marker in MARKERS:
        assert marker not in text, marker


def test_verbose_push_logs_the_wire_and_no_secret(cli, write_env, dev: Target) -> None:
    write_env(env_text({**VALUES, **SECRETS}))
    seen = []
    for args in (["params", "push"], ["params", "plan"], ["-o", "json", "params", "plan"],
                 ["params", "history", "GEMINI_SERVICE_ACCOUNT_JSON"],
                 ["params", "get", "JWT_SECRET"]):
        result = cli(*dev.args, "--verbose", *args)
        seen.append(result.stdout + result.stderr)
        if args[:2] == ["params", "push"]:
            assert result.exit_code == 0, result.stderr[-2000:]
            # The wire log is on: each request and answer, by operation and size only.
            assert "request ssm.PutParameter POST" in result.stderr
            assert "response ssm.PutParameter HTTP 200" in result.stderr
    _clean("\n".join(seen))
    # The canaries were really written (and so were in the request bodies).
    stored = dev.tree()[dev.prefix() + "gemini/service-account-json"]["Value"]
    assert MARKERS[1] in stored


def test_verbose_never_logs_an_assumed_roles_credentials(cli, write_env, emulator_port: int,
                                                         tmp_path: Path, monkeypatch) -> None:
    endpoint = f"http://localhost:{emulator_port}"
    config = tmp_path / "aws-config"
    config.write_text(
        "[profile base]\nregion = us-east-1\n"
        "[profile ops]\nregion = us-east-1\nsource_profile = base\n"
        "role_arn = arn:aws:iam::123456789012:role/garmaxai-operator\n"
        f"endpoint_url = {endpoint}\n")
    credentials = tmp_path / "aws-credentials"
    credentials.write_text("[base]\naws_access_key_id = AKIABASEBASEBASE0001\n"
                           "aws_secret_access_key = base-Zq9canaryBASESECRET\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", "123456789012")
    write_env(env_text(VALUES))
    result = cli("-s", "dev", "--profile", "ops", "--endpoint-url", endpoint, "--verbose",
                 "params", "list")
    assert result.exit_code == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    # The role was assumed (through the emulator's STS) and the wire log saw it ...
    assert "request sts.AssumeRole POST" in log and "response sts.AssumeRole HTTP 200" in log
    # ... but none of the answer: no credentials element, no session token, no secret.
    for leaked in ("SecretAccessKey", "SessionToken", "FQoGZXIvYXdzE", "AssumeRoleResult",
                   "Zq9canaryBASESECRET"):
        assert leaked not in log, leaked
