"""``garmaxctl cost report``: Cost Explorer requests (and time) cold vs warm.

Against the bridged emulator (LOCAL's Cost Explorer estimate) on a free port with its own
state directory, after 30 days of ``AWS/Lambda`` metrics for two functions: a cold run
(empty cache) asks Cost Explorer for every page; a warm run within 6 hours asks nothing.
On AWS each request costs $0.01, so the request counts are the figures that matter.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import BenchResult, measure

REPEAT = 3
DAYS = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(endpoint: str) -> None:
    import boto3

    cloudwatch = boto3.client("cloudwatch", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
    now = dt.datetime.now(dt.UTC)
    for function in ("GarmaxAi-Api-LOCAL", "GarmaxAi-TryonProcessor-LOCAL"):
        dims = [{"Name": "FunctionName", "Value": function}]
        data = []
        for day in range(DAYS):
            when = now - dt.timedelta(days=day)
            data += [{"MetricName": "Invocations", "Dimensions": dims, "Timestamp": when,
                      "Value": 100.0 + day, "Unit": "Count"},
                     {"MetricName": "Duration", "Dimensions": dims, "Timestamp": when,
                      "Value": 20_000.0 + day, "Unit": "Milliseconds"}]
        for chunk in range(0, len(data), 20):
            cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=data[chunk:chunk + 20])


def _report() -> dict[str, Any]:
    from garmaxctl.app import app

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        app(["-o", "json", "cost", "report", "--since", f"{DAYS}d", "--by", "usage-type"],
            standalone_mode=False)
    return dict(json.loads(out.getvalue())["data"]["api"])


def run() -> BenchResult:
    import logging

    from garmaxctl.local.server import EmbeddedServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per request
    port = _free_port()
    endpoint = f"http://localhost:{port}"
    result = BenchResult(title=f"cost report: Cost Explorer requests cold vs warm "
                               f"({DAYS} days, the emulator's estimate at {endpoint})")
    saved = {k: os.environ.get(k) for k in ("GARMAX_LOCAL_PORT", "GARMAX_STATE_DIR")}
    server = EmbeddedServer(port)
    with tempfile.TemporaryDirectory(prefix="garmax-bench-cost-") as tmp:
        state = Path(tmp) / "state"
        os.environ.update(GARMAX_LOCAL_PORT=str(port), GARMAX_STATE_DIR=str(state))
        try:
            server.start()
            _seed(endpoint)
            cache = state / "cost-explorer"
            counts: dict[str, list[dict[str, Any]]] = {"cold": [], "warm": []}
            result.figures.append(measure(
                "cold (empty cache)", lambda: counts["cold"].append(_report()), repeat=REPEAT,
                before=lambda: shutil.rmtree(cache, ignore_errors=True)))
            result.figures.append(measure(
                "warm (within 6 h)", lambda: counts["warm"].append(_report()), repeat=REPEAT))
            cold, warm = counts["cold"][-1], counts["warm"][-1]
            result.notes += [
                f"cold: {cold['requests']} request(s) (${cold['requests'] * 0.01:.2f}), "
                f"{cold['cached']} from cache",
                f"warm: {warm['requests']} request(s) (${warm['requests'] * 0.01:.2f}), "
                f"{warm['cached']} from cache"]
            if result.figures[1].seconds > 0:
                result.ratios.append(("cold / warm time",
                                      result.figures[0].seconds / result.figures[1].seconds))
        finally:
            server.stop()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return result
