"""Writing a plan: only its differences, in parallel, each write reported.

:func:`apply_plan` writes the adds and changes with bounded concurrency (the client's
adaptive retry mode absorbs throttling), then the deletes. Ctrl-C sets a flag instead of
raising at an arbitrary point: what has not started is not attempted, the writes in flight
finish, and :class:`~garmaxctl.shared.errors.Interrupted` carries the report.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from garmaxctl.aws import describe_error, error_code
from garmaxctl.services.params.plan import Action, ParamsPlan, PlanItem
from garmaxctl.services.params.tree import SECURE, _error_text, _guard
from garmaxctl.shared.errors import Interrupted

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

MAX_WORKERS = 8  # concurrent writes; the adaptive retry mode paces them under throttling
_TYPE_MISMATCH = "HierarchyTypeMismatchException"
ADVANCED = "Advanced"
# The label on the first version of a parameter whose history garmaxctl restarted (a type
# replaced by delete + create): `restore --as-of` reads it (versions.py).
RESTARTED_LABEL = "garmaxctl-history-restarted"
DESCRIBE_BATCH = 50  # DescribeParameters: at most 50 names in one Name filter


class ReplaceFailed(Exception):
    """A type replacement whose create failed; the message says what became of the old
    value (put back, or gone and how to recover). Never carries a value."""


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
    return _replace(client, item, kwargs), "type replaced by delete + create: history restarted"


def _replace(client: Any, item: PlanItem, kwargs: dict[str, Any]) -> int:
    """Delete and create again; if the create fails, the old value goes back (with its
    type, tier, KMS key and description) so that nothing is lost but the old history."""
    old = client.get_parameter(Name=item.path, WithDecryption=True)["Parameter"]
    meta: dict[str, Any] = next(iter(client.describe_parameters(ParameterFilters=[
        {"Key": "Name", "Option": "Equals", "Values": [item.path]}])["Parameters"]), {})
    client.delete_parameter(Name=item.path)
    try:
        version = int(client.put_parameter(**{**kwargs, "Overwrite": False})["Version"])
    except Exception as exc:
        problem = describe_error(exc).line()
        back: dict[str, Any] = {"Name": item.path, "Value": old["Value"], "Type": old["Type"],
                                "Overwrite": False, "Tier": meta.get("Tier") or "Standard"}
        if old["Type"] == SECURE and meta.get("KeyId"):
            back["KeyId"] = meta["KeyId"]
        if meta.get("Description"):
            back["Description"] = meta["Description"]
        try:
            client.put_parameter(**back)
            _label_restarted(client, item.path)
        except Exception as again:
            raise ReplaceFailed(
                f"the create failed ({problem}) and putting the old value back failed too "
                f"({describe_error(again).line()}): {item.path} is gone; push it again "
                "from .env (`garmaxctl params push`)") from exc
        raise ReplaceFailed(
            f"the create failed ({problem}); the old value and type were put back as "
            "version 1 (its history restarted)") from exc
    _label_restarted(client, item.path)
    return version


def _label_restarted(client: Any, path: str) -> None:
    client.label_parameter_version(Name=path, ParameterVersion=1, Labels=[RESTARTED_LABEL])


def keep_advanced_tiers(client: Any, plan: ParamsPlan) -> None:
    """A write without ``Tier`` gets the account's default tier (Standard), and AWS refuses
    to move an Advanced parameter down: existing Advanced parameters keep their tier."""
    paths = [i.path for i in plan.writes if not i.tier and i.current_type is not None]
    for start in range(0, len(paths), DESCRIBE_BATCH):
        names = paths[start:start + DESCRIBE_BATCH]
        pages = client.get_paginator("describe_parameters").paginate(ParameterFilters=[
            {"Key": "Name", "Option": "Equals", "Values": names}])
        advanced = {p["Name"] for page in pages for p in page.get("Parameters", [])
                    if p.get("Tier") == ADVANCED}
        for item in plan.writes:
            if item.path in advanced and not item.tier:
                item.tier = ADVANCED
                item.note = "; ".join(filter(None, [item.note, "Advanced tier kept"]))


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
    keep_advanced_tiers(client, plan)
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


def push_plan(target: StageTarget, plan: ParamsPlan, kms_alias: str,
              workers: int = MAX_WORKERS) -> PushReport:
    """Apply a plan built by :func:`~.plan.plan_from_env` (the client is cached per run)."""
    return apply_plan(target.client("ssm"), plan, kms_alias=kms_alias, workers=workers)
