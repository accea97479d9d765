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

from garmaxctl.aws import access_denied, error_code
from garmaxctl.services.params.plan import Action, ParamsPlan, PlanItem
from garmaxctl.services.params.replace import ReplaceFailedError, replace_type
from garmaxctl.services.params.tree import SECURE, _error_text, _guard
from garmaxctl.shared.errors import Interrupted

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

MAX_WORKERS = 8  # concurrent writes; the adaptive retry mode paces them under throttling
_TYPE_MISMATCH = "HierarchyTypeMismatchException"


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


def _put(client: Any, item: PlanItem, value: str, kms_alias: str,
         options: dict[str, str]) -> tuple[int, str | None]:
    """One PutParameter; a type AWS refuses to change in place is replaced (.replace).

    ``options`` are the plan's extra fields for this path (an import's KeyId,
    Description, DataType); a SecureString without a KeyId of its own gets ``kms_alias``.
    """
    kwargs: dict[str, Any] = {"Name": item.path, "Value": value, "Type": item.type,
                              "Overwrite": item.action is not Action.ADD}
    key_id = options.pop("KeyId", None)
    if item.type == SECURE:
        kwargs["KeyId"] = key_id or kms_alias
    kwargs.update(options)
    if item.tier:
        kwargs["Tier"] = item.tier
    try:
        return int(client.put_parameter(**kwargs)["Version"]), None
    except Exception as exc:
        if error_code(exc) != _TYPE_MISMATCH or item.current_type == item.type:
            raise
    # AWS documents that a type cannot change in place (HierarchyTypeMismatchException):
    # with --replace-type the parameter is deleted and created again, never lost.
    return replace_type(client, item, kwargs)


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
                                               kms_alias, plan.put_options_for(item.path))
    except ReplaceFailedError as exc:  # says what the parameter holds now
        result.status = "failed"
        result.error_code, result.error, result.note = exc.code, exc.message, exc.note
    except Exception as exc:  # every write is reported, whatever went wrong
        result.status = "failed"
        result.error_code, result.error = _error_text(exc)
        denial = access_denied(exc)
        if denial is not None:  # names the action, the parameter and the caller
            result.error = denial.what()
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


def push_plan(target: StageTarget, plan: ParamsPlan, kms_alias: str,
              workers: int = MAX_WORKERS) -> PushReport:
    """Apply a plan built by :func:`~.plan.plan_from_env` (the client is cached per run)."""
    return apply_plan(target.client("ssm"), plan, kms_alias=kms_alias, workers=workers)
