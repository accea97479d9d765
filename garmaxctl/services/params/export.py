"""``params export`` / ``params import``: an encrypted backup of the stage's tree.

:func:`export_parameters` reads every parameter under ``/garmaxai/{STAGE}/`` with the
reader ``params`` already uses (:func:`~.tree.read_tree`, SecureStrings decrypted in
memory: that needs ``kms:Decrypt``) and :func:`~.tree.read_metadata` (tier, KMS key id,
description), builds one JSON document in memory — stage, time, and per parameter its
name, value, type, tier, KMS key id, description, data type and the version it was
exported at — encrypts it with age (pyrage) to a passphrase (scrypt) or to X25519
recipients, and writes the ASCII-armored result with mode 0600, atomically
(:func:`~.files.write_private_file`). The plaintext never touches the disk.

:func:`open_export` decrypts a file (wrong passphrase, wrong identity, a damaged or
foreign file: one-line :class:`~garmaxctl.shared.errors.UsageError`, exit 2);
:func:`import_plan` turns it into a :class:`~.plan.ParamsPlan` against the stage's tree,
written by :func:`~.push.push_plan` like a push, each parameter with its own type, tier,
KMS key id and description (``ParamsPlan.put_options_for``). A file exported from
another stage is refused unless the caller names that stage (``from_stage``); then its
SecureStrings take the target stage's KMS alias (a key belongs to its account).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from garmaxctl import __version__, redact
from garmaxctl.services.params.files import _refuse_existing, write_private_file
from garmaxctl.services.params.plan import (
    Action,
    ParamsPlan,
    PlanItem,
    _desired_item,
    _extra_item,
)
from garmaxctl.services.params.tree import (
    ADVANCED,
    PLAIN,
    SECURE,
    ParameterMeta,
    _display,
    connect,
    in_tree,
    is_secret,
    read_metadata,
    read_tree,
    relative,
)
from garmaxctl.shared import contract
from garmaxctl.shared.errors import UsageError

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

FORMAT = "garmaxctl-params-export"
FORMAT_VERSION = 1
TYPES = (PLAIN, "StringList", SECURE)
TIERS = ("Standard", ADVANCED)
_AGE_MAGIC = b"age-encryption.org/v1\n"
_ARMOR_BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
_ARMOR_END = b"-----END AGE ENCRYPTED FILE-----"


class ExportFileError(UsageError):
    """Not a garmaxctl params export, or a damaged one."""

    default_code = "bad_export"


class DecryptFailedError(UsageError):
    """A wrong passphrase or identity."""

    default_code = "decrypt_failed"


class StageMismatchError(UsageError):
    default_code = "stage_mismatch"


# ----------------------------------------------------------------------------- age

@dataclass
class Sealing:
    """How an export is encrypted: to recipients (``age1...``) or with a passphrase."""

    passphrase: str | None = field(default=None, repr=False)
    recipients: list[str] = field(default_factory=list)

    @property
    def method(self) -> str:
        return "recipient" if self.recipients else "passphrase"


def parse_recipients(texts: list[str]) -> list[Any]:
    """Each ``age1...`` public key, checked before any AWS call (exit 2 if malformed)."""
    import pyrage

    parsed = []
    for text in texts:
        try:
            parsed.append(pyrage.x25519.Recipient.from_str(text.strip()))
        except pyrage.RecipientError as exc:
            raise UsageError(f"--recipient {text!r} is not an age public key ({exc})",
                             code="bad_recipient",
                             hint="give an X25519 recipient, as `age-keygen -y` prints it "
                                  "(age1...)") from None
    return parsed


def load_identities(path: Path) -> list[Any]:
    """The ``AGE-SECRET-KEY-1...`` lines of an identity file (age-keygen's format)."""
    import pyrage

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read --identity {path}: "
                         f"{getattr(exc, 'strerror', None) or exc}",
                         code="bad_identity") from None
    keys = [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    identities = []
    for number, key in enumerate(keys, 1):
        try:
            identities.append(pyrage.x25519.Identity.from_str(key))
        except pyrage.IdentityError:
            raise UsageError(f"--identity {path}: key {number} is not an age secret key",
                             code="bad_identity",
                             hint="give a file that age-keygen wrote (AGE-SECRET-KEY-1...)"
                             ) from None
    if not identities:
        raise UsageError(f"--identity {path} holds no age secret key", code="bad_identity",
                         hint="give a file that age-keygen wrote (AGE-SECRET-KEY-1...)")
    return identities


def seal(plaintext: bytes, sealing: Sealing) -> bytes:
    """age-encrypt in memory, ASCII-armored."""
    import pyrage

    if sealing.recipients:
        return bytes(pyrage.encrypt(plaintext, parse_recipients(sealing.recipients),
                                    armored=True))
    if not sealing.passphrase:
        raise UsageError("an empty passphrase protects nothing", code="passphrase_required")
    return bytes(pyrage.passphrase.encrypt(plaintext, sealing.passphrase, armored=True))


def _binary(data: bytes, source: str) -> bytes:
    """The age file itself: the armor (if any) removed."""
    text = data.strip()
    if not text.startswith(_ARMOR_BEGIN):
        return data
    if not text.endswith(_ARMOR_END):
        raise ExportFileError(f"{source} is damaged: its armor has no end line")
    body = b"".join(text[len(_ARMOR_BEGIN):-len(_ARMOR_END)].split())
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ExportFileError(f"{source} is damaged: its armor is not base64") from None


def sealed_with(data: bytes, source: str) -> str:
    """``"passphrase"`` or ``"recipient"``: read from the age header, no key needed."""
    binary = _binary(data, source)
    if not binary.startswith(_AGE_MAGIC):
        raise ExportFileError(f"{source} is not a garmaxctl params export (not an age file)")
    header = binary.split(b"\n---", 1)[0]
    return "passphrase" if b"\n-> scrypt " in header else "recipient"


def read_sealed(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path} not found", code="file_not_found",
                         hint="give the file `garmaxctl params export --out` wrote") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}",
                         code="file_not_found") from None


# ----------------------------------------------------------------------------- the file

@dataclass
class Entry:
    """One exported parameter. ``value`` stays in memory only."""

    name: str  # relative to the stage's prefix
    type: str
    tier: str
    version: int
    key_id: str | None = None
    description: str | None = None
    data_type: str | None = None
    last_modified: str | None = None
    value: str = field(default="", repr=False)


@dataclass
class ExportFile:
    """A decrypted export (in memory)."""

    source: str
    stage: str
    exported_at: str
    method: str
    garmaxctl_version: str | None
    entries: list[Entry] = field(default_factory=list, repr=False)


def _to_document(stage: str, exported_at: str, entries: list[Entry]) -> bytes:
    document = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "garmaxctl": __version__,
        "stage": stage, "prefix": contract.params_prefix(stage), "exported_at": exported_at,
        "parameters": [{"name": e.name, "type": e.type, "tier": e.tier,
                        "key_id": e.key_id, "description": e.description,
                        "data_type": e.data_type, "version": e.version,
                        "last_modified": e.last_modified, "value": e.value}
                       for e in entries]}
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def _valid_name(name: Any) -> bool:
    parts = name.split("/") if isinstance(name, str) else []
    return bool(parts) and all(p and p not in (".", "..") for p in parts)


def _entry(raw: Any, source: str) -> Entry:
    try:
        entry = Entry(name=raw["name"], type=raw["type"], tier=raw.get("tier") or "Standard",
                      version=int(raw.get("version") or 0), key_id=raw.get("key_id"),
                      description=raw.get("description"), data_type=raw.get("data_type"),
                      last_modified=raw.get("last_modified"), value=raw["value"])
    except (KeyError, TypeError, ValueError):
        raise ExportFileError(f"{source}: a parameter entry is incomplete") from None
    if not _valid_name(entry.name) or entry.type not in TYPES or \
            entry.tier not in TIERS or not isinstance(entry.value, str):
        raise ExportFileError(f"{source}: parameter {str(entry.name)[:80]!r} is not valid "
                              "(name, type or tier)")
    return entry


def _from_document(plaintext: bytes, source: str, method: str) -> ExportFile:
    from garmaxctl.shared.stages import normalize_stage

    try:
        document = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        document = None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ExportFileError(f"{source} decrypted, but it is not a garmaxctl params export")
    if document.get("format_version") != FORMAT_VERSION:
        raise ExportFileError(f"{source} is format version {document.get('format_version')}"
                              f"; this garmaxctl reads version {FORMAT_VERSION}",
                              hint="import it with the garmaxctl that exported it")
    try:
        stage = normalize_stage(str(document["stage"])).value
    except (KeyError, UsageError):
        raise ExportFileError(f"{source} does not record a known stage") from None
    raw_entries = document.get("parameters")
    if not isinstance(raw_entries, list):
        raise ExportFileError(f"{source} holds no parameter list")
    result = ExportFile(source=source, stage=stage, method=method,
                        exported_at=str(document.get("exported_at") or "?"),
                        garmaxctl_version=document.get("garmaxctl"),
                        entries=[_entry(raw, source) for raw in raw_entries])
    prefix = contract.params_prefix(stage)
    for entry in result.entries:
        if is_secret(prefix + entry.name, entry.type):
            redact.register(entry.value)
    return result


def open_export(data: bytes, *, source: str, passphrase: str | None = None,
                identity: Path | None = None) -> ExportFile:
    """Decrypt and check an export: with ``identity`` for a file sealed to recipients,
    ``passphrase`` for one sealed with a passphrase. Every failure is one line, exit 2."""
    import pyrage

    method = sealed_with(data, source)
    try:
        if method == "recipient":
            if identity is None:
                raise UsageError(f"{source} is encrypted to an age recipient key",
                                 code="identity_required",
                                 hint="pass --identity FILE (the key's secret half)")
            plaintext = bytes(pyrage.decrypt(data, load_identities(identity)))
        else:
            if identity is not None:
                raise UsageError(f"{source} is encrypted with a passphrase, not to a key",
                                 code="passphrase_required",
                                 hint="drop --identity; give the passphrase")
            if not passphrase:
                raise UsageError("no passphrase given", code="passphrase_required")
            redact.register(passphrase)
            plaintext = bytes(pyrage.passphrase.decrypt(data, passphrase))
    except pyrage.DecryptError as exc:
        reason = str(exc)
        if method == "passphrase" and reason == "Decryption failed":
            raise DecryptFailedError(f"cannot decrypt {source}: wrong passphrase, or the "
                                     "file is damaged") from None
        if reason == "No matching keys found":
            raise DecryptFailedError(f"cannot decrypt {source}: no key in --identity "
                                     f"{identity} opens it") from None
        raise ExportFileError(f"cannot decrypt {source}: the file is damaged "
                              f"({reason})") from None
    return _from_document(plaintext, source, method)


# ----------------------------------------------------------------------------- export

@dataclass
class ExportedParameter:
    """A row of the export's report: never a value."""

    key: str | None
    name: str
    type: str
    tier: str
    version: int
    key_id: str | None


@dataclass
class ExportResult:
    stage: str
    prefix: str
    out: str
    method: str  # "passphrase" | "recipient"
    recipients: list[str]
    exported_at: str
    parameters: list[ExportedParameter] = field(default_factory=list)

    @property
    def secure(self) -> int:
        return sum(1 for p in self.parameters if p.type == SECURE)


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def export_parameters(target: StageTarget, *, out: Path, sealing: Sealing,
                      force: bool = False) -> ExportResult:
    """Every parameter of the stage's tree, encrypted in memory, to a 0600 file."""
    stage = target.name
    _refuse_existing(out, force=force)  # before any AWS call
    directory = out.parent if str(out.parent) else Path(".")
    if not directory.is_dir():
        raise UsageError(f"cannot write {out}: {directory} is not a directory",
                         code="bad_out", hint="create the directory, or choose another --out")
    if sealing.recipients:
        parse_recipients(sealing.recipients)
    elif not sealing.passphrase:
        raise UsageError("an empty passphrase protects nothing", code="passphrase_required")
    client = connect(target)
    tree = read_tree(client, stage, decrypt=True)
    metas = read_metadata(client, stage)
    exported_at = _iso(dt.datetime.now(dt.UTC).replace(microsecond=0)) or ""
    entries = []
    for path in sorted(tree):
        current, meta = tree[path], metas.get(path) or ParameterMeta()
        entries.append(Entry(name=relative(path, stage), type=current.type, tier=meta.tier,
                             version=current.version,
                             key_id=meta.key_id if current.type == SECURE else None,
                             description=meta.description, data_type=meta.data_type,
                             last_modified=_iso(current.last_modified), value=current.value))
    sealed = seal(_to_document(stage, exported_at, entries), sealing)
    write_private_file(out, sealed.decode("ascii"), force=force)
    result = ExportResult(stage=stage, prefix=contract.params_prefix(stage), out=str(out),
                          method=sealing.method, recipients=list(sealing.recipients),
                          exported_at=exported_at)
    for entry in entries:
        spec = contract.PARAMS_BY_PATH.get(entry.name)
        result.parameters.append(ExportedParameter(
            key=spec.env_key if spec else None, name=entry.name, type=entry.type,
            tier=entry.tier, version=entry.version, key_id=entry.key_id))
    return result


# ----------------------------------------------------------------------------- import

def check_stage(export: ExportFile, stage: str, from_stage: str | None) -> None:
    """The file records its stage: another stage's file needs ``--from-stage`` naming it."""
    from garmaxctl.shared.stages import normalize_stage

    if from_stage is not None:
        named = normalize_stage(from_stage).value
        if named != export.stage:
            raise StageMismatchError(
                f"{export.source} is an export of stage {export.stage}, not {named}",
                hint=f"pass --from-stage {export.stage} to import it into {stage}")
        return
    if export.stage != stage:
        raise StageMismatchError(
            f"{export.source} is an export of stage {export.stage}; this run targets {stage}",
            hint=f"pass --from-stage {export.stage} to import it into {stage} on purpose")


def _match_metadata(item: PlanItem, entry: Entry, meta: ParameterMeta | None,
                    key_id: str | None, plan: ParamsPlan) -> None:
    """Beyond the value: the tier, the KMS key and the description the file records.
    A difference in any of them is a change; every write carries them (put options)."""
    notes: list[str] = []
    advanced = entry.tier == ADVANCED or item.tier == ADVANCED
    if meta is not None and item.action in (Action.UNCHANGED, Action.CHANGE):
        changed: list[str] = []
        if entry.tier == ADVANCED and meta.tier != ADVANCED:
            changed.append(f"tier {meta.tier} -> {ADVANCED}")
        if item.current_type == SECURE and item.type == SECURE and meta.key_id != key_id:
            changed.append(f"KMS key {meta.key_id} -> {key_id}")
        if entry.description and meta.description != entry.description:
            changed.append("description changed")
        if meta.tier == ADVANCED and entry.tier != ADVANCED and \
                (changed or item.action is Action.CHANGE):
            advanced = True
            notes.append("Advanced tier kept (AWS cannot move a parameter back to Standard)")
        if changed and item.action is Action.UNCHANGED:
            item.action = Action.CHANGE
            item.new = _display(entry.value, item.secret)
            plan._values[item.path] = entry.value
        notes = changed + notes
    if item.action not in (Action.ADD, Action.CHANGE):
        return
    if advanced:
        item.tier = ADVANCED
    options: dict[str, str] = {}
    if item.type == SECURE and key_id:
        options["KeyId"] = key_id
    if entry.description:
        options["Description"] = entry.description
    if entry.data_type and entry.data_type != "text":
        options["DataType"] = entry.data_type
    plan._put_options[item.path] = options
    item.note = "; ".join(n for n in [item.note, *notes] if n) or None


def import_plan(target: StageTarget, export: ExportFile, *, kms_alias: str,
                from_stage: str | None = None, prune: bool = False,
                replace_type: bool = False) -> ParamsPlan:
    """The plan that makes the stage's tree hold what the export holds.

    Parameters under the prefix that the export lacks are extras: reported, and deleted
    only with ``prune`` (as ``push --prune``).
    """
    stage = target.name
    check_stage(export, stage, from_stage)
    same_stage = export.stage == stage
    client = connect(target)
    tree = read_tree(client, stage)
    metas = read_metadata(client, stage)
    when = export.exported_at
    source = f"{Path(export.source).name} ({export.stage} at {when})"
    plan = ParamsPlan(stage=stage, prefix=contract.params_prefix(stage), prune=prune,
                      source=source)
    for entry in sorted(export.entries, key=lambda e: e.name):
        path = contract.params_prefix(stage) + entry.name
        if not in_tree(path, stage):
            raise ExportFileError(f"{export.source}: {entry.name!r} is outside "
                                  f"{contract.params_prefix(stage)}")
        spec = contract.PARAMS_BY_PATH.get(entry.name)
        key_id = ((entry.key_id if same_stage else None) or kms_alias) \
            if entry.type == SECURE else None
        item = _desired_item(key=spec.env_key if spec else None, path=path, stage=stage,
                             value=entry.value, type_=entry.type, current=tree.pop(path, None),
                             replace_type=replace_type, plan=plan)
        _match_metadata(item, entry, metas.get(path), key_id, plan)
        plan.items.append(item)
    for path in sorted(tree):
        spec = contract.PARAMS_BY_PATH.get(relative(path, stage))
        plan.items.append(_extra_item(tree[path], stage, spec.env_key if spec else None,
                                      prune, "not in the export"))
    return plan
