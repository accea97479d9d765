"""Issue 14, acceptance 3: ``params export`` / ``params import``.

Export, wipe the stage's parameters, import: ``params plan`` is in sync and every type,
tier, KMS key id and description is what it was. The file holds no value in plaintext
(canaries with quotes, backslashes, newlines and JSON), is mode 0600 and leaves no
temporary file. A wrong passphrase or key, a damaged file and another stage's file are
refused with one line (exit 2, no traceback).

Recipient keys (X25519) are fast; a passphrase costs scrypt's ~1-2 s per encryption or
decryption, so only the tests about passphrases use one.
"""

from __future__ import annotations

import base64
import io
import json
import stat
from pathlib import Path
from typing import Any

import pyrage
import pytest

from tests.params.conftest import CANARY, VALUES, Calls, Target, assert_envelope, aws_error

PASSPHRASE = "correct horse battery staple"
# Canaries: quotes, backslashes, newlines and JSON, in a SecureString and a String.
CANARY_SECURE = '{"token": "canary-\\"q\\"-\\\\back\\\\-7e1d", "line": "a\\nb"}\n\'single\''
CANARY_PLAIN = 'canary-plain "dq" \\ back\nnext line 4c2b'
CUSTOM_KEY = "alias/garmax-custom"


def _identity(tmp_path: Path, name: str = "key.txt") -> tuple[str, Path]:
    identity = pyrage.x25519.Identity.generate()
    path = tmp_path / name
    path.write_text(f"# created by a test\n# public key: {identity.to_public()}\n"
                    f"{identity}\n")
    return str(identity.to_public()), path


def _world(cli: Any, target: Target) -> None:
    """Every mapped key pushed from .env, then what .env cannot say: an Advanced tier, a
    custom KMS key with a description, a StringList and unmapped canaries."""
    assert cli(*target.args, "params", "push").exit_code == 0
    prefix = target.prefix()
    gemini = prefix + "gemini/service-account-json"
    target.ssm.put_parameter(Name=gemini, Value=VALUES["GEMINI_SERVICE_ACCOUNT_JSON"],
                             Type="SecureString", Overwrite=True, Tier="Advanced")
    target.ssm.put_parameter(Name=prefix + "security/jwt-secret", Value=CANARY,
                             Type="SecureString", Overwrite=True, KeyId=CUSTOM_KEY,
                             Description="rotated every quarter")
    target.ssm.put_parameter(Name=prefix + "extra/regions", Value="us-east-1,eu-west-1",
                             Type="StringList", Description="where renders run")
    target.ssm.put_parameter(Name=prefix + "extra/canary-secure", Value=CANARY_SECURE,
                             Type="SecureString")
    target.ssm.put_parameter(Name=prefix + "extra/canary-plain", Value=CANARY_PLAIN,
                             Type="String", Tier="Advanced")


def _snapshot(target: Target) -> dict[str, tuple]:
    """Per path: value, type, tier, KMS key id, description, data type."""
    values = {name: item["Value"] for name, item in target.tree().items()}
    found = {}
    pages = target.ssm.get_paginator("describe_parameters").paginate(ParameterFilters=[
        {"Key": "Path", "Option": "Recursive", "Values": [target.prefix().rstrip("/")]}])
    for page in pages:
        for p in page["Parameters"]:
            found[p["Name"]] = (values[p["Name"]], p["Type"], p["Tier"], p.get("KeyId"),
                                p.get("Description"), p.get("DataType"))
    return found


def _wipe(target: Target) -> None:
    names = sorted(target.tree())
    for start in range(0, len(names), 10):
        target.ssm.delete_parameters(Names=names[start:start + 10])
    assert target.tree() == {}


def _export(cli: Any, target: Target, out: Path, *extra: str, **kwargs: Any) -> Any:
    return cli(*target.args, "params", "export", "--out", str(out), *extra, **kwargs)


def _values() -> list[str]:
    """Every value long enough not to turn up in base64 by chance (``"50"`` would)."""
    return [v for v in (*VALUES.values(), CANARY_SECURE, CANARY_PLAIN,
                        "rotated every quarter", "us-east-1,eu-west-1") if len(v) >= 8]


# ----------------------------------------------------------------------------- round trip

def test_export_wipe_import_on_local_is_in_sync_with_every_type_and_tier(
        cli, full_env, local: Target, tmp_path: Path) -> None:
    """Acceptance 3, on LOCAL (the embedded emulator), with the CI's passphrase route."""
    _world(cli, local)
    before = _snapshot(local)
    assert {v[1] for v in before.values()} == {"String", "StringList", "SecureString"}
    assert {v[2] for v in before.values()} == {"Standard", "Advanced"}
    out = tmp_path / "local.age"
    env = {"GARMAX_EXPORT_PASSPHRASE": PASSPHRASE}
    result, document = cli.json(*local.args, "params", "export", "--out", str(out), env=env)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert_envelope(document, exit_code=0, command="params export")
    assert len(document["data"]["parameters"]) == len(before)
    assert document["data"]["method"] == "passphrase"

    _wipe(local)
    result, document = cli.json(*local.args, "params", "import", str(out), env=env)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert_envelope(document, exit_code=0, command="params import")
    assert document["data"]["failed"] == []
    assert len(document["data"]["written"]) == len(before)

    after = _snapshot(local)
    assert after == before
    assert after[local.prefix() + "security/jwt-secret"][3] == CUSTOM_KEY
    result, document = cli.json(*local.args, "params", "plan", "--exit-code")
    assert result.exit_code == 0, result.stdout
    assert document["data"]["changes"] is False
    assert document["data"]["counts"]["unchanged"] == len(VALUES)


def test_a_second_import_finds_nothing_to_write(cli, full_env, dev: Target, tmp_path: Path,
                                                ssm_calls: Calls) -> None:
    _world(cli, dev)
    public, key = _identity(tmp_path)
    out = tmp_path / "dev.age"
    assert _export(cli, dev, out, "--recipient", public).exit_code == 0
    _wipe(dev)
    assert cli(*dev.args, "params", "import", str(out), "--identity", str(key)).exit_code == 0
    ssm_calls.reset()
    result, document = cli.json(*dev.args, "params", "import", str(out), "--identity",
                                str(key))
    assert result.exit_code == 0
    assert document["data"]["changes"] is False
    assert ssm_calls.writes == []


# ----------------------------------------------------------------------------- the file

def test_the_export_file_holds_no_plaintext_value(cli, full_env, dev: Target,
                                                  tmp_path: Path) -> None:
    _world(cli, dev)
    public, _key = _identity(tmp_path)
    folder = tmp_path / "exports"
    folder.mkdir()
    out = folder / "dev.age"
    result = _export(cli, dev, out, "--recipient", public)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == ["dev.age"]  # no temp file left
    raw = out.read_bytes()
    assert raw.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----")
    body = base64.b64decode(b"".join(raw.strip().splitlines()[1:-1]))
    printed = result.stdout + result.stderr
    assert len(_values()) > 25
    for value in _values():
        for form in {value, json.dumps(value)[1:-1], " ".join(value.split())}:
            needle = form.encode()
            assert needle not in raw and needle not in body, value
            assert form not in printed, value
    for name in ("security/jwt-secret", "gemini/service-account-json", "canary"):
        assert name.encode() not in raw.lower() and name.encode() not in body.lower()


def test_an_existing_file_is_kept_without_force(cli, full_env, dev: Target,
                                               tmp_path: Path, ssm_calls: Calls) -> None:
    out = tmp_path / "dev.age"
    out.write_text("keep me")
    public, _key = _identity(tmp_path)
    result, document = cli.json(*dev.args, "params", "export", "--out", str(out),
                                "--recipient", public)
    assert result.exit_code == 2
    assert document["error"]["code"] == "file_exists"
    assert out.read_text() == "keep me"
    assert ssm_calls.calls == []
    assert _export(cli, dev, out, "--recipient", public, "--force").exit_code == 0
    assert out.read_text().startswith("-----BEGIN AGE ENCRYPTED FILE-----")


def test_the_export_table_reads_at_80_columns(full_env, cli, dev: Target,
                                              tmp_path: Path) -> None:
    from rich.console import Console

    from garmaxctl import output

    _world(cli, dev)
    public, _key = _identity(tmp_path)
    result = _export(cli, dev, tmp_path / "x.age", "--recipient", public,
                     env={"COLUMNS": "80"})
    assert result.exit_code == 0
    table_text = result.stdout.split("\nwrote ")[0]  # the lines after it name the file
    assert "gemini/service-account-json" in table_text
    assert max(len(line) for line in table_text.splitlines()) <= 80
    table = output.Table(columns=("parameter", "type", "tier", "version"),
                         rows=[("quotas/max-concurrent-renders-per-user", "SecureString",
                                "Advanced", 100)])
    console = Console(width=80, file=io.StringIO(), color_system=None)
    console.print(output.render_table(table))
    text = console.file.getvalue()
    assert "quotas/max-concurrent-renders-per-user" in text
    assert max(len(line) for line in text.splitlines()) <= 80


# ----------------------------------------------------------------------------- refusals

def test_a_wrong_passphrase_is_one_line_and_writes_nothing(cli, full_env, dev: Target,
                                                           tmp_path: Path,
                                                           ssm_calls: Calls) -> None:
    out = tmp_path / "dev.age"
    assert _export(cli, dev, out, env={"GARMAX_EXPORT_PASSPHRASE": PASSPHRASE}).exit_code == 0
    ssm_calls.reset()
    result = cli(*dev.args, "params", "import", str(out),
                 env={"GARMAX_EXPORT_PASSPHRASE": "not the passphrase"})
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "wrong passphrase" in lines[0], result.stderr
    assert ssm_calls.calls == []


def test_without_a_passphrase_and_without_a_terminal_nothing_waits(
        cli, full_env, dev: Target, tmp_path: Path, ssm_calls: Calls,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GARMAX_EXPORT_PASSPHRASE", raising=False)
    out = tmp_path / "dev.age"
    result, document = cli.json(*dev.args, "params", "export", "--out", str(out))
    assert result.exit_code == 2
    assert document["error"]["code"] == "passphrase_required"
    assert "GARMAX_EXPORT_PASSPHRASE" in document["error"]["message"]
    assert not out.exists() and ssm_calls.calls == []


def test_on_a_terminal_the_passphrase_is_asked_twice_then_read_from_the_named_variable(
        cli, full_env, dev: Target, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GARMAX_EXPORT_PASSPHRASE", raising=False)
    monkeypatch.setattr("garmaxctl.cli.stdin_is_tty", lambda: True)
    out = tmp_path / "dev.age"
    result = _export(cli, dev, out, input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert PASSPHRASE not in result.stdout + result.stderr
    monkeypatch.setattr("garmaxctl.cli.stdin_is_tty", lambda: False)
    result, document = cli.json(*dev.args, "params", "import", str(out), "--dry-run",
                                "--passphrase-env", "MY_SECRET",
                                env={"MY_SECRET": PASSPHRASE})
    assert result.exit_code == 0, result.stdout + result.stderr
    assert document["data"]["counts"]["unchanged"] == 0  # the stage was empty: adds only


def test_a_wrong_identity_or_none_is_refused(cli, full_env, dev: Target,
                                            tmp_path: Path) -> None:
    public, _key = _identity(tmp_path)
    out = tmp_path / "dev.age"
    assert _export(cli, dev, out, "--recipient", public).exit_code == 0
    _other_public, other_key = _identity(tmp_path, "other-key.txt")
    result, document = cli.json(*dev.args, "params", "import", str(out), "--identity",
                                str(other_key))
    assert result.exit_code == 2
    assert document["error"]["code"] == "decrypt_failed"
    result, document = cli.json(*dev.args, "params", "import", str(out))
    assert result.exit_code == 2
    assert document["error"]["code"] == "identity_required"
    assert "--identity" in document["error"]["message"]


@pytest.mark.parametrize("damage", ["flipped", "truncated", "not_age", "empty"])
def test_a_damaged_file_is_one_line(cli, full_env, dev: Target, tmp_path: Path,
                                    damage: str) -> None:
    public, key = _identity(tmp_path)
    out = tmp_path / "dev.age"
    assert _export(cli, dev, out, "--recipient", public).exit_code == 0
    lines = out.read_text().splitlines()
    if damage == "flipped":  # one character of the payload changed
        middle = lines[-3]
        lines[-3] = middle[:10] + ("A" if middle[10] != "A" else "B") + middle[11:]
        out.write_text("\n".join(lines) + "\n")
    elif damage == "truncated":
        out.write_text("\n".join(lines[:3]) + "\n")
    elif damage == "not_age":
        out.write_text("JWT_SECRET=hello\n")
    else:
        out.write_text("")
    result = cli(*dev.args, "params", "import", str(out), "--identity", str(key))
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(out) in lines[0], result.stderr
    assert dev.tree() == {}


def test_another_stages_file_needs_from_stage_naming_it(cli, full_env, dev: Target,
                                                        tmp_path: Path) -> None:
    _world(cli, dev)
    public, key = _identity(tmp_path)
    out = tmp_path / "dev.age"
    assert _export(cli, dev, out, "--recipient", public).exit_code == 0
    qa = Target("QA", dev.ssm)
    result, document = cli.json(*qa.args, "params", "import", str(out), "--identity",
                                str(key))
    assert result.exit_code == 2
    assert document["error"]["code"] == "stage_mismatch"
    assert "--from-stage DEV" in document["error"]["message"]
    result, document = cli.json(*qa.args, "params", "import", str(out), "--identity",
                                str(key), "--from-stage", "prod")
    assert result.exit_code == 2
    assert document["error"]["code"] == "stage_mismatch"
    assert qa.tree() == {}

    result = cli(*qa.args, "params", "import", str(out), "--identity", str(key),
                 "--from-stage", "dev")
    assert result.exit_code == 0, result.stdout + result.stderr
    copied = {name.removeprefix("/garmaxai/QA/"): v for name, v in _snapshot(qa).items()}
    original = {name.removeprefix("/garmaxai/DEV/"): v for name, v in _snapshot(dev).items()}
    assert copied.keys() == original.keys()
    # Values, types, tiers and descriptions travel; a SecureString takes the QA's KMS key.
    jwt = copied["security/jwt-secret"]
    assert jwt[:3] == original["security/jwt-secret"][:3]
    assert jwt[3] == "alias/aws/ssm" and original["security/jwt-secret"][3] == CUSTOM_KEY


# ----------------------------------------------------------------------------- plan/apply

def test_missing_parameters_are_reported_and_deleted_only_with_prune(
        cli, full_env, dev: Target, tmp_path: Path) -> None:
    public, key = _identity(tmp_path)
    out = tmp_path / "dev.age"
    dev.ssm.put_parameter(Name="/garmaxai/DEV/frontend/url", Value="https://a.example",
                          Type="String")
    assert _export(cli, dev, out, "--recipient", public).exit_code == 0
    late = "/garmaxai/DEV/extra/created-later"
    dev.ssm.put_parameter(Name=late, Value="later", Type="String")
    result, document = cli.json(*dev.args, "params", "import", str(out), "--identity",
                                str(key))
    assert result.exit_code == 0
    (extra,) = [i for i in document["data"]["plan"]["items"] if i["action"] == "extra"]
    assert extra["path"] == late and extra["note"] == "not in the export"
    assert late in dev.tree()

    result = cli(*dev.args, "params", "import", str(out), "--identity", str(key), "--prune")
    assert result.exit_code == 2  # a delete asks on every stage; no terminal: refused
    assert late in dev.tree()
    result = cli(*dev.args, "--yes", "params", "import", str(out), "--identity", str(key),
                 "--prune")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert late not in dev.tree() and "/garmaxai/DEV/frontend/url" in dev.tree()


def test_dry_run_and_prod_write_nothing(cli, full_env, dev: Target, tmp_path: Path,
                                        ssm_calls: Calls) -> None:
    _world(cli, dev)
    public, key = _identity(tmp_path)
    out = tmp_path / "dev.age"
    assert _export(cli, dev, out, "--recipient", public).exit_code == 0
    _wipe(dev)
    ssm_calls.reset()
    result, document = cli.json(*dev.args, "params", "import", str(out), "--identity",
                                str(key), "--dry-run")
    assert result.exit_code == 0
    assert document["data"]["changes"] is True
    assert ssm_calls.writes == [] and dev.tree() == {}
    result, document = cli.json("-s", "prod", "params", "import", str(out), "--identity",
                                str(key), "--from-stage", "DEV")
    assert result.exit_code == 2
    assert document["error"]["code"] == "confirmation_required"
    assert ssm_calls.writes == []


def test_a_change_of_key_or_tier_alone_is_planned_and_written_with_them(
        cli, full_env, dev: Target, tmp_path: Path, ssm_calls: Calls) -> None:
    _world(cli, dev)
    public, key = _identity(tmp_path)
    out = tmp_path / "dev.age"
    assert _export(cli, dev, out, "--recipient", public).exit_code == 0
    prefix = dev.prefix()
    # Since the export: JWT_SECRET's key changed (same value), and the Advanced canary
    # was created again as Standard (same value).
    dev.ssm.put_parameter(Name=prefix + "security/jwt-secret", Value=CANARY,
                          Type="SecureString", Overwrite=True, KeyId="alias/aws/ssm")
    dev.ssm.delete_parameter(Name=prefix + "extra/canary-plain")
    dev.ssm.put_parameter(Name=prefix + "extra/canary-plain", Value=CANARY_PLAIN,
                          Type="String")
    result, document = cli.json(*dev.args, "params", "import", str(out), "--identity",
                                str(key), "--dry-run")
    assert result.exit_code == 0, result.stdout
    changes = {i["name"]: i["note"] for i in document["data"]["plan"]["items"]
               if i["action"] == "change"}
    assert changes == {
        "security/jwt-secret": f"KMS key alias/aws/ssm -> {CUSTOM_KEY}",
        "extra/canary-plain": "tier Standard -> Advanced"}
    sent: list[dict] = []
    ssm_calls.on_send("PutParameter", lambda body: sent.append(body))
    result, document = cli.json(*dev.args, "params", "import", str(out), "--identity",
                                str(key))
    assert result.exit_code == 0, result.stdout
    assert sorted(document["data"]["written"]) == ["JWT_SECRET", "extra/canary-plain"]
    by_name = {b["Name"].removeprefix(prefix): b for b in sent}
    assert by_name["security/jwt-secret"]["KeyId"] == CUSTOM_KEY
    assert by_name["security/jwt-secret"]["Description"] == "rotated every quarter"
    assert by_name["extra/canary-plain"]["Tier"] == "Advanced"
    assert dev.tier(prefix + "extra/canary-plain") == "Advanced"


def test_an_advanced_parameter_exported_standard_stays_advanced(
        cli, full_env, dev: Target, tmp_path: Path, ssm_calls: Calls) -> None:
    """AWS refuses to move a parameter back to Standard (moto does not: the test answers
    as AWS does, see test_tier.py)."""
    from tests.params.test_tier import DOWNGRADE

    public, key = _identity(tmp_path)
    name = dev.prefix() + "frontend/url"
    dev.ssm.put_parameter(Name=name, Value="https://old.example", Type="String")
    out = tmp_path / "dev.age"
    assert _export(cli, dev, out, "--recipient", public).exit_code == 0
    dev.ssm.put_parameter(Name=name, Value="https://new.example", Type="String",
                          Overwrite=True, Tier="Advanced")
    tiers: list[Any] = []

    def refuse_downgrade(body: dict) -> Any:
        tiers.append(body.get("Tier"))
        return None if body.get("Tier") == "Advanced" else aws_error("ValidationException",
                                                                      DOWNGRADE)

    ssm_calls.on_send("PutParameter", refuse_downgrade)
    result = cli(*dev.args, "params", "import", str(out), "--identity", str(key))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert tiers == ["Advanced"]
    assert dev.ssm.get_parameter(Name=name)["Parameter"]["Value"] == "https://old.example"


def test_a_failed_write_is_reported_and_the_rest_written(cli, full_env, dev: Target,
                                                         tmp_path: Path,
                                                         ssm_calls: Calls) -> None:
    _world(cli, dev)
    public, key = _identity(tmp_path)
    out = tmp_path / "dev.age"
    assert _export(cli, dev, out, "--recipient", public).exit_code == 0
    _wipe(dev)
    denied = dev.prefix() + "security/jwt-secret"
    ssm_calls.on_send("PutParameter", lambda body: aws_error(
        "AccessDeniedException", "not allowed: kms:Encrypt", 400)
        if body["Name"] == denied else None)
    result, document = cli.json(*dev.args, "params", "import", str(out), "--identity",
                                str(key))
    assert result.exit_code == 1
    assert document["error"]["code"] == "partial_failure"
    assert document["data"]["failed"] == ["JWT_SECRET"]
    assert denied not in dev.tree() and len(dev.tree()) == len(VALUES) + 3 - 1


@pytest.mark.parametrize(("args", "code"), [
    (("--out", "{tmp}/missing-dir/x.age", "--recipient", "{public}"), "bad_out"),
    (("--out", "{tmp}/x.age", "--recipient", "age1notakey"), "bad_recipient"),
])
def test_a_bad_out_or_recipient_is_refused_before_any_aws_call(
        cli, full_env, dev: Target, tmp_path: Path, ssm_calls: Calls,
        args: tuple[str, ...], code: str) -> None:
    public, _key = _identity(tmp_path)
    given = [a.format(tmp=tmp_path, public=public) for a in args]
    result, document = cli.json(*dev.args, "params", "export", *given)
    assert result.exit_code == 2
    assert document["error"]["code"] == code
    assert ssm_calls.calls == []
