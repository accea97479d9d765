"""The stage's parameter tree: names, reading it, listing it and getting one value.

Paths live under ``/garmaxai/{STAGE}/`` (``contract.PARAMETERS`` maps ``.env`` keys to
them); the reserved ``/garmaxai/ops/{STAGE}/`` tree is never read or written.
:func:`read_tree` reads the whole tree with ``GetParametersByPath`` (recursive, paginated
10 at a time, decrypted in memory): ⌈N/10⌉ read calls. A decrypted secret is registered
with :mod:`garmaxctl.redact` as soon as it is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from garmaxctl import redact
from garmaxctl.aws import describe_error, error_code
from garmaxctl.shared import contract
from garmaxctl.shared.contract import Kind, ParamSpec
from garmaxctl.shared.errors import OperationError, UsageError

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

PAGE_SIZE = 10  # GetParametersByPath's maximum page: N parameters cost ⌈N/10⌉ reads
DESCRIBE_PAGE_SIZE = 50  # DescribeParameters' maximum page: the tiers cost ⌈N/50⌉ reads
ADVANCED = "Advanced"
SECURE = Kind.SECRET.value
PLAIN = Kind.PLAIN.value


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


@dataclass
class ParameterMeta:
    """What ``DescribeParameters`` says of a parameter beyond its value."""

    tier: str = "Standard"
    key_id: str | None = None  # SecureStrings: the KMS key it was written with
    description: str | None = None
    data_type: str | None = None  # "text" unless an aws:ec2:image (or similar) parameter


def read_metadata(client: Any, stage: str) -> dict[str, ParameterMeta]:
    """Each parameter's tier, KMS key id, description and data type, by path:
    ``DescribeParameters`` with a recursive path filter, 50 a page, so N parameters cost
    ⌈N/50⌉ calls. ``GetParametersByPath`` returns none of these."""
    found: dict[str, ParameterMeta] = {}
    pages = client.get_paginator("describe_parameters").paginate(
        ParameterFilters=[{"Key": "Path", "Option": "Recursive",
                           "Values": [contract.params_prefix(stage).rstrip("/")]}],
        PaginationConfig={"PageSize": DESCRIBE_PAGE_SIZE})
    for page in pages:
        for item in page.get("Parameters", []):
            if in_tree(item["Name"], stage):
                found[item["Name"]] = ParameterMeta(
                    tier=item.get("Tier", "Standard"), key_id=item.get("KeyId"),
                    description=item.get("Description") or None,
                    data_type=item.get("DataType"))
    return found


def read_tiers(client: Any, stage: str) -> dict[str, str]:
    """Each parameter's tier (``Standard`` or ``Advanced``), by path (:func:`read_metadata`)."""
    return {path: meta.tier for path, meta in read_metadata(client, stage).items()}


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
