"""Hypothesis strategies for garmaxctl's argv, drawn from the real command tree: the
registry's commands (``garmaxctl.registry.commands()``) and each command's Click
parameters (``garmaxctl.cli.load_command``), plus the root's global options.

Values are drawn by what a parameter holds (its annotation, and its name for the strings
that are times, durations and choices): valid ones, edge cases (empty, huge, negative,
not a number, unicode, a non-UTF-8 byte as Linux hands it to Python), and junk. Options
and the command's arguments come in any order; global options before or after the
command. ``@ROOT@`` in a value is the example's sandbox (an absolute path there).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from hypothesis import strategies as st

from garmaxctl import registry
from garmaxctl.cli import load_command
from tests.fuzz.sandbox import Example

HUGE = 100_000  # one argument; Linux allows 128 KiB each

# Free text: never a NUL (no argv can hold one) and never starting with "-" (an option).
_alphabet = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
text = st.one_of(
    st.just(""),
    st.text(_alphabet, max_size=20),
    st.sampled_from(["x" * HUGE, "é" * 5000, "秘密", "a b\tc", "'\"", "$HOME", "%s%n",
                     "\udcff\udcfe", "../../etc/passwd", "🙂", " ", "\n"]),
).filter(lambda v: not v.startswith("-"))

times = st.sampled_from([
    "15m", "1h", "7d", "0m", "0", "30s", "90d", "400d", "1.5h", "1e9s", "99999999999999999d",
    "-1h", "h", "7 d", "7D", "1H", "now", "yesterday", "P1D",
    "2026-01-01", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00+05:30", "2026-13-45T25:61:00",
    "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01", "2026-02-30",
    "2026-11-29T08:00:00", "1700000000",
])
durations = st.sampled_from(["2h", "15d", "16d", "14d23h", "0s", "1m", "59s", "30s", "5m",
                             "-1h", "abc", "1e400", "1.5", "10", "inf", "nan"])
ints = st.one_of(st.sampled_from(["0", "1", "2", "-1", "99999999999999999999", "1.5", "abc",
                                  "0x10", " 3", "٣"]), st.integers(-5, 1000).map(str))
floats = st.sampled_from(["0", "0.001", "1", "30", "-1", "nan", "inf", "-inf", "1e308",
                          "1e-9", "abc", "1,5", "0.0"])
functions = st.sampled_from(["api", "webhook", "tryon", "render", "billing", "API", "Api",
                             "GarmaxAi-Api-DEV", "nope", "", "x" * HUGE])
names = st.sampled_from(["FRONTEND_URL", "frontend_url", "JWT_SECRET", "DAILY_BUDGET_USD",
                         "/garmaxai/DEV/frontend/url", "/garmaxai/ops/DEV/idle/snapshot",
                         "frontend/url", "NOPE", "", "x" * HUGE, "LambdaErrors",
                         "ApiErrorRate", "GarmaxAI-LambdaErrors-DEV", "*", "a/../b"])

# Choice-like strings, by option name: the valid values, their case variants, junk.
CHOICES: dict[str, list[str]] = {
    "--require-approval": ["never", "any-change", "broadening", "NEVER", "always"],
    "--format": ["dotenv", "json", "JSON", "yaml"],
    "--state": ["OK", "ALARM", "INSUFFICIENT_DATA", "alarm", "on-fire"],
    "--by": ["service", "usage-type", "function", "usage_type", "function,service", "day"],
    "--granularity": ["DAILY", "MONTHLY", "daily", "HOURLY", "weekly"],
    "--preset": ["errors", "slow", "cold-starts", "ERRORS", "nope"],
    "--level": ["ERROR", "WARN", "info", "debug", "loud"],
    "--passphrase-env": ["GARMAX_FUZZ_PASSPHRASE", "HOME", "NOT_SET_ANYWHERE"],
    "--from-stage": ["LOCAL", "dev", "QA", "prod", "MOON"],
    "--recipient": ["age14h2lny5ed230uuh5s39wztn22kdmu8eyn5rxw2dm9093c2z4wsdq4rhp47",
                    "age1nope", "ssh-ed25519 AAAA"],
    "--domain": ["example.com", "localhost:1", "no such host", "a.b.c:99999"],
    "--query": ["fields @timestamp, @message | sort @timestamp desc | limit 20",
                "stats count(*) by bin(5m)", "filter", "| |", "fields"],
}
TIMES = {"--since", "--from", "--until", "--as-of", "--to"}
DURATIONS = {"--for", "--timeout"}  # str-typed durations (float-typed use floats)

paths = st.sampled_from([
    "missing.json", "no/such/dir/out.json", "out.csv", "restored.env", ".", "cwd-file.age",
    "@ROOT@/elsewhere/missing/file.json", "@ROOT@/state/named.json", "/proc/version",
    "x" * 5000, "", "nul-free-\udcff.json", ".env",
])


def value_for(param: Any) -> st.SearchStrategy[str]:
    """A string strategy for one Click parameter of a command."""
    annotation = param.type_descriptor.annotation
    name = max(param.opts, key=len) if param.opts else param.name
    if name in CHOICES:
        return st.one_of(st.sampled_from(CHOICES[name]), text)
    if name in TIMES:
        return st.one_of(times, text)
    if name in DURATIONS and annotation is str:
        return st.one_of(durations, text)
    if annotation is int:
        return ints
    if annotation is float:
        return floats
    if getattr(annotation, "__name__", "") == "Path" or "Path" in str(annotation):
        return paths
    if param.name == "functions":
        return functions
    if param.name == "name":
        return names
    return text


@dataclass(frozen=True)
class CommandSpec:
    words: tuple[str, ...]
    params: tuple[Any, ...]


@cache
def command_specs() -> tuple[CommandSpec, ...]:
    specs = []
    for entry in registry.commands():
        command = load_command(entry)
        specs.append(CommandSpec(entry.words, tuple(command.params)))
    return tuple(specs)


stages = st.sampled_from(["LOCAL", "local", "Local", "DEV", "dev", "qa", "QA", "PROD",
                          "prod", "pRoD", "STAGING", "", " DEV ", "x" * 300, "LOCAL\t"])


@st.composite
def global_groups(draw: st.DrawFn) -> list[list[str]]:
    """Zero or more global options, each a group of tokens kept together."""
    groups: list[list[str]] = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["stage", "output", "region", "profile", "endpoint",
                                     "env-file", "yes", "verbose", "no-color"]))
        if kind == "stage":
            flag = draw(st.sampled_from(["--stage", "-s"]))
            value = draw(stages)
            groups.append([f"{flag}={value}"] if flag == "--stage" and draw(st.booleans())
                          else [flag, value])
        elif kind == "output":
            value = draw(st.sampled_from(["json", "table", "JSON", "Table", "yaml", ""]))
            form = draw(st.sampled_from(["split", "equals", "attached"]))
            if form == "equals":
                groups.append([f"--output={value}"])
            elif form == "attached" and value:
                groups.append([f"-o{value}"])
            else:
                groups.append(["-o", value])
        elif kind == "region":
            groups.append(["--region", draw(st.sampled_from(["us-east-1", "eu-west-3",
                                                             "nowhere-1", "", "x" * 300]))])
        elif kind == "profile":
            groups.append(["--profile", draw(st.sampled_from(["nope", "default", ""]))])
        elif kind == "endpoint":
            groups.append(["--endpoint-url", draw(st.sampled_from([
                "http://localhost:1", "not a url", "", "ftp://x", "http://[::1", "http://"]))])
        elif kind == "env-file":
            groups.append(["--env-file", draw(paths)])
        else:
            groups.append([{"yes": draw(st.sampled_from(["--yes", "-y"])),
                            "verbose": draw(st.sampled_from(["--verbose", "-v"])),
                            "no-color": "--no-color"}[kind]])
    return groups


def _output_value(group: list[str]) -> str | None:
    first = group[0]
    if first.startswith("--output="):
        return first.split("=", 1)[1]
    if first == "-o":
        return group[1] if len(group) > 1 else None
    if first.startswith("-o") and not first.startswith("--"):
        return first[2:]
    return None


@st.composite
def examples(draw: st.DrawFn) -> Example:
    """One argv: a command, its options and arguments in any order, global options."""
    spec = draw(st.sampled_from(command_specs()))
    groups: list[list[str]] = []
    positional: list[str] = []
    named_paths: list[str] = []
    for param in spec.params:
        is_argument = param.param_type_name == "argument"
        if not param.required and not draw(st.booleans()):
            continue
        if param.required and draw(st.integers(0, 9)) == 5:
            continue  # a required one left out
        if getattr(param, "is_flag", False):
            groups.append([draw(st.sampled_from(list(param.opts)))])
            continue
        count = draw(st.integers(1, 3)) if (param.multiple or param.nargs == -1) else 1
        for _ in range(count):
            value = draw(value_for(param))
            if param.type_descriptor.annotation is not str and "Path" in str(
                    param.type_descriptor.annotation):
                named_paths.append(value)
            if is_argument:
                positional.append(value)
            else:
                flag = draw(st.sampled_from(list(param.opts)))
                groups.append([f"{flag}={value}"] if flag.startswith("--") and draw(
                    st.integers(0, 4)) == 2 else [flag, value])
    if draw(st.integers(0, 9)) == 5:
        groups.append([draw(st.sampled_from(["--bogus", "--dry-run", "--yes=no", "-Z"]))])
    if draw(st.integers(0, 14)) == 7:
        positional.append(draw(text))  # one argument too many
    globals_ = draw(global_groups())
    before = [g for g in globals_ if draw(st.booleans())]
    after = [g for g in globals_ if g not in before]
    mixed = draw(st.permutations(groups + after))
    # Arguments keep their order among themselves; options go anywhere around them.
    tail: list[str] = []
    slots = draw(st.lists(st.integers(0, len(mixed)), min_size=len(positional),
                          max_size=len(positional)))
    for index, group in enumerate(mixed):
        for position, value in zip(slots, positional, strict=True):
            if position == index:
                tail.append(value)
        tail += group
    tail += [v for p, v in zip(slots, positional, strict=True) if p == len(mixed)]
    words = list(spec.words)
    if draw(st.integers(0, 29)) == 13:
        words[-1] = words[-1].upper()  # a command in the wrong case: unknown
    argv = [token for g in before for token in g] + words + tail
    outputs = [v for g in before + mixed for v in [_output_value(g)] if v is not None]
    json_mode = bool(outputs) and outputs[-1].lower() == "json"
    for g in globals_:
        if g[0] == "--env-file":
            named_paths.append(g[1])
    verbose = any(g[0] in ("--verbose", "-v") for g in globals_)
    return Example(argv=argv, json_mode=json_mode, named_paths=named_paths,
                   words=spec.words, verbose=verbose)
