"""The audit trail: one record per run of a mutating command (docs/security.md, "Audit trail").

``garmaxctl.app`` calls :func:`record_run` once a command marked ``mutates`` in the
registry has finished, whatever its outcome; a command contributes only what it changed
and its plan (``output.Audit``), never a record of its own.

- **Local**: ``{state_dir}/audit/{STAGE}.jsonl``, one record per line in canonical JSON
  (sorted keys, no spaces). Each record holds ``seq`` (1, 2, ...), ``prev`` (the previous
  record's ``hash``; 64 zeros for the first) and ``hash`` (sha256 of its own canonical
  JSON without ``hash``): a hash chain. Appends hold an exclusive ``flock`` on
  ``{STAGE}.lock``, so concurrent runs never interleave nor fork the chain.
- **Remote**: the stage's ``/garmaxai/{STAGE}/audit`` log group (created by the stack),
  one event per record in the stream ``garmaxctl/{YYYY-MM-DD}``, then the chain's head
  (``seq``, ``hash``) in SSM at ``contract.audit_head_parameter``. Records not sent yet
  (no log group: bootstrap, a first deploy, destroy; the stage unreachable) stay "remote
  pending" (``{STAGE}.sent`` holds the last ``seq`` sent) and go with the next audited run
  that reaches the stage.
- :func:`verify_chain` finds the first broken link: an edited, deleted or reordered line,
  or a tail cut below the head kept in SSM.

Never recorded: a secret option's value (``--token``...: the name stays, the value is
``****``), any registered secret (``redact``), the plan itself (only its sha256).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from garmaxctl import __version__, redact
from garmaxctl.shared import contract

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

RECORD_SCHEMA = 1
AUDIT_FOLDER = "audit"
GENESIS = "0" * 64
# An option whose name says it holds a secret is recorded by name only.
SECRET_OPTION = re.compile(r"(?i)token|secret|passw|passphrase|credential|private|api_?key")
MAX_VALUE_CHARS = 200  # an argument's value is cut here (paths, reasons)
MAX_CHANGED = 50  # "what changed" keeps this many entries, then "... and N more"
# Errors of a remote send that leave the record pending without a warning: the stage has
# no audit log group yet (bootstrap, first deploy, destroy) or cannot be reached now.
_PENDING_CODES = {"ResourceNotFoundException", "emulator_not_running",
                  "endpoint_unreachable", "EndpointConnectionError", "ConnectTimeoutError"}


# --------------------------------------------------------------------------- records

def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(value: Any) -> str:
    text = value if isinstance(value, str) else canonical(value)
    return hashlib.sha256(text.encode()).hexdigest()


def record_hash(record: dict[str, Any]) -> str:
    return sha256({k: v for k, v in record.items() if k != "hash"})


def clean_value(value: Any) -> Any:
    """An argument's value as JSON, redacted and cut short."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [clean_value(v) for v in value]
    text = redact.redact(str(getattr(value, "value", value)))
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "..."


def clean_arguments(params: dict[str, Any]) -> dict[str, Any]:
    """A command's parsed options and arguments with secrets removed: a secret option's
    value is never recorded (``****`` when it was given)."""
    cleaned: dict[str, Any] = {}
    for name, value in sorted(params.items()):
        if SECRET_OPTION.search(name):
            cleaned[name] = redact.MASK if value not in (None, "", False) else value
        else:
            cleaned[name] = clean_value(value)
    return cleaned


@dataclass
class RunFacts:
    """What the app knows of a finished run (plain values: no CLI object crosses here)."""

    run_id: str
    started: dt.datetime
    stage: str
    command: str
    params: dict[str, Any]
    options: dict[str, Any]  # the global options that matter: profile, region, endpoint, yes
    exit_code: int
    outcome: str  # "ok", or the symbolic error code (docs/exit-codes.md)
    changed: list[str] = field(default_factory=list)
    plan: Any = None  # the plan carried out (JSON-able); only its digest is kept
    caller: str | None = None


def build_record(facts: RunFacts, *, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.UTC)
    changed = [clean_value(c) for c in facts.changed[:MAX_CHANGED]]
    if len(facts.changed) > MAX_CHANGED:
        changed.append(f"... and {len(facts.changed) - MAX_CHANGED} more")
    return {
        "schema": RECORD_SCHEMA,
        "run_id": facts.run_id,
        "time": iso(now),
        "started": iso(facts.started),
        "version": __version__,
        "caller": facts.caller,
        "stage": facts.stage,
        "command": facts.command,
        "arguments": clean_arguments(facts.params),
        "options": {k: clean_value(v) for k, v in sorted(facts.options.items())},
        "plan_digest": None if facts.plan is None else "sha256:" + sha256(facts.plan),
        "changed": changed,
        "outcome": facts.outcome,
        "exit_code": facts.exit_code,
    }


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- local store

def audit_dir() -> Path:
    from garmaxctl.settings import state_dir

    return state_dir() / AUDIT_FOLDER


def chain_path(stage: str) -> Path:
    return audit_dir() / f"{stage}.jsonl"


def _sent_path(stage: str) -> Path:
    return audit_dir() / f"{stage}.sent"


@contextmanager
def _locked(stage: str) -> Iterator[None]:
    folder = audit_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(folder / f"{stage}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _last_line(path: Path) -> tuple[str | None, bool]:
    """The file's last complete line, and whether the file ends in a torn (unterminated)
    write. Reads the tail only."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            chunk = 1 << 16
            while True:
                start = max(0, size - chunk)
                f.seek(start)
                data = f.read(size - start)
                torn = bool(data) and not data.endswith(b"\n")
                lines = data.rstrip(b"\n").split(b"\n") if not torn else \
                    data.split(b"\n")[:-1]
                if len(lines) > 1 or start == 0:
                    last = lines[-1] if lines and lines[-1] else None
                    return (last.decode() if last else None), torn
                chunk *= 4
    except FileNotFoundError:
        return None, False


def append(stage: str, record: dict[str, Any]) -> dict[str, Any]:
    """Chain ``record`` after the stage's last one and append it (locked, fsynced)."""
    path = chain_path(stage)
    with _locked(stage):
        last, torn = _last_line(path)
        try:
            previous = json.loads(last) if last else None
        except ValueError:  # an edited last line: chain on; `audit verify` reports it
            previous = {"seq": 0, "hash": sha256(str(last))}
        record = {**record, "seq": (previous or {}).get("seq", 0) + 1,
                  "prev": (previous or {}).get("hash", GENESIS)}
        record["hash"] = record_hash(record)
        line = ("\n" if torn else "") + canonical(record) + "\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    return record


def read_chain(stage: str) -> list[str]:
    path = chain_path(stage)
    return path.read_text().splitlines() if path.exists() else []


def stages_on_disk() -> list[str]:
    folder = audit_dir()
    return sorted(p.stem for p in folder.glob("*.jsonl")) if folder.exists() else []


def records(stage: str) -> list[dict[str, Any]]:
    """The stage's records that parse (``verify_chain`` judges the rest)."""
    parsed = []
    for line in read_chain(stage):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            parsed.append(value)
    return parsed


def sent_seq(stage: str) -> int:
    try:
        return int(json.loads(_sent_path(stage).read_text()).get("seq", 0))
    except (FileNotFoundError, ValueError, AttributeError):
        return 0


# --------------------------------------------------------------------------- remote

@dataclass
class WriteReport:
    record: dict[str, Any]
    remote: str  # "sent", "pending"
    warnings: list[str] = field(default_factory=list)


def record_run(facts: RunFacts, target: StageTarget | None) -> WriteReport:
    """Append the run's record; send what is pending when the run reached the stage.

    Raises only when the local write fails (the caller turns that into a warning); a
    remote failure leaves the record pending, with a warning unless the stage simply has
    no audit log group yet or cannot be reached now."""
    record = append(facts.stage, build_record(facts))
    report = WriteReport(record=record, remote="pending")
    if target is None or not target.connected:
        return report
    try:
        send_pending(target, facts.stage)
        report.remote = "sent" if sent_seq(facts.stage) >= record["seq"] else "pending"
    except Exception as exc:
        problem = _problem(exc)
        if sent_seq(facts.stage) >= record["seq"]:
            report.remote = "sent"
            report.warnings.append(
                f"audit record {record['run_id']} sent, but its head was not kept in "
                f"{contract.audit_head_parameter(facts.stage)}: {problem[1]}")
        elif problem[0] not in _PENDING_CODES:
            report.warnings.append(
                f"audit record {record['run_id']} kept locally, not sent to "
                f"{contract.audit_log_group(facts.stage)}: {problem[1]}")
    return report


def _problem(exc: BaseException) -> tuple[str, str]:
    from garmaxctl.aws import describe_error

    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:  # a GarmaxError (a stopped emulator)
        return code, str(exc)
    problem = describe_error(exc)
    return problem.code, problem.line()


def send_pending(target: StageTarget, stage: str, *, batch: int = 500) -> int:
    """Send the stage's records past the last one sent, in order, then move the head in
    SSM; returns how many were sent. Raises the AWS error that stopped it."""
    with _locked(stage):
        done = sent_seq(stage)
        pending = [r for r in records(stage) if r.get("seq", 0) > done]
        if not pending:
            return 0
        logs = target.client("logs")
        group = contract.audit_log_group(stage)
        now = dt.datetime.now(dt.UTC)
        stream = f"garmaxctl/{now:%Y-%m-%d}"
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except Exception as exc:
            if _problem(exc)[0] != "ResourceAlreadyExistsException":
                raise
        stamp = int(now.timestamp() * 1000)  # sending time: the record carries its own
        for start in range(0, len(pending), batch):
            chunk = pending[start:start + batch]
            logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
                {"timestamp": stamp, "message": canonical(r)} for r in chunk])
        last = pending[-1]
        # Sent: never sent twice, even if the head below fails (it then lags behind).
        _sent_path(stage).write_text(canonical({"seq": last["seq"], "hash": last["hash"]}))
        head = {"seq": last["seq"], "hash": last["hash"], "run_id": last.get("run_id"),
                "time": last.get("time")}
        target.client("ssm").put_parameter(
            Name=contract.audit_head_parameter(stage), Value=canonical(head), Type="String",
            Overwrite=True, Description="garmaxctl audit chain head (do not edit)")
        return len(pending)


def read_head(target: StageTarget, stage: str) -> dict[str, Any] | None:
    """The head kept in SSM, or None when the stage has none yet."""
    from garmaxctl.aws import error_code

    try:
        value = target.client("ssm").get_parameter(
            Name=contract.audit_head_parameter(stage))["Parameter"]["Value"]
    except Exception as exc:
        if error_code(exc) == "ParameterNotFound":
            return None
        raise
    head = json.loads(value)
    return head if isinstance(head, dict) else None


# --------------------------------------------------------------------------- verify

@dataclass
class ChainCheck:
    stage: str
    records: int
    ok: bool
    line: int | None = None  # the first broken line (1-based), None when ok
    problem: str | None = None
    head: str = "not checked"  # "matches", "none in SSM", "not checked: why", "broken"


def verify_chain(stage: str, head: dict[str, Any] | None = None) -> ChainCheck:
    """The first broken link of the stage's local chain, and the tail against ``head``."""
    lines = read_chain(stage)
    check = ChainCheck(stage=stage, records=len(lines), ok=True)
    prev, seq = GENESIS, 0
    by_seq: dict[int, str] = {}
    for number, line in enumerate(lines, start=1):
        problem = _link_problem(line, prev, seq, number)
        if problem:
            check.ok, check.line, check.problem = False, number, problem
            return check
        record = json.loads(line)
        prev, seq = record["hash"], record["seq"]
        by_seq[seq] = prev
    if head is not None:
        head_seq, head_hash = int(head.get("seq", 0)), str(head.get("hash", ""))
        if head_seq > seq:
            check.ok, check.line, check.head = False, len(lines) + 1, "broken"
            check.problem = (f"truncated: the head in SSM is record {head_seq} "
                             f"({head_hash[:12]}), the local chain ends at record {seq}")
        elif by_seq.get(head_seq) != head_hash:
            check.ok, check.head = False, "broken"
            check.line = next((i for i, line in enumerate(lines, 1)
                               if f'"seq":{head_seq},' in line), None)
            check.problem = f"record {head_seq} differs from the head in SSM ({head_hash[:12]})"
        else:
            check.head = "matches"
    return check


def _link_problem(line: str, prev: str, seq: int, number: int) -> str | None:
    try:
        record = json.loads(line)
    except ValueError:
        return f"line {number} is not JSON (edited or a torn write)"
    if not isinstance(record, dict) or not {"seq", "prev", "hash"} <= set(record):
        return f"line {number} is not an audit record"
    if record_hash(record) != record["hash"]:
        return f"line {number} (record {record['seq']}) was edited: its hash does not match"
    if record["prev"] != prev or record["seq"] != seq + 1:
        return (f"line {number} (record {record['seq']}) does not follow record {seq}: "
                "a record was deleted or reordered")
    return None
