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
import subprocess
import sys

from benchmarks import BenchResult, measure

REPEAT = 7


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
    cli = [sys.executable, "-m", "garmaxctl"]
    result = BenchResult(title="start-up: garmaxctl beside aws --version")
    aws = shutil.which("aws", path=os.path.dirname(sys.executable)) or shutil.which("aws")
    figures = []
    if aws:
        figures.append(measure("aws --version", _runner([aws, "--version"], env),
                               repeat=REPEAT))
    else:
        result.notes.append("aws CLI not found: no baseline (it comes with the test extra)")
    figures += [
        measure("python + typer + rich (floor)", _runner(
            [sys.executable, "-c", "import typer, rich.console"], env), repeat=REPEAT),
        measure("garmaxctl --help", _runner([*cli, "--help"], env), repeat=REPEAT),
        measure("garmaxctl --version", _runner([*cli, "--version"], env), repeat=REPEAT),
        measure("garmaxctl params list (to its first AWS call)", _runner(
            [*cli, "-o", "json", "params", "list"], env, ok=(1,)), repeat=REPEAT,
            note="LOCAL, emulator stopped: fails at the probe"),
    ]
    result.figures = figures
    if aws:
        base = figures[0].seconds
        for figure in figures[1:]:
            result.ratios.append((f"{figure.label} / aws --version", figure.seconds / base))
    return result
