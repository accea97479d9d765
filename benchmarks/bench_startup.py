"""Start-up: ``garmaxctl --help``, ``--version`` and a command's own start-up beside
``aws --version`` (the CLI the guide's operators type today), in the same run.

A command's start-up is measured up to its first AWS call: ``params list`` on LOCAL with
nothing listening on the emulator's port imports the command, parses the options and fails
at the stage layer's one probe, before any AWS request. The floor is Python + Typer + rich
alone (what any Typer CLI with rich help pays). Target (issue 10): ``--help`` <= 0.5x
``aws --version``.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks import BenchResult, Figure

REPEAT = 15


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _runner(argv: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)):
    def run() -> None:
        done = subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False)
        assert done.returncode in ok, (argv, done.returncode, done.stderr[-500:])
    return run


def run() -> BenchResult:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GARMAX_")}
    env.update(GARMAX_LOCAL_PORT=str(_free_port()), NO_COLOR="1")
    # The console script users type (as `aws` is), else the module.
    script = shutil.which("garmaxctl", path=os.path.dirname(sys.executable))
    cli = [script] if script else [sys.executable, "-m", "garmaxctl"]
    result = BenchResult(title="start-up: garmaxctl beside aws --version")
    aws = shutil.which("aws", path=os.path.dirname(sys.executable)) or shutil.which("aws")
    cases: list[tuple[str, Any, str]] = []
    if aws:
        cases.append(("aws --version", _runner([aws, "--version"], env), ""))
    else:
        result.notes.append("aws CLI not found: no baseline (it comes with the test extra)")
    cases += [
        ("python + typer + rich (floor)",
         _runner([sys.executable, "-c", "import typer, rich.console"], env), ""),
        ("garmaxctl --help", _runner([*cli, "--help"], env), ""),
        ("garmaxctl --version", _runner([*cli, "--version"], env), ""),
        ("garmaxctl params list (to its first AWS call)",
         _runner([*cli, "-o", "json", "params", "list"], env, ok=(1,)),
         "LOCAL, emulator stopped: fails at the probe"),
    ]
    # Round robin: every command runs once per round, so a change of load on the machine
    # weighs on all of them alike and the ratios stay honest.
    runs: dict[str, list[float]] = {label: [] for label, _, _ in cases}
    for _ in range(REPEAT):
        for label, action, _ in cases:
            started = time.perf_counter()
            action()
            runs[label].append(time.perf_counter() - started)
    result.figures = [Figure(label=label, seconds=statistics.median(runs[label]),
                             runs=runs[label], note=note) for label, _, note in cases]
    if aws:
        base = result.figures[0].seconds
        for figure in result.figures[1:]:
            result.ratios.append((f"{figure.label} / aws --version", figure.seconds / base))
        result.notes.append("target (issue 10): garmaxctl --help <= 0.50x aws --version")
    return result
