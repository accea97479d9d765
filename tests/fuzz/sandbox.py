"""One fuzz example's world: a temp working directory, state directory and home, no AWS
credentials, a stopped emulator; the run in-process (``tests/cli/conftest.py`` ``Run``),
time-boxed; and the checks every run must pass (issue 13, "Fuzzing")."""

from __future__ import annotations

import _thread
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.cli.conftest import Run
from tests.conftest import REPO, free_port

# The documented streams (docs/exit-codes.md, "Followers, watchers and streams"): JSON
# Lines under -o json, and Ctrl-C ends them with exit 0.
STREAM_COMMANDS = {("logs", "tail"): "--follow", ("local", "logs"): "--follow",
                   ("health",): "--watch"}
FOLLOWER_TIME_BOX_S = 2.0
TIME_BOX_S = 30.0  # anything else still running after this is a finding ("hang")


class _Other(BaseHTTPRequestHandler):
    """Another program on the emulator's port: `local up` must refuse it at once."""

    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


_BUSY: ThreadingHTTPServer | None = None


def busy_port() -> int:
    """A port held by a foreign HTTP server (started once per process)."""
    global _BUSY
    if _BUSY is None:
        _BUSY = ThreadingHTTPServer(("127.0.0.1", 0), _Other)
        threading.Thread(target=_BUSY.serve_forever, daemon=True).start()
    return int(_BUSY.server_address[1])


def snapshot(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every file and directory under ``root``: kind, size, mtime."""
    found: dict[str, tuple[str, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            try:
                st = path.lstat()
            except OSError:
                continue
            kind = "dir" if path.is_dir() and not path.is_symlink() else "file"
            found[str(path.relative_to(root))] = (kind, 0 if kind == "dir" else st.st_size,
                                                   0 if kind == "dir" else st.st_mtime_ns)
    return found


def repo_top() -> set[str]:
    return {p.name for p in REPO.iterdir()}


@dataclass
class Example:
    """A run's argv and what the checks need to know about it."""

    argv: list[str]
    json_mode: bool
    named_paths: list[str] = field(default_factory=list)  # paths options name (may write)
    env_bytes: bytes | None = None  # the .env written in the working directory
    words: tuple[str, ...] = ()  # the command words as drawn (for streams, time boxes)
    verbose: bool = False


@dataclass
class Verdict:
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    interrupted: bool
    findings: list[str]


class Sandbox:
    """A fresh directory tree per example under one base (removed at the end)."""

    def __init__(self, base: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ex-", dir=base))
        self.cwd = self.root / "cwd"
        self.state = self.root / "state"
        self.home = self.root / "home"
        self.bin = self.root / "bin"  # PATH: no node, npm, cdk nor git
        for path in (self.cwd, self.state, self.home, self.bin):
            path.mkdir()

    def env(self, words: tuple[str, ...]) -> dict[str, str | None]:
        port = busy_port() if words == ("local", "up") else free_port()
        return {
            "GARMAX_STATE_DIR": str(self.state), "GARMAX_LOCAL_PORT": str(port),
            "GARMAX_API_PORT": str(free_port()), "HOME": str(self.home),
            "PATH": str(self.bin), "CI": "true",
            # No credentials for real stages, and no instance metadata to wait for.
            "AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _allowed(relative: str, state: Path, named: Iterable[Path], root: Path) -> bool:
    """Under the state directory, a path an option names, or a folder made for one."""
    path = root / relative
    return path.is_relative_to(state) or any(path == p or p.is_relative_to(path)
                                             for p in named)


def run_example(base: Path, example: Example) -> Verdict:
    """Run one example in a fresh sandbox; return what happened and what is wrong."""
    box = Sandbox(base)
    root = str(box.root)
    example = Example(argv=[a.replace("@ROOT@", root) for a in example.argv],
                      json_mode=example.json_mode,
                      named_paths=[p.replace("@ROOT@", root) for p in example.named_paths],
                      env_bytes=example.env_bytes, words=example.words,
                      verbose=example.verbose)
    try:
        if example.env_bytes is not None:
            (box.cwd / ".env").write_bytes(example.env_bytes)
        before, top_before = snapshot(box.root), repo_top()
        follower = _is_stream(example)
        limit = FOLLOWER_TIME_BOX_S if follower else TIME_BOX_S
        interrupted = threading.Event()

        def ctrl_c() -> None:
            interrupted.set()
            _thread.interrupt_main()

        timer = threading.Timer(limit, ctrl_c)
        started = time.perf_counter()
        timer.start()
        try:
            result = Run(box.cwd)(*example.argv, env=box.env(example.words))
        finally:
            timer.cancel()
        seconds = time.perf_counter() - started
        verdict = Verdict(result.exit_code, result.stdout, result.stderr, seconds,
                          interrupted.is_set(), [])
        named = [Path(os.path.normpath(box.cwd / p)) for p in example.named_paths if p]
        after = snapshot(box.root)
        verdict.findings += check(example, verdict, follower)
        for relative, info in sorted(after.items()):
            if before.get(relative) != info and not _allowed(relative, box.state, named, box.root):
                verdict.findings.append(f"wrote outside the allowed places: {relative}")
        for gone in sorted(set(before) - set(after)):
            verdict.findings.append(f"removed {gone}")
        for new in sorted(repo_top() - top_before - {"cdk.out"}):
            verdict.findings.append(f"wrote {new} in the repository")
        return verdict
    finally:
        box.remove()


def _is_stream(example: Example) -> bool:
    flag = STREAM_COMMANDS.get(example.words)
    return flag is not None and any(a == flag or a.startswith(flag + "=") or
                                    (flag == "--follow" and a == "-f")
                                    for a in example.argv)


def check(example: Example, verdict: Verdict, follower: bool) -> list[str]:
    """The rules every run keeps (issue 13): exit code, no traceback, one JSON document."""
    findings = []
    code = verdict.exit_code
    if code not in (0, 1, 2, 3) and not verdict.interrupted:  # a hang is said below
        findings.append(f"exit code {code}")
    if verdict.interrupted and not follower:
        findings.append(f"still running after {TIME_BOX_S:g} s")
    if verdict.interrupted and follower and code != 0:
        findings.append(f"a follower stopped by Ctrl-C exited {code}")
    if code == 3 and "--exit-code" not in example.argv:
        findings.append("exit 3 without --exit-code")
    text = verdict.stdout + verdict.stderr
    if "Traceback (most recent call last)" in text and not example.verbose:
        findings.append("traceback printed")
    if "internal_error" in verdict.stdout or "unexpected error:" in verdict.stderr:
        findings.append("internal error: " + _first_line(verdict, "unexpected error"))
    if example.json_mode:
        findings += _check_json(verdict, streaming=follower)
    return findings


def _first_line(verdict: Verdict, needle: str) -> str:
    for line in (verdict.stdout + "\n" + verdict.stderr).splitlines():
        if needle in line:
            return line.strip()[:400]
    return ""


def _one_document(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _check_json(verdict: Verdict, *, streaming: bool) -> list[str]:
    out = verdict.stdout
    if streaming and not _one_document(out):
        # A stream that started: one JSON object per line, each with its schema.
        for line in out.splitlines():
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                return [f"a stream line is not JSON: {line[:200]!r}"]
            if not isinstance(event, dict) or "schema" not in event:
                return [f"a stream line has no schema: {line[:200]!r}"]
        return []
    try:
        document = json.loads(out)
    except ValueError:
        return [f"stdout is not one JSON document: {out[:300]!r}"]
    if not isinstance(document, dict) or document.get("schema") != 1:
        return ["the JSON document has no schema 1"]
    if document.get("exit_code") != verdict.exit_code:
        return [f"document exit_code {document.get('exit_code')} != {verdict.exit_code}"]
    if document.get("ok") is not (verdict.exit_code == 0):
        return ["ok does not match the exit code"]
    return []
