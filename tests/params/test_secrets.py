"""Acceptance 3: a canary secret appears in no params command's output, in either format,
except `get --decrypt` and `pull --decrypt`."""

from __future__ import annotations

import logging
from pathlib import Path

from tests.params.conftest import CANARY, VALUES, Target, env_text

CANARY_V2 = CANARY + "-rotated"


def _quiet_again() -> None:
    """Undo --verbose's process-wide logging set-up (CliRunner closes its streams)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_garmax", False)]:
        root.removeHandler(handler)
    for name in ("garmaxctl", "botocore.endpoint", "botocore.parsers",
                 "botocore.retryhandler"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def _outputs(cli, target: Target, *args: str, verbose: bool = False) -> list[str]:
    """stdout + stderr of the command in table mode and JSON mode (and with --verbose)."""
    texts = []
    for extra in ([], ["-o", "json"], *([["--verbose"]] if verbose else [])):
        result = cli(*target.args, *extra, "params", *args)
        if "--verbose" in extra:
            _quiet_again()
        texts.append(f"$ params {' '.join(args)} {' '.join(extra)} -> {result.exit_code}\n"
                     f"{result.stdout}{result.stderr}")
    return texts


def test_a_canary_secret_never_appears_in_any_output(cli, write_env, local: Target,
                                                     tmp_path: Path) -> None:
    # Through the real emulator (rendering is the same for every stage; a run under
    # mock_aws doubled the time and found nothing more).
    target = local
    write_env(env_text(VALUES))
    seen: list[str] = []
    seen += _outputs(cli, target, "plan", verbose=True)
    seen += _outputs(cli, target, "push", "--dry-run")
    assert cli(*target.args, "params", "push").exit_code == 0

    write_env(env_text(dict(VALUES, JWT_SECRET=CANARY_V2)))
    seen += _outputs(cli, target, "diff", "--exit-code")
    seen += _outputs(cli, target, "plan", "--prune")
    seen += _outputs(cli, target, "push", verbose=True)  # writes the rotated value
    seen += _outputs(cli, target, "list")
    seen += _outputs(cli, target, "get", "JWT_SECRET", verbose=True)  # refused
    seen += _outputs(cli, target, "get", "security/jwt-secret")
    seen += _outputs(cli, target, "pull")  # refused: secrets, no --decrypt
    seen += _outputs(cli, target, "pull", "--format", "json")
    seen += _outputs(cli, target, "pull", "--out", str(tmp_path / "a.env"), "--force")
    seen += _outputs(cli, target, "history", "JWT_SECRET")
    seen += _outputs(cli, target, "rollback", "JWT_SECRET", "--to-version", "1",
                     "--dry-run")
    seen += _outputs(cli, target, "rollback", "JWT_SECRET", "--to-version", "1")
    seen += _outputs(cli, target, "rollback", "JWT_SECRET", "--to-version", "2")
    seen += _outputs(cli, target, "restore", "--as-of", "1d", "--dry-run")
    seen += _outputs(cli, target, "restore", "--as-of", "1s", verbose=True)
    # A secret stored with the wrong type is still shown as a hash.
    target.ssm.put_parameter(Name=f"/garmaxai/{target.stage}/security/jwt-secret",
                             Value=CANARY, Type="String", Overwrite=True)
    seen += _outputs(cli, target, "plan")
    seen += _outputs(cli, target, "push")  # blocked: type change
    seen += _outputs(cli, target, "push", "--replace-type")

    text = "\n".join(seen)
    assert CANARY not in text, text
    assert "canary-5ecret" not in text
    assert "sha256:" in text  # the plans did show the secret as a hash
    assert "-> 0" in text and "-> 2" in text  # and both paths ran

    # The two ways to ask for it do print it (and prove the canary was really there).
    decrypted = cli(*target.args, "params", "get", "JWT_SECRET", "--decrypt")
    assert decrypted.exit_code == 0 and decrypted.stdout == CANARY_V2 + "\n"
    pulled = cli(*target.args, "params", "pull", "--decrypt")
    assert pulled.exit_code == 0 and f"JWT_SECRET='{CANARY_V2}'" in pulled.stdout
    assert CANARY_V2 in (tmp_path / "a.env").read_text()
