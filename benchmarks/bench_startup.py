"""Start-up: ``garmaxctl --help``, ``--version`` and a command's own start-up beside
``aws --version`` (the CLI the guide's operators type today), in the same run.

A command's start-up is measured up to its first AWS call: ``params list`` on LOCAL with
nothing listening on the emulator's port imports the command, parses the options and fails
at the stage layer's one probe, before any AWS request. Two references: Python + Typer +
rich imported (the floor of any Typer CLI) and a bare Typer app's rich ``--help`` (what
the issue calls "Python + Typer + rich alone", ~0.45x there). Target (issue 10): ``--help``
<= 0.5x ``aws --version``, keeping Typer's rich help.

Figures on the 2-core machine shared by the helpers (medians of 15 rounds; the load moves
the seconds a lot, the ratios less). ``make bench`` before and after issue 10's start-up
work (two runs, load ~5-7):

    garmaxctl --help / aws --version              0.52x  ->  0.40x (0.46x at load 6.8)
    garmaxctl --version / aws --version           0.27x  ->  0.25x
    bare typer app --help / aws --version                    0.43x (0.53x at load 6.8)
    python + typer + rich (floor) / aws --version 0.26x  ->  0.26x
    params list, to its first AWS call            0.68x  ->  0.68x (no target; pydantic)

Both in one round robin (the old code on PYTHONPATH, the same console script): ``--help``
0.45x -> 0.31x and 0.51x -> 0.36x. Before, typer.rich_utils imported rich.markdown and
rich.traceback (~30 ms) and ``--help`` imported logging and json; docs/architecture.md,
"Start-up", says what changed.
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

# A Typer app with rich help and nothing of garmaxctl: the "Typer + rich alone".
BARE_TYPER_APP = """
import typer
app = typer.Typer(add_completion=False)
@app.callback()
def root(stage: str = typer.Option("LOCAL", "--stage", "-s", help="The stage.")) -> None:
    "A bare Typer app."
@app.command()
def hello() -> None:
    "Say hello."
app()
"""


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
        ("bare typer app --help", _runner([sys.executable, "-c", BARE_TYPER_APP, "--help"],
                                          env), "rich help, two options, one command"),
        ("garmaxctl --help", _runner([*cli, "--help"], env), ""),
        ("garmaxctl --version", _runner([*cli, "--version"], env), ""),
        ("garmaxctl params list (to its first AWS call)",
         _runner([*cli, "-o", "json", "params", "list"], env, ok=(1,)),
         "LOCAL, emulator stopped: fails at the probe"),
    ]
    # Round robin: every command runs once per round, so a change of load on the machine
    # weighs on all of them alike and the ratios stay honest.
    runs: dict[str, list[float]] = {label: [] for label, _, _ in cases}
    for _, action, _ in cases:  # one untimed round: the OS's file cache, for every case
        action()
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
    if os.environ.get("PYTHONDONTWRITEBYTECODE") and not os.environ.get("PYTHONPYCACHEPREFIX"):
        result.notes.append(
            "PYTHONDONTWRITEBYTECODE is set: garmaxctl (an editable install) compiles its "
            "own modules at every start (~5 ms), which aws and Typer (byte-compiled by pip) "
            "do not; garmaxctl's figures are on the slow side by that")
    return result
