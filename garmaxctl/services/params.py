"""``garmaxctl params``: Parameter Store as a reviewed, reversible copy of ``.env``.

The mapping is ``contract.PARAMETERS`` (``.env`` key -> path under ``/garmaxai/{STAGE}/`` ->
String or SecureString). Everything here works on typed results and never prints:

- :func:`read_tree` reads the stage's tree with ``GetParametersByPath`` (recursive,
  paginated 10 at a time, decrypted in memory) — ⌈N/10⌉ read calls;
- :func:`build_plan` compares the ``.env`` file's own values with it: add / change /
  unchanged / skipped / extra, plus ``blocked`` (a type change without ``--replace-type``,
  or a value larger than Parameter Store allows);
- :func:`apply_plan` writes only the differences, in parallel with bounded concurrency
  (the client's adaptive retry mode absorbs throttling) and reports each write;
- history, rollback (one parameter to an old version's value) and restore (the whole tree
  as it was at a point in time) build the same kind of plan from
  ``GetParameterHistory``, so they share the writer and its report.

A secret's value never leaves this module except through :func:`get_parameter` with
``decrypt=True`` and :func:`pull` (asked for by the user): plans, reports and lists carry a
short hash (``sha256:`` + 8 hex digits) instead. The reserved ``/garmaxai/ops/{STAGE}/``
tree is never read or written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import signal
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from garmaxctl import contract, redact
from garmaxctl.aws import describe_error, error_code
from garmaxctl.contract import ADVANCED_TIER_LIMIT, STANDARD_TIER_LIMIT, Kind, ParamSpec
from garmaxctl.errors import Interrupted, OperationError, UsageError

if TYPE_CHECKING:
    from garmaxctl.settings import EnvFile
    from garmaxctl.stage.target import StageTarget

PAGE_SIZE = 10  # GetParametersByPath's maximum page: N parameters cost ⌈N/10⌉ reads
HISTORY_PAGE_SIZE = 50  # GetParameterHistory's maximum page
MAX_WORKERS = 8  # concurrent writes; the adaptive retry mode paces them under throttling
SECURE = Kind.SECRET.value
PLAIN = Kind.PLAIN.value
_TYPE_MISMATCH = "HierarchyTypeMismatchException"


class Action(StrEnum):
    ADD = "add"
    CHANGE = "change"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"  # placeholder or empty in .env: never written
    EXTRA = "extra"  # in Parameter Store, not in .env (deleted only with --prune)
    BLOCKED = "blocked"  # a type change without --replace-type, or a value too large
    DELETE = "delete"  # an extra that --prune will delete


# ----------------------------------------------------------------------------- helpers

def short_hash(value: str) -> str:
    """What a plan shows for a secret: a short digest, never the value."""
    return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:8]


def relative(path: str, stage: str) -> str:
    prefix = contract.params_prefix(stage)
    return path[len(prefix):] if path.startswith(prefix) else path


def in_tree(path: str, stage: str) -> bool:
    """Inside ``/garmaxai/{STAGE}/`` and never inside the reserved ops tree."""
    return path.startswith(contract.params_prefix(stage)) and \
        not path.startswith(contract.ops_prefix(stage))


def _guard(path: str, stage: str) -> str:
    if not in_tree(path, stage):  # pragma: no cover - every caller builds in-tree paths
        raise UsageError(f"{path} is outside {contract.params_prefix(stage)}: params "
                         "reads and writes only that tree")
    return path


def resolve_name(name: str, stage: str) -> tuple[str, ParamSpec | None]:
    """NAME as the ``.env`` key, the path relative to the stage's prefix, or the full path."""
    text = name.strip()
    spec = contract.PARAMS_BY_ENV_KEY.get(text)
    if spec is not None:
        return spec.full_path(stage), spec
    prefix = contract.params_prefix(stage)
    path = text if text.startswith("/") else prefix + text.lstrip("/")
    parts = path.split("/")
    if not text or ".." in parts or "." in parts or not in_tree(path, stage) or \
            path == prefix:
        raise UsageError(
            f"{name!r} is not a parameter of stage {stage}",
            code="bad_name",
            hint=f"give the .env key (JWT_SECRET), a path relative to {prefix} "
                 f"(security/jwt-secret) or a full path under {prefix}")
    return path, contract.PARAMS_BY_PATH.get(relative(path, stage))


def _display(value: str | None, secret: bool) -> str | None:
    if value is None:
        return None
    return short_hash(value) if secret else value


def _error_text(exc: BaseException) -> tuple[str, str]:
    """(code, one redacted line) for a failed call."""
    problem = describe_error(exc)
    return problem.code, problem.message


def connect(target: StageTarget) -> Any:
    """The stage's SSM client; real stages refuse another account's credentials first
    (LOCAL: the stage target has probed the emulator once)."""
    target.check_account()
    return target.client("ssm")


# ----------------------------------------------------------------------------- reading

@dataclass
class RemoteParameter:
    """A parameter as read from Parameter Store. ``value`` stays in memory only."""

    path: str
    type: str
    version: int
    last_modified: dt.datetime | None
    value: str = field(repr=False)

    @property
    def secret(self) -> bool:
        return is_secret(self.path, self.type)


def is_secret(path: str, type_: str) -> bool:
    """A SecureString, or a key the mapping calls secret even if it was stored as a plain
    String (the old script did that): its value is shown and printed as a secret."""
    relative_path = path.split("/", 3)[-1]
    spec = contract.PARAMS_BY_PATH.get(relative_path)
    return type_ == SECURE or bool(spec and spec.secret)


def read_tree(client: Any, stage: str, *, decrypt: bool = True) -> dict[str, RemoteParameter]:
    """Every parameter under ``/garmaxai/{STAGE}/``: ⌈N/10⌉ ``GetParametersByPath`` calls."""
    found: dict[str, RemoteParameter] = {}
    paginator = client.get_paginator("get_parameters_by_path")
    pages = paginator.paginate(Path=contract.params_prefix(stage), Recursive=True,
                               WithDecryption=decrypt,
                               PaginationConfig={"PageSize": PAGE_SIZE})
    for page in pages:
        for item in page.get("Parameters", []):
            path = item["Name"]
            if not in_tree(path, stage):
                continue  # the ops tree is never part of params (guard; outside the prefix)
            remote = RemoteParameter(path=path, type=item.get("Type", PLAIN),
                                     version=int(item.get("Version", 0)),
                                     last_modified=item.get("LastModifiedDate"),
                                     value=item.get("Value", ""))
            if remote.secret:
                redact.register(remote.value)
            found[path] = remote
    return found


# ----------------------------------------------------------------------------- plans

@dataclass
class PlanItem:
    """One row of a plan. ``old``/``new`` are values for Strings, hashes for secrets."""

    action: Action
    key: str | None  # the .env key (None for a path the mapping does not know)
    name: str  # path relative to the stage's prefix
    path: str
    type: str | None  # the type to write (or the current type of an extra)
    current_type: str | None
    secret: bool
    old: str | None = None
    new: str | None = None
    version: int | None = None  # current version in Parameter Store
    tier: str | None = None  # "Advanced" when the value is over 4 KB
    note: str | None = None


@dataclass
class ParamsPlan:
    stage: str
    prefix: str
    items: list[PlanItem] = field(default_factory=list)
    ignored_keys: list[str] = field(default_factory=list)  # in .env, not in the mapping
    prune: bool = False
    source: str = ".env"  # ".env", "version N of NAME" or "as of TIME"

    def __post_init__(self) -> None:
        # The values to write, by path: in memory only (not a field: never rendered).
        self._values: dict[str, str] = {}

    def by_action(self, *actions: Action) -> list[PlanItem]:
        return [i for i in self.items if i.action in actions]

    @property
    def counts(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action}
        for item in self.items:
            counts[item.action.value] += 1
        return counts

    @property
    def writes(self) -> list[PlanItem]:
        return self.by_action(Action.ADD, Action.CHANGE)

    @property
    def deletes(self) -> list[PlanItem]:
        return self.by_action(Action.DELETE)

    @property
    def pending(self) -> list[PlanItem]:
        """What a push would do: writes, and deletes when pruning."""
        return self.writes + self.deletes

    @property
    def has_changes(self) -> bool:
        """``--exit-code``: adds, changes or blocked items; extras only with ``--prune``."""
        return bool(self.pending or self.by_action(Action.BLOCKED))

    def value_for(self, path: str) -> str:
        return self._values[path]

    def summary(self) -> str:
        counts = self.counts
        parts = [f"{counts[a]} {a}" for a in ("add", "change", "delete", "unchanged",
                                                 "skipped", "extra", "blocked") if counts[a]]
        return ", ".join(parts) or "nothing to compare"


def _check_size(value: str) -> tuple[str | None, str | None]:
    """(tier, blocking reason) for a value's size in bytes."""
    size = len(value.encode("utf-8"))
    if size > ADVANCED_TIER_LIMIT:
        return None, (f"value is {size} bytes: Parameter Store holds at most "
                      f"{ADVANCED_TIER_LIMIT} (Advanced tier)")
    if size > STANDARD_TIER_LIMIT:
        return "Advanced", None
    return None, None


def _desired_item(*, key: str | None, path: str, stage: str, value: str, type_: str,
                  current: RemoteParameter | None, replace_type: bool,
                  plan: ParamsPlan, source_note: str | None = None) -> PlanItem:
    secret = type_ == SECURE or bool(current and current.secret)
    tier, too_large = _check_size(value)
    item = PlanItem(action=Action.ADD, key=key, name=relative(path, stage), path=path,
                    type=type_, current_type=current.type if current else None,
                    secret=secret, new=_display(value, secret),
                    version=current.version if current else None, tier=tier,
                    note=source_note)
    notes = [source_note] if source_note else []
    if tier:
        notes.append("over 4 KB: Advanced tier")
    if current is not None:
        item.old = _display(current.value, secret)
        if current.type != type_:
            if replace_type:
                item.action = Action.CHANGE
                notes.append(f"type {current.type} -> {type_} (--replace-type)")
            else:
                item.action = Action.BLOCKED
                notes.append(f"type change {current.type} -> {type_}: refused without "
                             "--replace-type")
        elif current.value == value:
            item.action = Action.UNCHANGED
            item.new = None
            item.tier = None
            notes = [n for n in notes if n == source_note]
        else:
            item.action = Action.CHANGE
            if secret:
                notes.append("secret changed")
    if too_large and item.action is not Action.UNCHANGED:
        item.action = Action.BLOCKED
        notes.append(too_large)
    item.note = "; ".join(notes) or None
    if item.action in (Action.ADD, Action.CHANGE):
        plan._values[path] = value
    return item


def _extra_item(current: RemoteParameter, stage: str, key: str | None, prune: bool,
                note: str) -> PlanItem:
    return PlanItem(action=Action.DELETE if prune else Action.EXTRA, key=key,
                    name=relative(current.path, stage), path=current.path, type=current.type,
                    current_type=current.type, secret=current.secret,
                    old=_display(current.value, current.secret), version=current.version,
                    note=note + ("; --prune deletes it" if prune else ""))


def build_plan(env: EnvFile, remote: dict[str, RemoteParameter], stage: str, *,
               prune: bool = False, replace_type: bool = False) -> ParamsPlan:
    """Compare the ``.env`` file's values (the file alone) with the stage's tree."""
    plan = ParamsPlan(stage=stage, prefix=contract.params_prefix(stage), prune=prune,
                      source=str(env.path))
    remaining = dict(remote)
    for spec in contract.PARAMETERS:
        path = _guard(spec.full_path(stage), stage)
        current = remaining.pop(path, None)
        raw = env.values.get(spec.env_key)
        if raw is None:
            if current is not None:
                plan.items.append(_extra_item(current, stage, spec.env_key, prune,
                                              f"{spec.env_key} is not in {env.path.name}"))
            continue
        if contract.is_placeholder(raw):
            secret = spec.secret or bool(current and current.secret)
            plan.items.append(PlanItem(
                action=Action.SKIPPED, key=spec.env_key, name=spec.path, path=path,
                type=spec.kind.value, current_type=current.type if current else None,
                secret=secret,
                old=_display(current.value, secret) if current else None,
                version=current.version if current else None,
                note="empty: never written" if not raw.strip()
                else "placeholder: never written"))
            continue
        plan.items.append(_desired_item(key=spec.env_key, path=path, stage=stage, value=raw,
                                        type_=spec.kind.value, current=current,
                                        replace_type=replace_type, plan=plan))
    for path in sorted(remaining):
        plan.items.append(_extra_item(remaining[path], stage, None, prune,
                                      "not in the mapping (contract.PARAMETERS)"))
    plan.ignored_keys = [k for k in env.values if k not in contract.PARAMS_BY_ENV_KEY]
    return plan


def check_pushable(plan: ParamsPlan) -> None:
    """A plan with blocked items is refused as a whole (exit 2): nothing is written."""
    blocked = plan.by_action(Action.BLOCKED)
    if not blocked:
        return
    names = ", ".join(i.key or i.name for i in blocked)
    type_changes = [i for i in blocked if i.current_type and i.type != i.current_type]
    hint = "pass --replace-type to change a parameter's type" if type_changes else \
        "shorten the value (Parameter Store's limit is 8 KB)"
    raise UsageError(f"refusing to write: {len(blocked)} blocked parameter(s): {names}",
                     code="blocked", hint=hint,
                     data={"blocked": [{"key": i.key, "name": i.name, "note": i.note}
                                       for i in blocked]})


def plan_from_env(target: StageTarget, env: EnvFile, *, prune: bool = False,
                  replace_type: bool = False) -> ParamsPlan:
    from garmaxctl.errors import ConfigError

    stage = target.name
    if not env.exists:
        raise ConfigError(f"{env.path} not found",
                          hint="create it from .env.example, or pass --env-file")
    client = connect(target)
    return build_plan(env, read_tree(client, stage), stage, prune=prune,
                      replace_type=replace_type)


# ----------------------------------------------------------------------------- writing

@dataclass
class WriteResult:
    action: str  # add | change | delete
    key: str | None
    name: str
    path: str
    status: str  # written | failed | not attempted (interrupted)
    version: int | None = None
    error_code: str | None = None
    error: str | None = None
    note: str | None = None


@dataclass
class PushReport:
    stage: str
    source: str
    plan: dict[str, int]
    results: list[WriteResult] = field(default_factory=list)

    @property
    def written(self) -> list[WriteResult]:
        return [r for r in self.results if r.status == "written"]

    @property
    def failed(self) -> list[WriteResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> bool:
        return not self.failed


def _put(client: Any, item: PlanItem, value: str, kms_alias: str) -> tuple[int, str | None]:
    """One PutParameter (two calls more for a type AWS refuses to change in place)."""
    kwargs: dict[str, Any] = {"Name": item.path, "Value": value, "Type": item.type,
                              "Overwrite": item.action is not Action.ADD}
    if item.type == SECURE:
        kwargs["KeyId"] = kms_alias
    if item.tier:
        kwargs["Tier"] = item.tier
    try:
        return int(client.put_parameter(**kwargs)["Version"]), None
    except Exception as exc:
        if error_code(exc) != _TYPE_MISMATCH or item.current_type == item.type:
            raise
    # AWS documents that a type cannot change in place (HierarchyTypeMismatchException):
    # with --replace-type the parameter is deleted and created again; its history restarts.
    client.delete_parameter(Name=item.path)
    kwargs["Overwrite"] = False
    version = int(client.put_parameter(**kwargs)["Version"])
    return version, "type replaced by delete + create: its history restarts"


def _write_one(client: Any, plan: ParamsPlan, item: PlanItem, kms_alias: str) -> WriteResult:
    _guard(item.path, plan.stage)
    result = _result_for(item, "written")
    try:
        if item.action is Action.DELETE:
            try:
                client.delete_parameter(Name=item.path)
            except Exception as exc:
                if error_code(exc) != "ParameterNotFound":
                    raise
                result.note = "already gone"
        else:
            result.version, result.note = _put(client, item, plan.value_for(item.path),
                                               kms_alias)
    except Exception as exc:  # every write is reported, whatever went wrong
        result.status = "failed"
        result.error_code, result.error = _error_text(exc)
    return result


def _result_for(item: PlanItem, status: str) -> WriteResult:
    return WriteResult(action="delete" if item.action is Action.DELETE else item.action.value,
                       key=item.key, name=item.name, path=item.path, status=status)


def apply_plan(client: Any, plan: ParamsPlan, *, kms_alias: str,
               workers: int = MAX_WORKERS) -> PushReport:
    """Write the plan's adds and changes in parallel, then its deletes; report each.

    Ctrl-C stops what has not started, lets the writes in flight finish, and raises
    :class:`Interrupted` (exit 130) carrying the report: written, failed, not attempted.
    """
    report = PushReport(stage=plan.stage, source=plan.source, plan=plan.counts)
    batches = [b for b in (plan.writes, plan.deletes) if b]
    with _sigint_as_flag() as interrupted:
        for index, batch in enumerate(batches):
            with ThreadPoolExecutor(max_workers=max(1, min(workers, len(batch))),
                                    thread_name_prefix="params-write") as pool:
                futures = []
                for item in batch:
                    if interrupted.is_set():
                        break
                    futures.append(pool.submit(_write_one, client, plan, item, kms_alias))
                pending = set(futures)
                while pending and not interrupted.is_set():
                    _, pending = wait(pending, timeout=0.1)
                if interrupted.is_set():
                    for started in futures:
                        started.cancel()  # not started: never will; in flight: finishes
            for position, item in enumerate(batch):
                future = futures[position] if position < len(futures) else None
                report.results.append(
                    future.result() if future is not None and not future.cancelled()
                    else _result_for(item, "not attempted"))
            if interrupted.is_set():
                for later in batches[index + 1:]:
                    report.results += [_result_for(item, "not attempted") for item in later]
                not_written = [r.key or r.name for r in report.results
                               if r.status != "written"]
                raise Interrupted(
                    f"interrupted after {len(report.written)} of {len(report.results)} "
                    f"write(s); not written: {', '.join(not_written)}",
                    data={"report": report})
    return report


@contextlib.contextmanager
def _sigint_as_flag() -> Iterator[threading.Event]:
    """While writing, Ctrl-C sets a flag (checked between steps) instead of raising
    KeyboardInterrupt at an arbitrary point, where it could lose track of a write."""
    flag = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.signal(signal.SIGINT, lambda *_: flag.set())
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


# ----------------------------------------------------------------------------- list/get

@dataclass
class ListedParameter:
    key: str | None
    name: str
    path: str
    type: str
    version: int
    last_modified: dt.datetime | None


@dataclass
class ParamsList:
    stage: str
    prefix: str
    parameters: list[ListedParameter] = field(default_factory=list)


def list_parameters(target: StageTarget) -> ParamsList:
    """Names, types, versions and dates; no value (read without decryption)."""
    stage = target.name
    tree = read_tree(connect(target), stage, decrypt=False)
    result = ParamsList(stage=stage, prefix=contract.params_prefix(stage))
    for path in sorted(tree):
        p = tree[path]
        spec = contract.PARAMS_BY_PATH.get(relative(path, stage))
        result.parameters.append(ListedParameter(
            key=spec.env_key if spec else None, name=relative(path, stage), path=path,
            type=p.type, version=p.version, last_modified=p.last_modified))
    return result


@dataclass
class ParameterValue:
    key: str | None
    name: str
    path: str
    type: str
    version: int
    last_modified: dt.datetime | None
    value: str  # a SecureString's only with --decrypt (without it, get refuses)


class ParameterNotFoundError(OperationError):
    default_code = "parameter_not_found"


def _not_found(path: str, stage: str) -> ParameterNotFoundError:
    return ParameterNotFoundError(f"parameter {path} not found on stage {stage}",
                                  hint="`garmaxctl params list` shows what is there")


def get_parameter(target: StageTarget, name: str, *, decrypt: bool) -> ParameterValue:
    """One parameter's value; a SecureString's only with ``decrypt`` (else exit 2)."""
    stage = target.name
    path, spec = resolve_name(name, stage)
    client = connect(target)
    try:
        item = client.get_parameter(Name=path, WithDecryption=decrypt)["Parameter"]
    except Exception as exc:
        if error_code(exc) == "ParameterNotFound":
            raise _not_found(path, stage) from None
        raise
    if is_secret(path, item.get("Type", PLAIN)) and not decrypt:
        raise UsageError(f"{spec.env_key if spec else relative(path, stage)} is a "
                         "secret: its value is printed only with --decrypt",
                         code="secret", hint="pass --decrypt")
    return ParameterValue(key=spec.env_key if spec else None, name=relative(path, stage),
                          path=path, type=item.get("Type", PLAIN),
                          version=int(item.get("Version", 0)),
                          last_modified=item.get("LastModifiedDate"),
                          value=item.get("Value", ""))


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


# ----------------------------------------------------------------------------- history

@dataclass
class HistoryEntry:
    version: int
    type: str
    last_modified: dt.datetime | None
    modified_by: str | None
    value: str | None  # Strings only
    hash: str | None  # secrets: a short hash, never the value
    labels: list[str] = field(default_factory=list)


@dataclass
class ParameterHistory:
    key: str | None
    name: str
    path: str
    versions: list[HistoryEntry] = field(default_factory=list)


@dataclass
class _Version:
    version: int
    type: str
    last_modified: dt.datetime | None
    modified_by: str | None
    labels: list[str]
    value: str = field(repr=False)


def _read_history(client: Any, path: str, stage: str) -> list[_Version]:
    versions: list[_Version] = []
    try:
        pages = client.get_paginator("get_parameter_history").paginate(
            Name=path, WithDecryption=True, PaginationConfig={"PageSize": HISTORY_PAGE_SIZE})
        for page in pages:
            for item in page.get("Parameters", []):
                version = _Version(version=int(item["Version"]), type=item.get("Type", PLAIN),
                                   last_modified=item.get("LastModifiedDate"),
                                   modified_by=item.get("LastModifiedUser"),
                                   labels=list(item.get("Labels", [])),
                                   value=item.get("Value", ""))
                if is_secret(path, version.type):
                    redact.register(version.value)
                versions.append(version)
    except Exception as exc:
        if error_code(exc) == "ParameterNotFound":
            raise _not_found(path, stage) from None
        raise
    return sorted(versions, key=lambda v: v.version)


def history(target: StageTarget, name: str) -> ParameterHistory:
    stage = target.name
    path, spec = resolve_name(name, stage)
    versions = _read_history(connect(target), path, stage)
    result = ParameterHistory(key=spec.env_key if spec else None,
                              name=relative(path, stage), path=path)
    for v in versions:
        secret = is_secret(path, v.type)
        result.versions.append(HistoryEntry(
            version=v.version, type=v.type, last_modified=v.last_modified,
            modified_by=v.modified_by, value=None if secret else v.value,
            hash=short_hash(v.value) if secret else None, labels=v.labels))
    return result


def rollback_plan(target: StageTarget, name: str, *, to_version: int,
                  replace_type: bool = False) -> ParamsPlan:
    """A one-item plan: write version N's value (and type) as a new version."""
    stage = target.name
    path, spec = resolve_name(name, stage)
    client = connect(target)
    versions = _read_history(client, path, stage)
    chosen = next((v for v in versions if v.version == to_version), None)
    if chosen is None:
        kept = f"{versions[0].version}..{versions[-1].version}" if versions else "none"
        raise UsageError(f"{relative(path, stage)} has no version {to_version} "
                         f"(versions kept: {kept})", code="no_such_version",
                         hint="`garmaxctl params history NAME` lists them")
    latest = versions[-1]
    current = RemoteParameter(path=path, type=latest.type, version=latest.version,
                              last_modified=latest.last_modified, value=latest.value)
    plan = ParamsPlan(stage=stage, prefix=contract.params_prefix(stage),
                      source=f"version {to_version} of {relative(path, stage)}")
    plan.items.append(_desired_item(key=spec.env_key if spec else None, path=path,
                                    stage=stage, value=chosen.value, type_=chosen.type,
                                    current=current, replace_type=replace_type, plan=plan,
                                    source_note=f"from version {to_version}"))
    return plan


# ----------------------------------------------------------------------------- restore

def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment


def restore_plan(target: StageTarget, *, as_of: dt.datetime, prune: bool = False,
                 replace_type: bool = False,
                 workers: int = MAX_WORKERS) -> ParamsPlan:
    """The plan that brings every parameter of the tree back to its value at ``as_of``.

    Parameters created after ``as_of`` are extras (deleted only with ``prune``). A
    parameter whose history no longer reaches back that far (SSM keeps 100 versions) is
    skipped and says so. A parameter deleted since cannot come back: SSM deletes its
    history with it.
    """
    stage = target.name
    client = connect(target)
    tree = read_tree(client, stage)
    paths = sorted(tree)
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(paths) or 1))) as pool:
        histories = dict(zip(paths, pool.map(
            lambda p: _read_history(client, p, stage), paths), strict=True))
    plan = ParamsPlan(stage=stage, prefix=contract.params_prefix(stage), prune=prune,
                      source=f"as of {as_of.isoformat().replace('+00:00', 'Z')}")
    for path in paths:
        current = tree[path]
        spec = contract.PARAMS_BY_PATH.get(relative(path, stage))
        key = spec.env_key if spec else None
        versions = histories[path]
        then = [v for v in versions
                if (_aware(v.last_modified) or dt.datetime.max.replace(tzinfo=dt.UTC))
                <= as_of]
        if then:
            chosen = then[-1]
            plan.items.append(_desired_item(
                key=key, path=path, stage=stage, value=chosen.value, type_=chosen.type,
                current=current, replace_type=replace_type, plan=plan,
                source_note=f"version {chosen.version}"))
        elif versions and versions[0].version == 1:
            plan.items.append(_extra_item(current, stage, key, prune,
                                          "created after that time"))
        else:
            plan.items.append(PlanItem(
                action=Action.SKIPPED, key=key, name=relative(path, stage), path=path,
                type=current.type, current_type=current.type, secret=current.secret,
                old=_display(current.value, current.secret), version=current.version,
                note="history does not reach back that far (SSM keeps 100 versions)"))
    return plan


# ----------------------------------------------------------------------------- facade

def push_plan(target: StageTarget, plan: ParamsPlan, kms_alias: str,
              workers: int = MAX_WORKERS) -> PushReport:
    """Apply a plan built by :func:`plan_from_env` (the client is cached per run)."""
    return apply_plan(target.client("ssm"), plan, kms_alias=kms_alias, workers=workers)
