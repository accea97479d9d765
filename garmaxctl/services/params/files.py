"""``params pull``: the stage's parameters as a ``.env`` (or JSON) document.

A ``.env`` value is quoted so python-dotenv reads it back byte for byte
(:func:`dotenv_quote`). Printing a secret needs ``--decrypt``; ``--out`` writes every
value to a file created with mode 0600, atomically (:func:`write_private_file`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from garmaxctl.services.params.tree import connect, read_tree, relative
from garmaxctl.shared import contract
from garmaxctl.shared.errors import UsageError

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget


# ----------------------------------------------------------------------------- pull

@dataclass
class PullResult:
    stage: str
    format: str
    keys: list[str] = field(default_factory=list)
    secret_keys: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)  # paths with no .env key: not pulled
    out: str | None = None
    values: dict[str, str] | None = None  # only when printed (plain, or with --decrypt)

    def __post_init__(self) -> None:
        self._content = ""

    @property
    def content(self) -> str:
        return self._content


_NEEDS_DOUBLE_QUOTES = re.compile(r"[\r\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DOUBLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\r": "\\r", "\x07": "\\a", "\b": "\\b",
                   "\f": "\\f", "\v": "\\v"}


def dotenv_quote(value: str) -> str:
    """Quote a value so python-dotenv reads it back exactly (and never interpolates it).

    Single quotes by default: python-dotenv decodes only ``\\\\`` and ``\\'`` inside them,
    keeps newlines (multi-line JSON stays readable) and never expands ``${VAR}`` there.
    A value with a carriage return or another control character that a text-mode read
    would alter is written double-quoted with escapes instead.
    """
    if not _NEEDS_DOUBLE_QUOTES.search(value):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    out = []
    for ch in value:
        if ch in _DOUBLE_ESCAPES:
            out.append(_DOUBLE_ESCAPES[ch])
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def to_dotenv(values: dict[str, str]) -> str:
    return "".join(f"{key}={dotenv_quote(value)}\n" for key, value in values.items())


def to_json(values: dict[str, str]) -> str:
    return json.dumps(values, indent=2, ensure_ascii=False) + "\n"


def _refuse_existing(path: Path, *, force: bool) -> None:
    if path.exists() and not force:
        raise UsageError(f"{path} exists", code="file_exists",
                         hint="pass --force to replace it, or choose another --out")


def write_private_file(path: Path, content: str, *, force: bool) -> None:
    """Create ``path`` with mode 0600, atomically (temp file in the same dir + rename)."""
    _refuse_existing(path, force=force)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(f"cannot write {path}: {directory} is not a directory",
                         code="bad_out", hint="create the directory, or choose another --out")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def pull(target: StageTarget, *, fmt: str, out: Path | None, decrypt: bool,
         force: bool = False) -> PullResult:
    """The stage's parameters as a ``.env`` (or JSON) document: to a 0600 file, or printed.

    Printing a secret needs ``decrypt`` (exit 2 otherwise, on a terminal or not); a file
    written with ``--out`` holds every value.
    """
    stage = target.name
    if fmt not in ("dotenv", "json"):
        raise UsageError(f"unknown format {fmt!r}: use dotenv or json", code="usage")
    if out is not None:
        _refuse_existing(out, force=force)  # before any AWS call
    client = connect(target)
    fetch_secrets = decrypt or out is not None
    tree = read_tree(client, stage, decrypt=fetch_secrets)
    result = PullResult(stage=stage, format=fmt, out=str(out) if out else None)
    values: dict[str, str] = {}
    for spec in contract.PARAMETERS:
        current = tree.pop(spec.full_path(stage), None)
        if current is None:
            continue
        values[spec.env_key] = current.value
        result.keys.append(spec.env_key)
        if current.secret:
            result.secret_keys.append(spec.env_key)
    result.unmapped = sorted(relative(p, stage) for p in tree)
    if out is None and result.secret_keys and not decrypt:
        raise UsageError(
            f"refusing to print {len(result.secret_keys)} secret(s) "
            f"({', '.join(result.secret_keys)}) without --decrypt",
            code="secrets_need_decrypt",
            hint="pass --decrypt to print them, or --out FILE to write a 0600 file")
    content = to_dotenv(values) if fmt == "dotenv" else to_json(values)
    if out is not None:
        write_private_file(out, content, force=force)
    else:
        result.values = values
        result._content = content
    return result
