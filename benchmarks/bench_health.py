"""``health`` on a stage whose checks each take about 1 s: concurrent vs one at a time.

A DEV stage is built under moto (the same resources as ``tests/health``'s fixture: every
function, queue, table, bucket, Aurora, Redis, parameters, alarms, and an API answering
the health routes), and every one of ``health``'s real checks is made ~1 s slower (a sleep
before the real check runs). The same report is then produced by ``run_health`` as it
ships (a thread pool) and with a single worker. Concurrent should take about the slowest
check, not the sum of them.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from http.server import ThreadingHTTPServer

from benchmarks import BenchResult, measure

DELAY_S = 1.0
REPEAT = 3


def _slowed(check, delay: float):  # type: ignore[no-untyped-def]
    from garmaxctl.services.health import Check

    def run(target):  # type: ignore[no-untyped-def]
        time.sleep(delay)
        return check.run(target)

    return Check(check.name, check.group, run, timeout=check.timeout)


def run() -> BenchResult:
    import warnings

    from moto import mock_aws

    from garmaxctl.services import health
    from tests.health.conftest import FakeApi, _fake_api_handler, build_dev_stage

    warnings.filterwarnings("ignore", message="Tried to parse AWS")  # the stub stack
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["GARMAX_DEV_ACCOUNT"] = "123456789012"
    api = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _fake_api_handler(api))
    api.port, api.server = server.server_address[1], server
    threading.Thread(target=server.serve_forever, daemon=True).start()
    result = BenchResult(title=f"health: checks of ~{DELAY_S:g} s each, concurrent vs serial")
    try:
        with mock_aws():
            stage = build_dev_stage(api)
            target = health.prepare(stage.target())
            checks = [_slowed(c, DELAY_S) for c in health.build_checks()]
            reports: list[health.HealthReport] = []

            def concurrent() -> None:
                reports.append(health.run_health(target, checks=checks, timeout=30))

            def serial() -> None:
                reports.append(health.run_health(target, checks=checks, timeout=30,
                                                 max_workers=1))

            fast = measure("health (thread pool)", concurrent, repeat=REPEAT,
                           note=f"{len(checks)} checks")
            slow = measure("health (one at a time)", serial, repeat=1,
                           note=f"{len(checks)} checks")
            runs = reports[:REPEAT]  # the concurrent runs
            slowest = statistics.median(max(c.latency_ms or 0 for c in r.checks)
                                        for r in runs) / 1000
            total = sum(c.latency_ms or 0 for c in reports[-1].checks) / 1000
            assert all(r.status == health.HEALTHY for r in reports), \
                [(c.name, c.detail) for r in reports for c in r.problems()]
    finally:
        server.shutdown()
        server.server_close()
    result.figures += [fast, slow]
    result.ratios.append(("serial / concurrent", slow.seconds / fast.seconds))
    result.ratios.append(("concurrent / slowest check", fast.seconds / slowest))
    result.notes.append(f"slowest check (median of the concurrent runs) {slowest:.2f} s; "
                        f"sum of the checks {total:.2f} s ({len(checks)} checks)")
    return result


def main() -> None:
    from benchmarks.__main__ import render

    print(render(run()))


if __name__ == "__main__":
    main()
