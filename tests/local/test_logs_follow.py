"""``local logs --follow``: the last lines, then every new one exactly once until Ctrl-C
(exit 0); under -o json one ``line`` event per log line and the closing line last.

The follow loop's pause is injected (``follow_log(sleep=..., stop=...)``): the in-process
tests append to the log from inside the pause and press Ctrl-C there; one test runs the
real command in a subprocess and sends it a real SIGINT."""

from __future__ import annotations

import functools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from garmaxctl.local import supervisor
from tests.cli.conftest import Run
from tests.conftest import REPO


@pytest.fixture
def cli(tmp_path: Path) -> Run:
    return Run(tmp_path)


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The log `local up` writes, in this test's own state directory."""
    monkeypatch.setenv("GARMAX_STATE_DIR", str(tmp_path / "state"))
    path = supervisor.log_path()
    path.parent.mkdir(parents=True)
    path.write_text("".join(f"old {i}\n" for i in range(5)))
    return path


def append(path: Path, text: str) -> None:
    with open(path, "a") as handle:
        handle.write(text)


class Polls:
    """The follow loop's pause: at the i-th poll run ``steps[i]`` (write to the log, press
    Ctrl-C), never wait."""

    def __init__(self, *steps: Callable[[], None]) -> None:
        self.steps = list(steps)
        self.count = 0

    def __call__(self, seconds: float) -> None:
        self.count += 1
        if self.steps:
            self.steps.pop(0)()


def ctrl_c() -> None:
    raise KeyboardInterrupt


def inject(monkeypatch: pytest.MonkeyPatch, polls: Polls) -> None:
    """The command's follow loop, with its pause replaced by ``polls``."""
    monkeypatch.setattr(supervisor, "follow_log",
                        functools.partial(supervisor.follow_log, sleep=polls))


def test_follow_yields_each_appended_line_once_and_holds_a_half_written_one(log) -> None:
    start = supervisor.log_size(log)
    polls = Polls(lambda: append(log, "new 1\nnew 2\nhalf"),
                  lambda: append(log, " done\n"))
    seen = list(supervisor.follow_log(log, offset=start, sleep=polls,
                                      stop=lambda: polls.count >= 3))
    assert seen == ["new 1", "new 2", "half done"]


def test_read_up_to_an_offset_then_follow_from_it_misses_and_repeats_nothing(log) -> None:
    end = supervisor.log_size(log)
    append(log, "written between the read and the follow\n")
    assert supervisor.read_log(log, 2, end=end) == ["old 3", "old 4"]
    assert list(supervisor.follow_log(log, offset=end, sleep=lambda s: None,
                                      stop=lambda: True)) == [
        "written between the read and the follow"]


def test_json_follow_is_a_stream_of_line_events_ended_by_ctrl_c(log, cli, monkeypatch) -> None:
    polls = Polls(lambda: append(log, "new 1\n"), lambda: append(log, 'new "2"\n'), ctrl_c)
    inject(monkeypatch, polls)
    result = cli("-o", "json", "local", "logs", "--follow", "-n", "2")
    assert result.exit_code == 0
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["event"] for e in events] == ["line"] * 4 + ["end"]
    assert [e["data"] for e in events[:-1]] == [
        {"line": "old 3"}, {"line": "old 4"}, {"line": "new 1"}, {"line": 'new "2"'}]
    assert all(e["schema"] == 1 and e["command"] == "local logs" for e in events)
    end = events[-1]
    assert end["ok"] is True and end["exit_code"] == 0
    assert end["data"] == {"log_path": str(log), "lines_shown": 4}
    assert "stopped (Ctrl-C)" in result.stderr


def test_follow_for_people_prints_the_lines_and_ctrl_c_exits_0(log, cli, monkeypatch) -> None:
    inject(monkeypatch, Polls(lambda: append(log, "new 1\n"), ctrl_c))
    result = cli("local", "logs", "-f", "-n", "1")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["old 4", "new 1"]


def test_without_follow_json_stays_one_document(log, cli) -> None:
    result, document = cli.json("local", "logs", "-n", "2")
    assert result.exit_code == 0 and document["data"]["lines"] == ["old 3", "old 4"]
    assert "event" not in document


def test_a_real_ctrl_c_ends_the_json_stream_with_0_and_a_closing_line(log) -> None:
    """The command as users run it, in its own process, stopped by SIGINT."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "garmaxctl", "-o", "json", "local", "logs", "-f", "-n", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in process.stdout or ()],
                     daemon=True).start()

    def next_event() -> dict:
        return json.loads(lines.get(timeout=20))

    try:
        assert next_event()["data"] == {"line": "old 4"}  # the follower has started
        append(log, "new 1\n")
        assert next_event()["data"] == {"line": "new 1"}
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0, process.stderr and process.stderr.read()
        end = next_event()
    finally:
        if process.poll() is None:
            process.kill()
    assert end["event"] == "end" and end["exit_code"] == 0 and end["ok"] is True
    assert end["data"]["lines_shown"] == 2
    time.sleep(0.2)
    assert lines.empty()  # the closing line is the last


def test_follow_does_not_spin(log) -> None:
    """Between polls the loop waits ``poll_s``: no busy loop at the end of the file."""
    waits: list[float] = []
    list(supervisor.follow_log(log, poll_s=0.25, sleep=waits.append,
                               stop=lambda: len(waits) >= 3))
    assert waits == [0.25, 0.25, 0.25]
