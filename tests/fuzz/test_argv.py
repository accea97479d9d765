"""Issue 13, fuzzing: argv drawn from the real command tree (tests/fuzz/argv.py).

Every run, whatever its argv: exit 0/1/2/3 (130 never: nothing pressed Ctrl-C; a follower
stopped by the time box's Ctrl-C exits 0), no traceback, no internal error, exactly one
JSON document under ``-o json`` (JSON Lines for the documented streams), and nothing
written outside the state directory, ``cdk.out`` and the paths an option names.

Each example runs in a fresh sandbox with a stopped emulator (``GARMAX_LOCAL_PORT`` on a
free port; `local up` finds its port held by another program), no AWS credentials for the
real stages, and no Node.js on ``PATH`` (synth, deploy and doctor fail fast).
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given

from tests.fuzz import argv
from tests.fuzz.budget import TALLY, family_settings
from tests.fuzz.sandbox import Example, run_example


@family_settings("argv")
@given(example=argv.examples())
def test_any_argv_keeps_the_cli_contract(fuzz_base: Path, example: Example) -> None:
    verdict = run_example(fuzz_base, example)
    TALLY.add("argv", examples=1,
              tracebacks=sum(f == "traceback printed" for f in verdict.findings),
              stray_writes=sum(f.startswith(("wrote", "removed")) for f in verdict.findings),
              hangs=sum("still running" in f for f in verdict.findings),
              findings=len(verdict.findings))
    assert not verdict.findings, (example.argv[:12], verdict.findings, verdict.exit_code,
                                  verdict.stdout[-2000:], verdict.stderr[-2000:])
