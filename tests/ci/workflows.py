"""The GitHub Actions workflows in .github/workflows/, read and run the way a runner would.

- :func:`load` parses a workflow (PyYAML: ``on`` is a YAML 1.1 boolean, put back).
- :func:`garmaxctl_lines` finds every garmaxctl command line in a ``run:`` script: line
  continuations joined, inside ``$(...)``, between ``|``, ``&&``, ``||`` and ``;``.
- :class:`Runner` runs a job's steps against a LOCAL stage: each ``run:`` as GitHub runs it
  (``bash --noprofile --norc -eo pipefail``, the workflows' default shell), with
  ``GITHUB_ENV``/``GITHUB_OUTPUT``/``GITHUB_PATH``/``GITHUB_STEP_SUMMARY`` files and
  ``RUNNER_TEMP``; ``garmaxctl`` on ``PATH`` is a shim that records each call (argv, exit
  code) and runs the real one. ``${{ }}`` expressions (only in ``env:`` and ``if:``: the
  workflows never put one in a script) take the values documented in
  :data:`TEST_VALUES`; ``GARMAX_STAGE`` is always ``LOCAL``; an unknown expression fails.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"

# The values the test gives the expressions a workflow reads (docs/ci.md lists the real
# secrets). The .env pushes a few real keys, one a secret, the rest left to defaults.
TEST_DOTENV = "\n".join([
    "JWT_SECRET=ci-workflow-test-jwt-secret-0123456789",
    "DAILY_BUDGET_USD=123",
    "FRONTEND_URL=https://ci-test.example.org",
    "MAX_TRYONS_PER_USER_DAILY=7",
])
TEST_DOTENV_KEYS = ("JWT_SECRET", "DAILY_BUDGET_USD", "FRONTEND_URL",
                    "MAX_TRYONS_PER_USER_DAILY")
TEST_VALUES = {
    "secrets.GARMAX_DOTENV": TEST_DOTENV,
    # LOCAL takes its caller from the dev-user header and ignores a token.
    "secrets.GARMAX_API_TOKEN": "",
    "matrix.stage": "LOCAL",
}
# The one stage the test runs against, whatever a workflow names.
STAGE_VARIABLE = "GARMAX_STAGE"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.y*ml"))


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    if True in document:  # YAML 1.1 reads the key `on` as true
        document["on"] = document.pop(True)
    return document


def steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_id, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, step


# ----------------------------------------------------------------------------- extraction

def _substitutions(text: str) -> tuple[str, list[str]]:
    """``text`` with each outermost ``$(...)`` replaced by a word, and their contents."""
    out, inner, i = [], [], 0
    while i < len(text):
        if text.startswith("$(", i):
            depth, j = 1, i + 2
            while j < len(text) and depth:
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                j += 1
            if depth:
                raise ValueError(f"unbalanced $( in: {text}")
            inner.append(text[i + 2:j - 1])
            out.append("SUBST")
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out), inner


SEPARATORS = {"|", "||", "&&", ";", "&"}
REDIRECTIONS = {">", ">>", "<", ">&", "&>", "2>", "2>>"}


def _commands(line: str) -> Iterator[list[str]]:
    """The simple commands of one shell line, redirections and their targets left out."""
    flat, inner = _substitutions(line)
    flat = re.sub(r"(^|\s)\d+(?=>)", r"\1", flat)  # `2>&1`: the descriptor goes with it
    for nested in inner:
        yield from _commands(nested)
    lexer = shlex.shlex(flat, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    current: list[str] = []
    tokens = iter(lexer)
    for token in tokens:
        if token in SEPARATORS:
            if current:
                yield current
            current = []
        elif token in REDIRECTIONS or re.fullmatch(r"\d?>>?|&>", token):
            next(tokens, None)
        else:
            current.append(token)
    if current:
        yield current


def garmaxctl_lines(script: str) -> list[list[str]]:
    """Every garmaxctl command in a ``run:`` script, as words (quotes removed, variables
    left as written), in order."""
    joined = re.sub(r"\\\n\s*", " ", script)
    found = []
    for line in joined.splitlines():
        if not line.strip() or line.strip().startswith("#"):
            continue
        for words in _commands(line):
            while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
                words = words[1:]  # VAR=value before the command
            if words and (words[0] == "garmaxctl" or words[0].endswith("/garmaxctl")):
                found.append(words[1:])
    return found


# ----------------------------------------------------------------------------- expressions

def evaluate(text: str, outputs: dict[str, dict[str, str]], *, name: str = "") -> str:
    """``text`` with each ``${{ expr }}`` replaced by its test value."""
    if name == STAGE_VARIABLE:
        return "LOCAL"

    def value(match: re.Match[str]) -> str:
        expr = match.group(1)
        step_output = re.fullmatch(r"steps\.([\w-]+)\.outputs\.(\w+)", expr)
        if step_output:
            return outputs.get(step_output.group(1), {}).get(step_output.group(2), "")
        if expr not in TEST_VALUES:
            raise AssertionError(f"no test value for ${{{{ {expr} }}}}: add it to "
                                 "tests/ci/workflows.py TEST_VALUES (and docs/ci.md)")
        return TEST_VALUES[expr]

    return EXPRESSION.sub(value, str(text))


# ----------------------------------------------------------------------------- running

SHIM = """#!{python}
import json, subprocess, sys
done = subprocess.run([{python!r}, "-m", "garmaxctl", *sys.argv[1:]])
with open({log!r}, "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "exit": done.returncode}}) + "\\n")
sys.exit(done.returncode)
"""


@dataclass
class StepRun:
    job: str
    name: str
    exit_code: int
    calls: list[dict[str, Any]]
    expected: list[list[str]]
    output: str


@dataclass
class Runner:
    """Runs workflow steps in ``REPO`` (the checkout) with ``base_env`` (the LOCAL stage's
    ports and state directory) under ``root`` (the runner's temp and files)."""

    root: Path
    base_env: dict[str, str]
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    extra_path: list[str] = field(default_factory=list)
    exported: dict[str, str] = field(default_factory=dict)
    runs: list[StepRun] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bin = self.root / "shim"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.calls = self.root / "calls.jsonl"
        shim = self.bin / "garmaxctl"
        shim.write_text(SHIM.format(python=sys.executable, log=str(self.calls)))
        shim.chmod(0o755)
        self.job = ""

    def start_job(self, job_id: str) -> None:
        """A job of its own, as on a runner: its own temp directory, job summary, PATH and
        exported variables."""
        self.job = job_id
        self.temp = self.root / job_id / "runner-temp"
        self.temp.mkdir(parents=True, exist_ok=True)
        self.summary = self.root / job_id / "step-summary.md"
        self.extra_path, self.exported = [], {}

    def _env(self, workflow: dict[str, Any], job: dict[str, Any], step: dict[str, Any]
             ) -> dict[str, str]:
        env = dict(self.base_env)
        env.update(self.exported)
        for scope in (workflow, job, step):
            for name, raw in (scope.get("env") or {}).items():
                env[name] = evaluate(raw, self.outputs, name=name)
        files = {n: self.root / self.job / f"{n.lower()}-{len(self.runs)}" for n in
                 ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH")}
        for name, path in files.items():
            path.write_text("")
            env[name] = str(path)
        env.update(GITHUB_STEP_SUMMARY=str(self.summary), RUNNER_TEMP=str(self.temp),
                   GITHUB_WORKSPACE=str(REPO), GITHUB_ACTIONS="true", CI="true")
        env["PATH"] = os.pathsep.join([str(self.bin), *self.extra_path, env["PATH"]])
        return env

    def _collect(self, step: dict[str, Any], env: dict[str, str]) -> None:
        for line in Path(env["GITHUB_PATH"]).read_text().splitlines():
            if line.strip():
                self.extra_path.append(line.strip())
        self.exported.update(_key_values(Path(env["GITHUB_ENV"]).read_text()))
        if step.get("id"):
            self.outputs[step["id"]] = _key_values(Path(env["GITHUB_OUTPUT"]).read_text())

    def run_step(self, workflow: dict[str, Any], job_id: str, step: dict[str, Any]) -> StepRun:
        if job_id != self.job:
            self.start_job(job_id)
        job = workflow["jobs"][job_id]
        env = self._env(workflow, job, step)
        before = len(self.calls.read_text().splitlines()) if self.calls.exists() else 0
        seen = {p: p.stat().st_mtime_ns for p in self.temp.rglob("*.json")}
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                               step["run"]], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=900, check=False)
        self._collect(step, env)
        lines = self.calls.read_text().splitlines() if self.calls.exists() else []
        run = StepRun(job=job_id, name=step.get("name", step["run"][:40]),
                      exit_code=done.returncode,
                      calls=[json.loads(x) for x in lines[before:]],
                      expected=garmaxctl_lines(step["run"]),
                      output="\n".join([done.stdout[-2000:], done.stderr[-4000:], *(
                          f"{p.name}: {p.read_text()[:4000]}" for p in self.temp.rglob("*.json")
                          if seen.get(p) != p.stat().st_mtime_ns)]))
        self.runs.append(run)
        return run


def _key_values(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT/GITHUB_ENV lines ``name=value`` (the workflows use no heredoc form)."""
    pairs = {}
    for line in text.splitlines():
        if "=" in line:
            name, value = line.split("=", 1)
            pairs[name] = value
    return pairs


def quote(words: list[str]) -> str:
    return " ".join(shlex.quote(w) for w in words)
