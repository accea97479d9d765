"""Issue 12, acceptance 2: ``logs tail --follow`` over 5 groups with events arriving
throughout shows every event exactly once, in order per group, none lost (≥ 2,000);
throttling answers slow it down and never end it; Ctrl-C (a KeyboardInterrupt raised
from the injected sleep) ends it with exit 0 and the stream's closing JSON line.

(a) FilterLogEvents polling against the real embedded emulator (a writer thread puts
events, in new streams too, while the tail runs; every 7th FilterLogEvents answer is
AWS's ThrottlingException). (b) Live Tail against a fake event stream answering as
StartLiveTail does (botocore model ``StartLiveTailResponseStream``): sessions that end
with SessionTimeoutException / SessionStreamingException / a closed stream, a new
session that repeats the previous one's last update, events ingested between sessions
(only FilterLogEvents has them), batches out of order and throttled requests.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest

from garmaxctl.shared import contract
from tests.logs.conftest import (
    FakeTime,
    json_lines,
    powertools,
    response,
    stack_template,
    throttling,
)

FUNCTIONS = list(contract.Function)


def _check_stream(stdout: str, expected: dict[str, list[int]]) -> dict[str, Any]:
    """Every expected (group, seq) exactly once, in order per group; the closing line."""
    lines = json_lines(stdout)
    assert lines[-1]["event"] == "end", lines[-1]
    assert lines[-1]["exit_code"] == 0 and lines[-1]["ok"] is True
    logs = lines[:-1]
    assert all(line["event"] == "log" and line["schema"] == 1 for line in logs)
    shown: dict[str, list[int]] = defaultdict(list)
    for line in logs:
        event = line["data"]
        shown[event["group"]].append(json.loads(event["raw"])["seq"])
    for group, seqs in expected.items():
        assert len(shown[group]) == len(set(shown[group])), f"duplicates in {group}"
        assert shown[group] == sorted(shown[group]), f"out of order in {group}"
        assert shown[group] == seqs, f"{group}: {len(shown[group])} of {len(seqs)}"
    return dict(lines[-1])


# --------------------------------------------------------------------------- (a) polling

@pytest.fixture
def local_emulator(emulator_port: int, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The bare emulator, reset, with the LOCAL stack's log groups (from a template)."""
    import boto3

    endpoint = f"http://localhost:{emulator_port}"
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset",
                                                  method="POST"), timeout=30).read()
    monkeypatch.setenv("GARMAX_LOCAL_PORT", str(emulator_port))
    boto3.client("cloudformation", endpoint_url=endpoint, region_name="us-east-1"
                 ).create_stack(StackName=contract.stack_name("LOCAL"),
                                TemplateBody=stack_template("LOCAL"))
    return boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1")


def test_polling_the_emulator_shows_every_event_once_through_throttling_and_ctrl_c(
        local_emulator, cli, fake_time: FakeTime, hooks) -> None:
    groups = [contract.function_log_group(f, "LOCAL") for f in FUNCTIONS]
    per_group, batch = 420, 15
    expected = {g: list(range(per_group)) for g in groups}
    done = threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            base = int(time.time() * 1000) - 60_000
            for start in range(0, per_group, batch):
                for g, group in enumerate(groups):
                    stream = f"2026/01/01/[$LATEST]{start // 105:04d}"  # new streams too
                    if start % 105 == 0:
                        local_emulator.create_log_stream(logGroupName=group,
                                                         logStreamName=stream)
                    local_emulator.put_log_events(
                        logGroupName=group, logStreamName=stream, logEvents=[
                            {"timestamp": base + seq * 10 + g,
                             "message": powertools(f"event {seq}", seq=seq)}
                            for seq in range(start, start + batch)])
                time.sleep(0.01)
        except BaseException as exc:
            failures.append(exc)
        finally:
            done.set()

    calls = {"n": 0}

    def every_seventh(_: dict) -> Any:
        calls["n"] += 1
        return throttling() if calls["n"] % 7 == 0 else None

    hooks.handlers["FilterLogEvents"] = every_seventh
    started = time.monotonic()
    done_at: list[float] = []

    def ctrl_c_when_finished(clock: FakeTime) -> None:
        if done.is_set() and not done_at:
            done_at.append(clock.now)
        # Several rounds (5 s of the tail's clock) after the writer's last put, or a
        # real-time limit so a losing tail fails the assertions instead of hanging.
        if (done_at and clock.now - done_at[0] > 5) or time.monotonic() - started > 120:
            raise KeyboardInterrupt

    fake_time.on_sleep = ctrl_c_when_finished
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    result = cli("-o", "json", "logs", "tail", "--follow", "--since", "5m")
    thread.join(30)
    assert not failures, failures
    assert result.exit_code == 0, result.stderr
    end = _check_stream(result.stdout, expected)
    stats = end["data"]["stats"]
    assert stats["events"] == 5 * per_group >= 2000
    assert stats["transport"] == "filter-log-events"
    assert stats["throttled"] >= 3 and hooks.count("FilterLogEvents") >= 7
    # The shared budget: at most 1 request/s per group (a burst of one each) on the tail's
    # clock, though a round is due every 0.5 s.
    assert hooks.count("FilterLogEvents") <= 5 * (fake_time.now - 1000.0) + 5
    assert "backing off" in result.stderr and "stopped (Ctrl-C)" in result.stderr


# --------------------------------------------------------------------------- (b) Live Tail

@dataclass
class FakeLiveTail:
    """CloudWatch Logs for 5 groups as Live Tail and FilterLogEvents see it. Each
    ``sessionUpdate`` is one second in which every group ingests ``rate`` events; a
    second passes with no session open before each session (only FilterLogEvents has
    those events)."""

    groups: list[str]
    arns: dict[str, str]
    rate: int = 10
    updates_per_session: int = 9
    sessions: int = 5
    page_size: int = 37
    store: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    second: int = 0
    started: int = 0
    last_update: list[dict[str, Any]] = field(default_factory=list)
    live_tail_calls: int = 0
    filter_calls: int = 0
    finished: int = 0  # sessions whose stream has ended
    epoch_ms: int = field(default_factory=lambda: int(time.time() * 1000) - 120_000)

    def ingest(self) -> list[dict[str, Any]]:
        self.second += 1
        fresh = []
        for g, group in enumerate(self.groups):
            for i in range(self.rate):
                seq = len(self.store[group])
                timestamp = self.epoch_ms + self.second * 1000 + i * 50 + g
                event = {"logGroupIdentifier": self.arns[group],
                         "logStreamName": f"2026/01/01/[$LATEST]{self.second // 4}",
                         "timestamp": timestamp, "ingestionTime": timestamp + 700,
                         "message": powertools(f"event {seq}", seq=seq),
                         "eventId": f"{group}-{seq}"}
                self.store[group].append(event)
                fresh.append(event)
        return fresh

    @property
    def expected(self) -> dict[str, list[int]]:
        return {g: list(range(len(self.store[g]))) for g in self.groups}

    def session(self) -> Any:
        yield {"sessionStart": {"requestId": "r", "sessionId": f"s{self.started}",
                                "logGroupIdentifiers": list(self.arns.values())}}
        for update in range(self.updates_per_session):
            batch = self.ingest()
            if update == 0:
                batch = self.last_update + batch  # the overlap with the last session
            batch = batch[::-1] if update % 2 else batch  # not in time order
            sampled = self.started == 2 and update == 3  # AWS's flag (nothing dropped here)
            yield {"sessionUpdate": {"sessionMetadata": {"sampled": sampled},
                                     "sessionResults": [
                                         {k: v for k, v in e.items() if k != "eventId"}
                                         for e in batch]}}
            self.last_update = batch
        from botocore.exceptions import EventStreamError

        self.finished += 1
        ending = self.started % 3
        if ending == 0:
            raise EventStreamError({"Error": {"Code": "SessionTimeoutException",
                                              "Message": "Session timed out"}},
                                   "StartLiveTail")
        if ending == 1:
            raise EventStreamError({"Error": {"Code": "SessionStreamingException",
                                              "Message": "Internal error"}},
                                   "StartLiveTail")
        # otherwise the stream just ends (the connection closed)

    def start_live_tail(self, request: dict[str, Any]) -> Any:
        self.live_tail_calls += 1
        assert sorted(request["logGroupIdentifiers"]) == sorted(self.arns.values())
        if self.live_tail_calls % 4 == 2:
            return throttling()
        self.started += 1
        self.ingest()  # the second with no session open
        return response(200, {"responseStream": self.session()})

    def filter_log_events(self, request: dict[str, Any]) -> Any:
        self.filter_calls += 1
        if self.filter_calls % 3 == 0:
            return throttling()
        events = [{k: v for k, v in e.items() if k != "logGroupIdentifier"}
                  for e in self.store[request["logGroupName"]]
                  if e["timestamp"] >= request.get("startTime", 0)]
        start = int(request.get("nextToken") or 0)
        page = events[start:start + self.page_size]
        answer: dict[str, Any] = {"events": page, "searchedLogStreams": []}
        if start + self.page_size < len(events):
            answer["nextToken"] = str(start + self.page_size)
        return response(200, answer)


def test_live_tail_reconnects_and_shows_every_event_once(dev_logs, cli, fake_time, hooks
                                                          ) -> None:
    groups = [contract.function_log_group(f, "DEV") for f in FUNCTIONS]
    arns = {g["logGroupName"]: g["logGroupArn"]
            for g in dev_logs.describe_log_groups()["logGroups"]}
    fake = FakeLiveTail(groups=groups, arns={g: arns[g] for g in groups})
    hooks.handlers["StartLiveTail"] = fake.start_live_tail
    hooks.handlers["FilterLogEvents"] = fake.filter_log_events

    def ctrl_c_after_the_last_session(clock: FakeTime) -> None:
        if fake.finished >= fake.sessions or fake.live_tail_calls > 50:
            raise KeyboardInterrupt

    fake_time.on_sleep = ctrl_c_after_the_last_session
    result = cli("-s", "dev", "-o", "json", "logs", "tail", "--follow")
    assert result.exit_code == 0, result.stderr
    assert sum(len(v) for v in fake.expected.values()) >= 2000
    end = _check_stream(result.stdout, fake.expected)
    stats = end["data"]["stats"]
    assert stats["transport"] == "live-tail"
    assert stats["sessions"] == fake.sessions and stats["reconnects"] == fake.sessions
    assert stats["duplicates"] > 0  # the overlaps were really there, and dropped
    assert stats["throttled"] >= 2
    assert end["data"]["live_tail_minutes"] >= fake.sessions
    assert "billed per minute" in result.stderr
    assert stats["sampled_updates"] == 1 and "Live Tail is sampling" in result.stderr


def test_live_tail_refused_falls_back_to_polling_without_repeats(dev_logs, cli, fake_time,
                                                                 hooks) -> None:
    from tests.logs.conftest import put

    group = contract.function_log_group(contract.Function.API, "DEV")
    now = int(time.time() * 1000)
    put(dev_logs, group, "s", [(now - 1000 * (30 - i), powertools(f"e{i}", seq=i))
                               for i in range(30)])
    hooks.handlers["StartLiveTail"] = lambda _: response(400, {"Error": {
        "Code": "LimitExceededException", "Message": "too many sessions"}})
    fake_time.on_sleep = lambda clock: (_ for _ in ()).throw(KeyboardInterrupt) if len(
        clock.slept) > 5 else None
    result = cli("-s", "dev", "-o", "json", "logs", "tail", "api", "--follow")
    assert result.exit_code == 0
    end = _check_stream(result.stdout, {group: list(range(30))})
    assert end["data"]["transport"] == "filter-log-events"
    assert "LimitExceededException" in end["data"]["reason"]


def test_people_see_lines_as_they_come_and_a_footer(dev_logs, cli, fake_time, hooks) -> None:
    from tests.logs.conftest import put

    group = contract.function_log_group(contract.Function.TRYON_PROCESSOR, "DEV")
    now = int(time.time() * 1000)
    put(dev_logs, group, "s", [(now - 2000, powertools("render failed", "ERROR",
                                                       correlation_id="corr-7", seq=1)),
                               (now - 1000, powertools("render queued", seq=2))])
    hooks.handlers["StartLiveTail"] = lambda _: response(400, {"Error": {
        "Code": "AccessDeniedException", "Message": "not allowed: logs:StartLiveTail"}})
    fake_time.on_sleep = lambda clock: (_ for _ in ()).throw(KeyboardInterrupt) if len(
        clock.slept) > 3 else None
    result = cli("-s", "dev", "logs", "tail", "tryon", "--follow", "--level", "error",
                 env={"COLUMNS": "80"})
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert re.fullmatch(r"\d\d:\d\d:\d\d tryon   ERROR render failed \(correlation id "
                        r"corr-7\)", lines[0])
    assert "through Live Tail (billed per minute" in result.stderr
    assert "polling FilterLogEvents instead" in result.stderr
    assert "stopped (Ctrl-C)" in result.stderr
    assert "1 lines shown" in result.stderr
