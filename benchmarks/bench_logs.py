"""``garmaxctl logs tail``: time to first line and events per second.

Against the embedded emulator on a free port (LOCAL: FilterLogEvents polling, the
default budget of 1 request/s per group), with the LOCAL stack's five function log groups
from a template and ``PER_GROUP`` Powertools lines in each over the last 5 minutes:

- time to first line of ``--follow`` (the stack's groups looked up, the first round);
- the whole window without ``--follow`` (one document), as events/s;
- ``--follow`` until every stored line is shown, as events/s.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import time
from typing import Any

from benchmarks import BenchResult, Figure, measure

REPEAT = 3
PER_GROUP = 2000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(endpoint: str) -> None:
    import boto3

    from garmaxctl.shared import contract

    kwargs = {"endpoint_url": endpoint, "region_name": "us-east-1",
              "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    resources = {f"{f.value}Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {
        "LogGroupName": contract.function_log_group(f, "LOCAL")}} for f in contract.Function}
    boto3.client("cloudformation", **kwargs).create_stack(
        StackName=contract.stack_name("LOCAL"),
        TemplateBody=json.dumps({"Resources": resources}))
    logs = boto3.client("logs", **kwargs)
    start = int((dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).timestamp() * 1000)
    for f in contract.Function:
        group = contract.function_log_group(f, "LOCAL")
        logs.create_log_stream(logGroupName=group, logStreamName="bench")
        for chunk in range(0, PER_GROUP, 1000):
            logs.put_log_events(logGroupName=group, logStreamName="bench", logEvents=[
                {"timestamp": start + i * 100, "message": json.dumps(
                    {"level": "INFO", "message": f"line {i}", "correlation_id": f"c-{i}"})}
                for i in range(chunk, min(chunk + 1000, PER_GROUP))])


def _target() -> Any:
    from garmaxctl.aws import AwsTarget
    from garmaxctl.shared.stages import get_stage_config
    from garmaxctl.stage.target import StageTarget

    return StageTarget(AwsTarget(stage=get_stage_config("LOCAL")))


class _Enough(Exception):
    pass


def _follow(until: int) -> tuple[float, float]:
    """(seconds to the first line, seconds to ``until`` lines) of one ``--follow``."""
    from garmaxctl.services.logs import tail

    started = time.perf_counter()
    seen = {"n": 0, "first": 0.0}
    target = _target()
    follower = tail.Follower(target, tail.plan(
        target, since=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)))

    def emit(_: Any) -> None:
        seen["n"] += 1
        if seen["n"] == 1:
            seen["first"] = time.perf_counter() - started
        if seen["n"] >= until:
            raise _Enough

    with contextlib.suppress(_Enough):
        follower.run(emit)
    return seen["first"], time.perf_counter() - started


def _window() -> int:
    from garmaxctl.services.logs import tail

    target = _target()
    found = tail.window(target, tail.plan(
        target, since=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)))
    return len(found.events)


def run() -> BenchResult:
    import logging

    from garmaxctl.local.server import EmbeddedServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = _free_port()
    endpoint = f"http://localhost:{port}"
    total = PER_GROUP * 5
    result = BenchResult(title=f"logs tail: time to first line and events/s (5 groups, "
                               f"{total} lines, FilterLogEvents at {endpoint})")
    saved = os.environ.get("GARMAX_LOCAL_PORT")
    server = EmbeddedServer(port)
    try:
        os.environ["GARMAX_LOCAL_PORT"] = str(port)
        server.start()
        _seed(endpoint)
        firsts: list[float] = []
        alls: list[float] = []
        for _ in range(REPEAT):
            first, everything = _follow(total)
            firsts.append(first)
            alls.append(everything)
        counts: list[int] = []
        window = measure("window, no --follow (all lines)",
                         lambda: counts.append(_window()), repeat=REPEAT)
        first_fig = Figure(label="--follow: time to first line", seconds=sorted(firsts)[1],
                           runs=firsts)
        follow_fig = Figure(label="--follow: all lines shown", seconds=sorted(alls)[1],
                            runs=alls, note=f"{total / sorted(alls)[1]:,.0f} events/s")
        window.note = f"{counts[-1] / window.seconds:,.0f} events/s"
        result.figures += [first_fig, follow_fig, window]
        result.notes.append(f"side by side: first line {first_fig.seconds:.2f} s | "
                            f"follow {total / follow_fig.seconds:,.0f} events/s | window "
                            f"{counts[-1] / window.seconds:,.0f} events/s")
    finally:
        server.stop()
        if saved is None:
            os.environ.pop("GARMAX_LOCAL_PORT", None)
        else:
            os.environ["GARMAX_LOCAL_PORT"] = saved
    return result
