"""History, rollback and restore, all read from ``GetParameterHistory``.

:func:`history` lists a parameter's versions (a short hash for a secret's value);
:func:`rollback_plan` writes an old version's value as a new version; :func:`restore_plan`
brings the whole tree back to what it held at a point in time. Both return a
:class:`~.plan.ParamsPlan`, written by :func:`~.push.push_plan` like any other.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from garmaxctl import redact
from garmaxctl.aws import error_code
from garmaxctl.services.params.plan import (
    Action,
    ParamsPlan,
    PlanItem,
    _desired_item,
    _extra_item,
    keep_tiers,
)
from garmaxctl.services.params.push import MAX_WORKERS
from garmaxctl.services.params.replace import history_restarted
from garmaxctl.services.params.tree import (
    PLAIN,
    RemoteParameter,
    _display,
    _not_found,
    connect,
    is_secret,
    read_tree,
    relative,
    resolve_name,
    short_hash,
)
from garmaxctl.shared import contract
from garmaxctl.shared.errors import UsageError

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

HISTORY_PAGE_SIZE = 50  # GetParameterHistory's maximum page


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
    description: str | None = None


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
                                   value=item.get("Value", ""),
                                   description=item.get("Description"))
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
    return keep_tiers(client, plan)


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
        elif versions and versions[0].version == 1 and \
                history_restarted(versions[0].description):
            # It existed then: garmaxctl deleted and created it again (a type change).
            restarted = _aware(versions[0].last_modified)
            at = restarted.isoformat().replace("+00:00", "Z") if restarted else "?"
            plan.items.append(_skipped(
                current, stage, key, f"history restarted at {at} by garmaxctl (type "
                "replaced): its value before then is not kept; never deleted"))
        elif versions and versions[0].version == 1:
            plan.items.append(_extra_item(current, stage, key, prune,
                                          "created after that time"))
        else:
            plan.items.append(_skipped(
                current, stage, key,
                "history does not reach back that far (SSM keeps 100 versions)"))
    return keep_tiers(client, plan)


def _skipped(current: RemoteParameter, stage: str, key: str | None, note: str) -> PlanItem:
    return PlanItem(action=Action.SKIPPED, key=key, name=relative(current.path, stage),
                    path=current.path, type=current.type, current_type=current.type,
                    secret=current.secret, old=_display(current.value, current.secret),
                    version=current.version, note=note)
