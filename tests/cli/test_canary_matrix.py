"""Issue 11, acceptance 1 (the secrets half): a canary matrix over the whole command tree.

Every secret key of ``contract.PARAMETERS`` holds a distinct canary: double and single
quotes, backslashes, newlines, JSON with a ``private_key``, unicode. Each canary carries a
unique marker token in every segment between those characters, so a fragment leaks its
marker too. Three generations are in play: the ``.env`` (E), and versions 1 and 2 already
in Parameter Store (A, B). A malformed ``.env`` (M) holds invalid values with their own
markers and an unparseable line.

The matrix is generated from ``garmaxctl.registry``:

- every command that reads or writes a secret (``SECRET_RUNS``) x table/json x plain/
  ``--verbose`` x its success path and an error path (an injected AWS error, a malformed
  ``.env``, a missing stack, a stopped emulator), on LOCAL against the shared emulator;
- every other registered command x table/json x plain/``--verbose`` on its fail-fast path,
  with the same ``.env``;
- a real stage aimed at the emulator (``--endpoint-url``) through a profile that assumes
  an emulator IAM role, under ``--verbose``: neither the canaries nor the role's temporary
  credentials appear.

After each run no marker (plain, hex or base64) may appear in stdout, stderr, any file
under ``GARMAX_STATE_DIR``, any file the run left in the working directory, or the
emulator's log (the LOCAL platform's gateway and workers log to that same file: one
process, ``garmaxctl.local.supervisor``). The documented exceptions: ``params get
--decrypt`` prints the secret on stdout (only there), and ``params pull --out FILE``
writes every secret into FILE, a 0600 file, on purpose (that one path is not scanned; it
is checked to hold the canaries, with mode 0600).

Each CLI run is a process of its own in real life: the redaction registry is emptied
before each run, so one command's registered secrets never hide another's leak.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import stat
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from garmaxctl import redact, registry
from garmaxctl.settings import load_env_file
from garmaxctl.shared import contract
from tests.cli.test_fail_fast import ARGS as FAIL_FAST_ARGS
from tests.conftest import free_port
from tests.params.conftest import (  # noqa: F401  (fixtures, shared with tests/params)
    VALUES,
    WALKER_IDENTITY,
    WALKER_RECIPIENT,
    aws_error,
    env_text,
    ssm_calls,
)

SECRET_KEYS: tuple[str, ...] = tuple(p.env_key for p in contract.PARAMETERS if p.secret)
GENERATIONS = ("E", "A", "B", "M")  # .env, stored version 1, stored version 2, malformed


def marker(generation: str, key: str) -> str:
    """The canary token of one secret key in one generation (unique, never a real word)."""
    return f"Zq7{generation}{SECRET_KEYS.index(key):02d}Cnry"


def _default(m: str) -> str:
    return f"{m}a \"dq\" {m}b 'sq' {m}c \\ {m}d\n{m}e ü✓秘密 {m}f"


# One template per validated key (the value must pass .env validation to be pushed); any
# other secret key, including one added to the contract later, gets the default.
TEMPLATES: dict[str, Callable[[str], str]] = {
    "REPLICATE_API_KEY": lambda m: f"r8_{m}a\"{m}b'{m}c\\{m}d",
    "STRIPE_SECRET_KEY": lambda m: f"sk_live_{m}a\"quoted\"{m}b'single'{m}c",
    "STRIPE_WEBHOOK_SECRET": lambda m: f"whsec_{m}a\\{m}b\\\\{m}c\\n{m}d",
    "DATABASE_URL": lambda m: f"mysql://admin:{m}a%40\"{m}b'@db.example.com:3306/g?pw={m}c\\{m}d",
    "REDIS_URL": lambda m: f"rediss://:{m}a\"{m}b#{m}c@cache.example.com:6379/0",
    "RDS_PASSWORD": lambda m: f"{m}a it's \"q\" {m}b = #not-a-comment \\ {m}c $HOME {m}d",
    "JWT_SECRET": lambda m: f"{m}a first line\n{m}b second \"line\"\n{m}c 'third' \\ {m}d",
    "GEMINI_API_KEY": lambda m: f"AIza{m}a-ключ-{m}b-秘密-{m}c-ü✓",
    "GEMINI_SERVICE_ACCOUNT_JSON": lambda m: json.dumps({
        "type": "service_account", "project_id": f"{m}a",
        "private_key": f"-----BEGIN PRIVATE KEY-----\n{m}b\\\"q\n{m}c\n-----END PRIVATE KEY-----\n",
        "client_email": f"{m}d@garmax.iam.gserviceaccount.com"}, indent=2),
    "INTERNAL_API_KEY": lambda m: f"int-{m}a-'single'-\"double\"-{m}b-\\\\-{m}c",
}


def canaries(generation: str) -> dict[str, str]:
    return {key: TEMPLATES.get(key, _default)(marker(generation, key)) for key in SECRET_KEYS}


def malformed(key: str) -> str:
    """An invalid value for the key (where the key is validated), markers in every part."""
    value = TEMPLATES.get(key, _default)(marker("M", key))
    if key == "GEMINI_SERVICE_ACCOUNT_JSON":
        return value[:-1]  # no closing brace: not JSON
    return f"bad {value}"  # no prefix, no scheme, a space: every validator refuses it


BROKEN_LINE_MARKER = "Zq7MbrokenCnry"
GOOD_ENV = env_text({**VALUES, **canaries("E")})
BAD_ENV = env_text({**VALUES, **{k: malformed(k) for k in SECRET_KEYS}},
                   extra=f'{BROKEN_LINE_MARKER} pasted "without a key\n')
MARKERS: tuple[str, ...] = (*(marker(g, k) for g in GENERATIONS for k in SECRET_KEYS),
                            BROKEN_LINE_MARKER)


def _forms(token: str) -> list[str]:
    """The token as text, hex, and base64 at each of the three byte alignments."""
    raw = token.encode()
    forms = [token, raw.hex()]
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + raw).decode()
        forms.append(encoded[4 if pad else 0:-4])  # the characters that depend on it alone
    return forms


FORMS: tuple[tuple[str, str], ...] = tuple((form, m) for m in MARKERS for form in _forms(m))


def leaked(text: str, allowed: frozenset[str] = frozenset()) -> set[str]:
    return {m for form, m in FORMS if m not in allowed and form in text}


# ----------------------------------------------------------------------------- the matrix

@dataclass(frozen=True)
class Scenario:
    """One path through a command: how to run it, and what must come of it."""

    args: tuple[str, ...]
    exits: tuple[int, ...]
    env: str = "good"  # "good": every secret a canary; "bad": the malformed .env
    emulator: str = "running"  # "running" (shared, seeded), "stopped", or "foreign"
    inject: tuple[tuple[str, str], ...] = ()  # (SSM operation, "deny" | "echo")
    reveals: str | None = None  # stdout may hold this generation's canaries (--decrypt)
    no_node: bool = False  # PATH without Node.js (synth's fail-fast path)
    proof: str | None = None  # what must be true afterwards (the canaries really flowed)


DENY = "deny"  # AccessDenied (reads)
ECHO = "echo"  # a ValidationException that echoes the request's value (writes): the worst
# case an AWS error message can be, to prove the redaction of errors

SECRET_RUNS: dict[str, dict[str, Scenario]] = {
    "params plan": {
        "ok": Scenario(("params", "plan"), (0,), proof="hashes"),
        "error": Scenario(("params", "plan"), (1,), env="bad",
                          inject=(("GetParametersByPath", DENY),))},
    "params diff": {
        "ok": Scenario(("params", "diff", "--exit-code"), (3,), proof="hashes"),
        "error": Scenario(("params", "diff"), (1,), env="bad",
                          inject=(("GetParametersByPath", DENY),))},
    "params push": {
        "ok": Scenario(("params", "push"), (0,), proof="pushed"),
        "error": Scenario(("params", "push"), (1,), inject=(("PutParameter", ECHO),))},
    "params apply": {
        "ok": Scenario(("params", "apply"), (0,), proof="pushed"),
        "error": Scenario(("params", "apply"), (2,), env="bad")},
    "params list": {
        "ok": Scenario(("params", "list"), (0,)),
        "error": Scenario(("params", "list"), (1,), inject=(("GetParametersByPath", DENY),))},
    "params get": {
        "ok": Scenario(("params", "get", "JWT_SECRET", "--decrypt"), (0,), reveals="B",
                       proof="revealed"),
        "error": Scenario(("params", "get", "JWT_SECRET"), (2,))},
    "params pull": {
        "ok": Scenario(("params", "pull", "--out", "{out}", "--force"), (0,), proof="pulled"),
        "error": Scenario(("params", "pull"), (2,))},
    "params history": {
        "ok": Scenario(("params", "history", "GEMINI_SERVICE_ACCOUNT_JSON"), (0,),
                       proof="hashes"),
        "error": Scenario(("params", "history", "GEMINI_SERVICE_ACCOUNT_JSON"), (1,),
                          inject=(("GetParameterHistory", DENY),))},
    "params rollback": {
        "ok": Scenario(("params", "rollback", "JWT_SECRET", "--to-version", "1"), (0,),
                       proof="rolled back"),
        "error": Scenario(("params", "rollback", "JWT_SECRET", "--to-version", "1"), (1,),
                          inject=(("PutParameter", ECHO),))},
    "params restore": {
        "ok": Scenario(("params", "restore", "--as-of", "{as_of}"), (0,), proof="restored"),
        "error": Scenario(("params", "restore", "--as-of", "{as_of}"), (1,),
                          inject=(("PutParameter", ECHO),))},
    # The export file ({export}) is scanned like any other file: it must hold no marker
    # in any form. {sealed} is an export of generation A, encrypted to the walker key.
    "params export": {
        "ok": Scenario(("params", "export", "--out", "{export}", "--force", "--recipient",
                        WALKER_RECIPIENT), (0,), proof="exported"),
        "error": Scenario(("params", "export", "--out", "{export}", "--recipient",
                           WALKER_RECIPIENT), (1,), inject=(("GetParametersByPath", DENY),))},
    "params import": {
        "ok": Scenario(("params", "import", "{sealed}", "--identity", str(WALKER_IDENTITY)),
                       (0,), proof="restored"),
        "error": Scenario(("params", "import", "{sealed}", "--identity",
                           str(WALKER_IDENTITY)), (1,), inject=(("PutParameter", ECHO),))},
    "config show": {
        "ok": Scenario(("config", "show"), (0,)),
        "error": Scenario(("config", "show"), (0,), env="bad")},
    "config validate": {
        "ok": Scenario(("config", "validate"), (0,)),
        "error": Scenario(("config", "validate"), (2,), env="bad")},
    "doctor": {
        "ok": Scenario(("doctor",), (0, 1)),  # its tool checks depend on the machine
        "error": Scenario(("doctor",), (1,), env="bad", emulator="stopped")},
    # No deployed stack (this module never deploys one): on a running, seeded emulator
    # smoke and verify run to the missing stack, their only path here.
    "smoke": {
        "ok": Scenario(("smoke",), (1,)),
        "error": Scenario(("smoke",), (1,), emulator="stopped")},
    "verify": {
        "ok": Scenario(("verify",), (1,)),
        "error": Scenario(("verify",), (1,), emulator="stopped")},
}

# Every other command: its fail-fast path. The emulator is stopped unless named here.
FAIL_FAST: dict[str, Scenario] = {
    # Needs no emulator: no Node.js instead. --force: a cdk.out left by a LOCAL deploy of
    # an earlier test (the checkout's) would make it a skip, not a fail-fast path.
    "synth": Scenario(("synth", "--force"), (1,), no_node=True),
    "destroy": Scenario(("destroy", "--yes"), (1,), emulator="stopped"),
    # A moto server that garmaxctl did not start holds the port: refused at once.
    "local up": Scenario(("local", "up"), (1,), emulator="foreign"),
    "local down": Scenario(("local", "down"), (0,), emulator="stopped"),  # nothing to stop
    "local status": Scenario(("local", "status"), (1,), emulator="stopped"),
    "local logs": Scenario(("local", "logs"), (0,), emulator="stopped"),  # no log yet
    # LOCAL has no database: refused (exit 2, no_database) before any AWS call.
    "dr restore-db": Scenario(("dr", "restore-db", "--latest"), (2,), emulator="stopped"),
    "dr drill": Scenario(("dr", "drill"), (2,), emulator="stopped"),
    # The audit trail is read from local files: no emulator needed (the head: not checked).
    "audit list": Scenario(("audit", "list"), (0,), emulator="stopped"),
    "audit show": Scenario(("audit", "show", "0123abcd"), (2,), emulator="stopped"),
    "audit verify": Scenario(("audit", "verify"), (0,), emulator="stopped"),
}


def _fail_fast(entry: registry.Entry) -> Scenario:
    # The arguments a command needs to reach its fail-fast path: one list, test_fail_fast's.
    words = (*entry.words, *FAIL_FAST_ARGS.get(entry.path, ()))
    return FAIL_FAST.get(entry.path, Scenario(words, (1,), emulator="stopped"))


CASES: list[Any] = []
for _entry in registry.commands():
    _paths = SECRET_RUNS.get(_entry.path) or {"fail-fast": _fail_fast(_entry)}
    for _name, _path in _paths.items():
        for _fmt in ("table", "json"):
            for _verbose in (False, True):
                CASES.append(pytest.param(
                    _path, _fmt, _verbose,
                    id=f"{_entry.path.replace(' ', '-')}-{_name}-{_fmt}"
                       f"{'-verbose' if _verbose else ''}"))


def test_the_matrix_covers_the_registry() -> None:
    paths = {e.path for e in registry.commands()}
    assert set(SECRET_RUNS) <= paths, set(SECRET_RUNS) - paths  # no stale name
    assert set(FAIL_FAST) <= paths - set(SECRET_RUNS)
    assert {p for p in paths if p.startswith("params ")} <= set(SECRET_RUNS)


def test_the_canaries_reach_garmaxctl_intact(tmp_path: Path) -> None:
    """The .env holds exactly the canaries (quotes, newlines and all); the malformed one is
    refused for every validated key and for the broken line, without losing a marker."""
    (tmp_path / "good.env").write_text(GOOD_ENV)
    (tmp_path / "bad.env").write_text(BAD_ENV)
    good = load_env_file(tmp_path / "good.env")
    assert {k: good.values[k] for k in SECRET_KEYS} == canaries("E")
    assert good.valid, good.problems
    for generation in ("E", "A", "B"):
        for key, value in canaries(generation).items():
            if key == "GEMINI_SERVICE_ACCOUNT_JSON":  # the JSON's own words are no secret
                document = json.loads(value)
                document.pop("type")
                value = "\n".join(document.values())
            # A marker in every part between quotes, backslashes and line breaks.
            for part in value.replace("\\", '"').replace("'", '"').replace("\n", '"') \
                    .split('"'):
                if len(part.strip(" ,:{}-_")) > 8 and "PRIVATE KEY" not in part:
                    assert marker(generation, key) in part, (key, part)
    bad = load_env_file(tmp_path / "bad.env")
    refused = {p.key for p in bad.problems}
    assert {"REPLICATE_API_KEY", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "DATABASE_URL",
            "REDIS_URL", "GEMINI_SERVICE_ACCOUNT_JSON"} <= refused, bad.problems
    assert any("could not be parsed" in p.message for p in bad.problems), bad.problems


def test_a_multi_line_secret_is_masked_once_collapsed_to_one_line() -> None:
    """Error messages are collapsed to one line before they are redacted (``describe_error``,
    ``GarmaxError.one_line``): the collapsed form of a secret is masked too."""
    secret = canaries("E")["JWT_SECRET"]
    redact.register(secret)
    message = " ".join(f"Value '{secret}' at 'value' failed".split())
    assert not leaked(redact.redact(message)), redact.redact(message)
    assert not leaked(redact.redact(json.dumps(message))), redact.redact(json.dumps(message))


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def emulator_log(emulator_port: int, tmp_path_factory: pytest.TempPathFactory
                 ) -> Path:
    """The shared emulator's log file (found through its state file, by its port)."""
    for state in tmp_path_factory.getbasetemp().glob("*/emulator.json"):
        found = json.loads(state.read_text())
        if found.get("port") == emulator_port:
            return Path(found["log_path"])
    raise AssertionError(f"no state file names the emulator on port {emulator_port}")


def _ssm(port: int) -> Any:
    return boto3.client("ssm", endpoint_url=f"http://localhost:{port}", region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def seed(port: int, stage: str = "LOCAL") -> str:
    """A fresh emulator with versions 1 (A) and 2 (B) of every secret; returns a moment
    between the two versions (for ``restore --as-of``; the emulator shares our clock)."""
    from garmaxctl.local import server

    server.reset(f"http://localhost:{port}")
    ssm = _ssm(port)
    between = ""
    for generation in ("A", "B"):
        for key, value in canaries(generation).items():
            ssm.put_parameter(Name=contract.PARAMS_BY_ENV_KEY[key].full_path(stage),
                              Value=value, Type="SecureString", Overwrite=True)
        if generation == "A":
            between = dt.datetime.now(dt.UTC).isoformat()
            time.sleep(0.02)
    return between


def stored(port: int, stage: str = "LOCAL") -> dict[str, str]:
    ssm = _ssm(port)
    return {key: ssm.get_parameter(Name=contract.PARAMS_BY_ENV_KEY[key].full_path(stage),
                                   WithDecryption=True)["Parameter"]["Value"]
            for key in SECRET_KEYS}


def _injector(kind: str) -> Callable[[dict], Any]:
    if kind == DENY:
        return lambda body: aws_error(
            "AccessDeniedException", "User: arn:aws:iam::123456789012:user/ops is not "
            "authorized to perform this operation with an explicit deny")
    return lambda body: aws_error(
        "ValidationException", f"1 validation error detected: Value '{body.get('Value')}' "
        "at 'value' failed to satisfy constraint: Member must satisfy regular expression "
        "pattern")


def scan(*, stdout: str, stderr: str, state_dir: Path, project: Path, log: Path,
         allowed_stdout: frozenset[str], skip: set[Path]) -> dict[str, set[str]]:
    """Every place a leak could land, and the markers found there."""
    found: dict[str, set[str]] = {"stdout": leaked(stdout, allowed_stdout),
                                  "stderr": leaked(stderr)}
    for root in (state_dir, project):
        for path in sorted(root.rglob("*")):
            if path.is_file() and path not in skip:
                found[str(path)] = leaked(path.read_bytes().decode("utf-8", "replace"))
    found[f"emulator log {log}"] = leaked(log.read_bytes().decode("utf-8", "replace"))
    return {where: markers for where, markers in found.items() if markers}


# ----------------------------------------------------------------------------- the test

@pytest.mark.parametrize(("scenario", "fmt", "verbose"), CASES)
def test_no_canary_leaks(scenario: Scenario, fmt: str, verbose: bool, cli, write_env, project: Path,
                         emulator_port: int, emulator_log: Path,
                         monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
                         tmp_path_factory: pytest.TempPathFactory) -> None:
    env_file = write_env(GOOD_ENV if scenario.env == "good" else BAD_ENV)
    out = project / "pulled.env"
    as_of = dt.datetime.now(dt.UTC).isoformat()
    if scenario.emulator == "running":
        monkeypatch.setenv("GARMAX_LOCAL_PORT", str(emulator_port))
        as_of = seed(emulator_port)
    elif scenario.emulator == "foreign":
        monkeypatch.setenv("GARMAX_LOCAL_PORT", str(emulator_port))
    else:
        monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))  # nothing listens there
    monkeypatch.setenv("GARMAX_API_PORT", str(free_port()))
    if scenario.no_node:
        monkeypatch.setenv("PATH", str(tmp_path_factory.mktemp("no-node")))
    if scenario.inject:
        calls = request.getfixturevalue("ssm_calls")
        for operation, kind in scenario.inject:
            calls.on_send(operation, _injector(kind))
    export, sealed = project / "params.age", project / "sealed-a.age"
    if "{sealed}" in scenario.args:
        sealed.write_bytes(_sealed_export(canaries("A")))
    args = [a.format(out=out, as_of=as_of, export=export, sealed=sealed)
            for a in scenario.args]
    redact.forget_all()  # a run is a process: nothing registered by an earlier run helps

    result = cli(*(["--verbose"] if verbose else []), "-o", fmt, *args)

    context = f"garmaxctl {' '.join(args)} -o {fmt} -> {result.exit_code}\n" \
              f"{result.stdout[-1500:]}\n{result.stderr[-2500:]}"
    assert result.exit_code in scenario.exits, context
    if fmt == "json":
        document = json.loads(result.stdout)
        assert document["exit_code"] == result.exit_code
    found = scan(stdout=result.stdout, stderr=result.stderr, state_dir=_state_dir(),
                 project=project, log=emulator_log, allowed_stdout=_revealed(scenario),
                 skip={env_file, out})
    assert not found, f"canaries leaked: {found}\n{context}"
    if verbose and scenario.proof:
        assert "request ssm." in result.stderr, context  # the wire log was on
    _prove(scenario, result, emulator_port, out if scenario.proof == "pulled" else export,
           context)


def _sealed_export(values: dict[str, str]) -> bytes:
    """A LOCAL export holding ``values`` as SecureStrings, encrypted to the walker key."""
    from garmaxctl.services.params.export import Entry, Sealing, _to_document, seal

    entries = [Entry(name=contract.PARAMS_BY_ENV_KEY[k].path, type="SecureString",
                     tier="Standard", version=1, key_id="alias/aws/ssm", value=v)
               for k, v in values.items()]
    return seal(_to_document("LOCAL", "2026-01-01T00:00:00Z", entries),
                Sealing(recipients=[WALKER_RECIPIENT]))


def _state_dir() -> Path:
    return Path(os.environ["GARMAX_STATE_DIR"])


def _revealed(scenario: Scenario) -> frozenset[str]:
    """The markers stdout may show: the generation a ``--decrypt`` run asked for."""
    if scenario.reveals is None:
        return frozenset()
    return frozenset(marker(scenario.reveals, k) for k in SECRET_KEYS)


def _prove(scenario: Scenario, result: Any, port: int, out: Path, context: str) -> None:
    """The run really handled the canaries (a matrix of no-ops would prove nothing)."""
    if scenario.proof == "hashes":
        assert "sha256:" in result.stdout, context
    elif scenario.proof == "pushed":
        assert stored(port) == canaries("E"), context
    elif scenario.proof == "rolled back":
        assert stored(port)["JWT_SECRET"] == canaries("A")["JWT_SECRET"], context
    elif scenario.proof == "restored":
        assert stored(port) == canaries("A"), context
    elif scenario.proof == "revealed":
        assert marker("B", "JWT_SECRET") in result.stdout, context
    elif scenario.proof == "exported":
        import pyrage

        identity = pyrage.x25519.Identity.from_str(WALKER_IDENTITY.read_text().split()[-1])
        document = json.loads(pyrage.decrypt(out.read_bytes(), [identity]))
        values = {p["name"]: p["value"] for p in document["parameters"]}
        assert {k: values[contract.PARAMS_BY_ENV_KEY[k].path] for k in SECRET_KEYS} == \
            canaries("B"), context
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
    elif scenario.proof == "pulled":
        text = out.read_text()
        assert all(marker("B", k) in text for k in SECRET_KEYS), context
        assert stat.S_IMODE(out.stat().st_mode) == 0o600


# ------------------------------------------------------------------ an assumed role's keys

ROLE = "arn:aws:iam::123456789012:role/garmaxai-operator"
BASE_SECRET = "base-Zq7BASEsecretCnry"
ROLE_RUNS: dict[str, Scenario] = {
    "push": Scenario(("params", "push"), (0,), proof="pushed"),
    "history": Scenario(("params", "history", "JWT_SECRET"), (0,), proof="hashes"),
    "get-decrypt": Scenario(("params", "get", "RDS_PASSWORD", "--decrypt"), (0,), reveals="B"),
    "outputs": Scenario(("outputs",), (1,)),  # no stack: the error path
}


def _assumed_credentials(port: int) -> set[str]:
    """The secret halves of every role the emulator's STS handed out."""
    with urllib.request.urlopen(f"http://localhost:{port}/moto-api/data.json",
                                timeout=10) as answer:
        data = json.loads(answer.read())
    roles = data.get("sts", {}).get("AssumedRole", [])
    return {r[k] for r in roles for k in ("secret_access_key", "session_token")}


@pytest.mark.parametrize("fmt", ["table", "json"])
@pytest.mark.parametrize("name", list(ROLE_RUNS))
def test_an_assumed_roles_credentials_never_appear(name: str, fmt: str, cli, write_env,
                                                   project: Path, emulator_port: int,
                                                   emulator_log: Path,
                                                   tmp_path_factory: pytest.TempPathFactory,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = ROLE_RUNS[name]
    endpoint = f"http://localhost:{emulator_port}"
    aws_dir = tmp_path_factory.mktemp("aws")  # outside the scanned working directory
    seed(emulator_port, stage="DEV")
    boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing").create_role(
        RoleName=ROLE.rsplit("/", 1)[-1], AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}))
    config, credentials = aws_dir / "config", aws_dir / "credentials"
    config.write_text("[profile base]\nregion = us-east-1\n"
                      "[profile ops]\nregion = us-east-1\nsource_profile = base\n"
                      f"role_arn = {ROLE}\nendpoint_url = {endpoint}\n")
    credentials.write_text("[base]\naws_access_key_id = AKIABASEBASEBASE0001\n"
                           f"aws_secret_access_key = {BASE_SECRET}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", "123456789012")
    write_env(GOOD_ENV)
    redact.forget_all()

    result = cli("-s", "dev", "--profile", "ops", "--endpoint-url", endpoint, "--verbose",
                 "-o", fmt, *scenario.args)

    context = f"{' '.join(scenario.args)} -> {result.exit_code}\n{result.stdout[-1500:]}\n" \
              f"{result.stderr[-2500:]}"
    assert result.exit_code in scenario.exits, context
    # The role was assumed through the emulator's STS, and the wire log saw the call.
    assert "request sts.AssumeRole POST" in result.stderr, context
    keys = _assumed_credentials(emulator_port)
    assert keys, "the emulator handed out no role credentials"
    texts = {"stdout": result.stdout, "stderr": result.stderr,
             "emulator log": emulator_log.read_text(errors="replace")}
    for root in (_state_dir(), project):
        for file in root.rglob("*"):
            if file.is_file() and file != project / ".env":
                texts[str(file)] = file.read_text(errors="replace")
    for where, text in texts.items():
        for secret in (*keys, BASE_SECRET, "AssumeRoleResult", "<SessionToken>"):
            assert secret not in text, f"{secret[:12]}... in {where}\n{context}"
    found = scan(stdout=result.stdout, stderr=result.stderr, state_dir=_state_dir(),
                 project=project, log=emulator_log, allowed_stdout=_revealed(scenario),
                 skip={project / ".env"})
    assert not found, f"canaries leaked: {found}\n{context}"
    if scenario.proof == "pushed":
        assert stored(emulator_port, "DEV") == canaries("E")
    elif scenario.proof == "hashes":
        assert "sha256:" in result.stdout
