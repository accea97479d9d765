"""Issue 13, fuzzing: ``.env`` files with binary junk, NUL, a BOM, CRLF, duplicate keys,
unterminated quotes, multi-megabyte lines and bytes that are not UTF-8, read by the
commands that read the file (config validate/show, params plan/push, doctor) on a stopped
LOCAL emulator or a real stage without credentials.

Every run keeps the rules of tests/fuzz/test_argv.py; on top, `config validate` exits 0
or 2 — and 2 whenever the file is not UTF-8 or sets a key twice — and never echoes a
value of the file in its messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.budget import LONG, TALLY, family_settings
from tests.fuzz.sandbox import Example, run_example
from tests.params.conftest import CANARY, VALUES

KEYS = sorted(VALUES)
MEGABYTE = 1 << 20


@dataclass
class EnvDraw:
    data: bytes
    duplicate: bool
    utf8: bool


def _line(key: str, value: str) -> bytes:
    return f"{key}={value}".encode()


chunks = st.one_of(
    st.sampled_from(KEYS).map(lambda k: _line(k, VALUES[k].replace("\n", "\\n"))),
    st.sampled_from(KEYS).map(lambda k: f'{k}="{VALUES[k][:8]}'.encode()),  # unterminated
    st.sampled_from(KEYS).map(lambda k: f"{k}='{VALUES[k][:8]}".encode()),
    st.sampled_from(KEYS).map(lambda k: f"export {k} = {VALUES[k][:12]}".encode()),
    st.sampled_from([b"# a comment", b"", b"   ", b"=value", b"KEY_ONLY", b"1BAD=x",
                     b"A=${JWT_SECRET}", b"\t\tJWT_SECRET\t=\tspaced", b"JWT_SECRET=a\x00b",
                     b"\x00\x00\x00", b"FRONTEND_URL=caf\xe9", b"\xff\xfe\xfd",
                     b"DAILY_BUDGET_USD=-5", b"DAILY_BUDGET_USD=1e400",
                     b"MAX_TRYONS_PER_USER_DAILY=nan", b"AWS_REGION=\xe2\x80\x8bus-east-1",
                     b"\xef\xbb\xbfJWT_SECRET=bom-in-the-middle", b'"quoted key"=1']),
    st.binary(max_size=64),
)


@st.composite
def env_files(draw: st.DrawFn) -> EnvDraw:
    lines = draw(st.lists(chunks, max_size=12))
    duplicate = False
    if lines and draw(st.booleans()):
        key = draw(st.sampled_from(KEYS))
        lines += [_line(key, "first"), _line(key, "second")]  # a key set twice
        duplicate = True
    if draw(st.integers(0, 7)) == 3:
        size = draw(st.integers(1, 4 if LONG else 2)) * MEGABYTE
        filler = draw(st.sampled_from([b"A", b"\x00", b"'", b"\\", b"=", b" "]))
        lines.insert(draw(st.integers(0, len(lines))), b"JWT_SECRET=" + filler * size)
    lines = draw(st.permutations(lines))
    newline = draw(st.sampled_from([b"\n", b"\r\n", b"\r", b"\n\r"]))
    data = newline.join(lines)
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data  # a byte-order mark
    try:
        data.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    return EnvDraw(data=data, duplicate=duplicate and b"\x00" not in data, utf8=utf8)


COMMANDS = [("config", "validate"), ("config", "show"), ("params", "plan"),
            ("params", "push", "--dry-run"), ("doctor",), ("-s", "dev", "params", "plan"),
            ("-s", "prod", "params", "push")]


@family_settings("env")
@given(env=env_files(), command=st.sampled_from(COMMANDS), json_mode=st.booleans())
def test_any_env_file_keeps_the_cli_contract(fuzz_base: Path, env: EnvDraw,
                                             command: tuple[str, ...],
                                             json_mode: bool) -> None:
    argv = [*command, *(["-o", "json"] if json_mode else [])]
    words = tuple(w for w in command if not w.startswith("-") and w not in ("dev", "prod"))
    example = Example(argv=argv, json_mode=json_mode, env_bytes=env.data, words=words)
    verdict = run_example(fuzz_base, example)
    findings = list(verdict.findings)
    if command == ("config", "validate"):
        if verdict.exit_code not in (0, 2):
            findings.append(f"config validate exited {verdict.exit_code}")
        if (not env.utf8 or env.duplicate) and verdict.exit_code != 2:
            findings.append("an invalid .env (not UTF-8, or a key set twice) was accepted")
    if CANARY in verdict.stdout + verdict.stderr:
        findings.append("a secret of the .env was printed")
    TALLY.add("env", examples=1, megabyte_lines=int(len(env.data) > MEGABYTE),
              tracebacks=sum(f == "traceback printed" for f in findings),
              stray_writes=int(any(f.startswith(("wrote", "removed")) for f in findings)),
              findings=len(findings))
    assert not findings, (argv, env.data[:300], findings, verdict.exit_code,
                          verdict.stdout[-1500:], verdict.stderr[-1500:])
