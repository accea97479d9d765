"""Golden documents: each command's JSON envelope and exit code, recorded from the code of
today and compared on every run, so a redesign of the internals that changes what CI reads
(a key, a status word, a count, a message, an error code, an exit code) fails here.

Each case runs in-process (``CliRunner`` against ``garmaxctl.app.app``, through the
``Run`` helper of tests/cli/conftest.py) with ``-o json``: against a real stage on moto's
in-process ``mock_aws`` (DEV/PROD, their accounts pointed at moto's) built by the suite's
own builders (tests/health/conftest.py ``build_dev_stage`` + ``fake_api``,
tests/idle/builder.py), or LOCAL with no emulator running. What is the machine's and not
garmaxctl's is pinned: ``doctor`` sees stand-in node/npm/cdk on a PATH of their own, and
``diff``/``deploy`` drive a stand-in CDK CLI (synth writes a template, diff reports one
change) through ``GARMAX_PROJECT_DIR``. The stored document of case NAME is
``tests/golden/NAME.json``::

    {"argv": [...], "exit_code": N, "document": {...}}     # JSON on stdout
    {"argv": [...], "exit_code": N, "stdout": "...", "stderr": "..."}   # text (no JSON)

Masking (``Masker``), applied to the document before it is compared or recorded:

- by key name (``MASKED_KEYS``): ``duration_ms``, ``latency_ms``, ``idle_for_s``,
  ``uptime_s``, ``pid``, ``port``. The value becomes ``"<masked:TYPE>"`` (TYPE: number,
  str, bool, list, dict), so the key's presence and JSON type are still compared; ``null``
  stays ``null`` (set vs unset is compared too).
- by regex on every string value and key (``Masker.patterns``, in order): this run's temp
  directories (``<project>``, ``<tmp>/nameN``), ``localhost``/``127.0.0.1`` ports
  (``:<port>``), ISO timestamps (``<time>``) and dates (``<date>``), UUIDs (``<uuid>``),
  an 8-hex random id in parentheses (``(<id>)``: moto's event source mapping ids),
  40-hex git shas (``<sha>``), the ``(user@host pid N)`` that names a caller, the
  interpreter's ``Python X.Y.Z``, and garmaxctl's own version (``<garmaxctl-version>``)
  and commit (``<commit>``).

Nothing else is masked: keys (not their order), list order, statuses, counts, messages,
error codes, exit codes, hashes of fixed input (``sha256:…`` of a value the test wrote),
parameter versions, prices and the moto account id are compared as they are.

Regenerate after an intended change, then review the diff of tests/golden/ like code::

    GARMAX_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/cli/test_golden_documents.py

Without ``GARMAX_UPDATE_GOLDEN=1`` a missing stored document fails the test; it is never
recorded silently.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.cli.conftest import Run, assert_envelope
from tests.conftest import free_port
from tests.health.conftest import FakeApi, build_dev_stage, fake_api  # noqa: F401
from tests.idle import builder
from tests.idle.conftest import quiet_moto

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("GARMAX_UPDATE_GOLDEN") == "1"
MOTO_ACCOUNT = "123456789012"

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS")


# --------------------------------------------------------------------------- masking

MASKED_KEYS = frozenset({
    "duration_ms", "latency_ms",  # how long a check or a run took
    "idle_for_s", "uptime_s",  # elapsed since this run's setup
    "pid", "port",  # this run's processes and free ports
})


@dataclass
class Masker:
    """``mask(value)``: a JSON value with this run's volatile parts replaced (see the module
    docstring for the rules)."""

    project: str
    basetemp: str
    version: str
    patterns: list[tuple[re.Pattern[str], str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.patterns = [
            (re.compile(re.escape(self.project)), "<project>"),
            (re.compile(re.escape(self.basetemp) + r"/([A-Za-z_.-]*?)\d+"), r"<tmp>/\1N"),
            (re.compile(re.escape(self.basetemp)), "<tmp>"),
            (re.compile(r"\b(localhost|127\.0\.0\.1):\d+"), r"\1:<port>"),
            (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?"),
             "<time>"),
            (re.compile(r"\b\d{4}-\d{2}-\d{2}\b"), "<date>"),
            (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
             "<uuid>"),
            (re.compile(r"\(([0-9a-f]{8})\)"), "(<id>)"),  # a short random id: "(de239fe5)"
            (re.compile(r"\b[0-9a-f]{40}\b"), "<sha>"),
            (re.compile(r"\([^()\s]+@[^()\s]+ pid \d+\)"), "(<user>@<host> pid <pid>)"),
            (re.compile(r"\bPython \d+\.\d+\.\d+"), "Python <version>"),
            (re.compile(r"(?<![\w.])" + re.escape(self.version) + r"(?![\w.])"),
             "<garmaxctl-version>"),
            (re.compile(r"\(commit (?:[0-9a-f]{12}|unknown)\)"), "(commit <commit>)"),
        ]

    def text(self, value: str) -> str:
        for pattern, replacement in self.patterns:
            value = pattern.sub(replacement, value)
        return value

    def __call__(self, value: Any, key: str | None = None) -> Any:
        if key in MASKED_KEYS and value is not None:
            kind = {bool: "bool", int: "number", float: "number", str: "str", list: "list",
                    dict: "dict"}.get(type(value), type(value).__name__)
            return f"<masked:{kind}>"
        if isinstance(value, dict):
            return {self.text(str(k)): self(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value


# --------------------------------------------------------------------------- the world

@dataclass
class World:
    """What a case's setup may use: the CLI, its working directory, the environment."""

    cli: Run
    project: Path
    monkeypatch: pytest.MonkeyPatch
    request: pytest.FixtureRequest

    def write(self, name: str, text: str) -> Path:
        path = self.project / name
        path.write_text(text)
        return path

    def ssm(self) -> Any:
        return boto3.client("ssm", region_name="us-east-1")

    def run_ok(self, *argv: str) -> None:
        result = self.cli(*argv)
        assert result.exit_code == 0, result.stdout + result.stderr


# A small team .env: an add, a change, an unchanged value, a secret, a placeholder
# (skipped) and a key garmaxctl does not map (ignored).
PARAMS_ENV = """# team .env
AWS_REGION=us-east-1
ALERT_EMAIL=ops@example.com
DAILY_BUDGET_USD=200
MAX_TRYONS_PER_USER_DAILY=50
JWT_SECRET=golden-jwt-secret-value-0001
REPLICATE_API_KEY=r8_xxxxxxxxxxxxxxxx
NOT_A_GARMAX_KEY=1
"""


def params_stage(world: World, stage: str = "DEV") -> None:
    """DEV's Parameter Store before the plan: one unchanged, one changed, one extra."""
    ssm = world.ssm()
    ssm.put_parameter(Name=f"/garmaxai/{stage}/alerts/email", Value="ops@example.com",
                      Type="String")
    ssm.put_parameter(Name=f"/garmaxai/{stage}/budget/daily-usd", Value="150", Type="String")
    ssm.put_parameter(Name=f"/garmaxai/{stage}/custom/flag", Value="on", Type="String")
    world.write(".env", PARAMS_ENV)


def params_pushed(world: World) -> None:
    """DEV after two pushes: JWT_SECRET and DAILY_BUDGET_USD have two versions each."""
    params_stage(world)
    world.run_ok("-s", "dev", "params", "push")
    world.write(".env", PARAMS_ENV.replace("0001", "0002").replace("=200", "=250"))
    world.run_ok("-s", "dev", "params", "push")


def health_stage(world: World) -> FakeApi:
    api: FakeApi = world.request.getfixturevalue("fake_api")
    build_dev_stage(api)
    return api


def health_unhealthy(world: World) -> None:
    health_stage(world).mode = "down"


def idle_stage(world: World) -> None:
    quiet_moto()
    builder.build(builder.default_spec("DEV"))


def alarms_stage(world: World) -> None:
    """The idle builder's stage (its alarms), with AWS's mute-rule and alarm-history
    answers (tests/alarms/conftest.py: moto lacks both)."""
    from garmaxctl import aws
    from tests.alarms.conftest import AwsCloudWatchExtras

    idle_stage(world)
    fake = AwsCloudWatchExtras()
    wire = aws.log_the_wire
    world.monkeypatch.setattr(aws, "log_the_wire", lambda session: fake.install(wire(session)))


def idle_stage_down(world: World) -> None:
    idle_stage(world)
    world.run_ok("-s", "dev", "idle", "down")


def local_no_emulator(world: World) -> None:
    world.monkeypatch.setenv("GARMAX_LOCAL_PORT", str(free_port()))


REAL_STAGE_ENV = """ALERT_EMAIL=ops@example.com
DAILY_BUDGET_USD=200
JWT_SECRET=golden-jwt-secret-value-0001
REPLICATE_API_KEY=r8_golden0123456789
STRIPE_SECRET_KEY=sk_test_golden0123456789
STRIPE_WEBHOOK_SECRET=whsec_golden0123456789
FRONTEND_URL=https://app.example.com
"""


def valid_env(world: World) -> None:
    world.write(".env", REAL_STAGE_ENV)


def invalid_env(world: World) -> None:
    world.write(".env", "ALERT_EMAIL=not-an-email\nMAX_RENDERS_PER_USER_DAILY=lots\n")


def _script(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def toolbox(world: World) -> None:
    """The machine ``doctor`` looks at, fixed: PATH holds only stand-ins for node (20, so
    the end-of-life warning shows) and npm; no aws, no docker; the project directory pins
    the CDK CLI its stand-in reports. The tools' versions are the machine's, not
    garmaxctl's behaviour: pinning them keeps doctor's document the same on every host."""
    bin_dir = world.project / "toolbox-bin"
    _script(bin_dir / "node", 'print("v20.11.1")\n')
    _script(bin_dir / "npm", 'print("10.2.4")\n')
    world.monkeypatch.setenv("PATH", str(bin_dir))
    root = world.project / "checkout"
    (root / "package.json").parent.mkdir(parents=True, exist_ok=True)
    (root / "package.json").write_text(json.dumps({"devDependencies": {"aws-cdk": "2.1148.1"}}))
    _script(root / "node_modules" / ".bin" / "cdk", 'print("2.1148.1 (build 0000000)")\n')
    world.monkeypatch.setenv("GARMAX_PROJECT_DIR", str(root))


def doctor_local(world: World) -> None:
    toolbox(world)
    local_no_emulator(world)


def doctor_dev(world: World) -> None:
    toolbox(world)
    valid_env(world)


def small_stack(world: World) -> None:
    """A deployed DEV stack with two outputs (CloudFormation on moto)."""
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="GarmaxAiStack-DEV", TemplateBody=json.dumps({
            "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {"ApiUrl": {"Value": "https://api.example.com/dev/"},
                        "UploadsBucketName": {"Value": "dev-uploads"}}}))


# A stand-in for the pinned CDK CLI: synth writes a template, diff reports one change.
FAKE_CDK = '''import json, pathlib, sys

args = sys.argv[1:]
if args[0] == "synth":
    out = pathlib.Path(args[args.index("--output") + 1])
    out.mkdir(parents=True, exist_ok=True)
    (out / (args[1] + ".template.json")).write_text(json.dumps({"Resources": {}}))
    sys.exit(0)
if args[0] == "diff":
    print("Stack " + args[1])
    print("Resources")
    print("[~] AWS::Lambda::Function Api ApiFunction")
    print(" \\u2514\\u2500 [~] MemorySize")
    print("")
    print("\\u2728  Number of stacks with differences: 1")
    sys.exit(1)
print("fake cdk: unexpected " + " ".join(args))
sys.exit(9)
'''


def fake_cdk_project(world: World) -> None:
    """A project directory whose ``node_modules/.bin/cdk`` is FAKE_CDK: garmaxctl's synth,
    diff and PROD approval run for real; no Node.js, no AWS outside moto."""
    root = world.project / "checkout"
    _script(root / "node_modules" / ".bin" / "cdk", FAKE_CDK)
    world.monkeypatch.setenv("GARMAX_PROJECT_DIR", str(root))


# --------------------------------------------------------------------------- cases

@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]
    setup: Callable[[World], Any] | None = None
    aws: bool = False  # run inside mock_aws, DEV/QA/PROD accounts = moto's
    json: bool = True  # stdout is one JSON document (False: text, stderr kept too)


CASES = [
    Case("version", ("-o", "json", "--version"), json=False),
    Case("bad_output_value", ("-o", "yaml", "config", "show"), json=False),
    Case("unknown_stage", ("-s", "nope", "doctor")),
    Case("doctor_local_no_emulator", ("doctor",), doctor_local),
    Case("doctor_dev", ("-s", "dev", "doctor"), doctor_dev, aws=True),
    Case("config_show", ("config", "show"), valid_env),
    Case("config_validate_valid", ("config", "validate"), valid_env),
    Case("config_validate_invalid", ("config", "validate"), invalid_env),
    Case("params_plan_dev", ("-s", "dev", "params", "plan"), params_stage, aws=True),
    Case("params_plan_exit_code_dev", ("-s", "dev", "params", "plan", "--exit-code"),
         params_stage, aws=True),
    Case("params_push_dry_run_dev", ("-s", "dev", "params", "push", "--dry-run"),
         params_stage, aws=True),
    Case("params_push_dev", ("-s", "dev", "params", "push"), params_stage, aws=True),
    Case("params_push_prod_refused", ("-s", "prod", "params", "push"),
         lambda w: params_stage(w, "PROD"), aws=True),
    Case("params_list_dev", ("-s", "dev", "params", "list"), params_pushed, aws=True),
    Case("params_history_secret_dev", ("-s", "dev", "params", "history", "JWT_SECRET"),
         params_pushed, aws=True),
    Case("params_history_string_dev", ("-s", "dev", "params", "history", "DAILY_BUDGET_USD"),
         params_pushed, aws=True),
    Case("idle_status_dev", ("-s", "dev", "idle", "status"), idle_stage, aws=True),
    Case("idle_down_dry_run_dev", ("-s", "dev", "idle", "down", "--dry-run"), idle_stage,
         aws=True),
    Case("idle_down_dev", ("-s", "dev", "idle", "down"), idle_stage, aws=True),
    Case("idle_status_while_idle_dev", ("-s", "dev", "idle", "status"), idle_stage_down,
         aws=True),
    Case("alarms_list_dev", ("-s", "dev", "alarms", "list"), alarms_stage, aws=True),
    Case("health_healthy_dev", ("-s", "dev", "health"), health_stage, aws=True),
    Case("health_unhealthy_dev", ("-s", "dev", "health"), health_unhealthy, aws=True),
    Case("verify_dev", ("-s", "dev", "verify"), health_stage, aws=True),
    Case("smoke_dev_without_allow_spend", ("-s", "dev", "smoke"), aws=True),
    Case("status_dev", ("-s", "dev", "status"), health_stage, aws=True),
    Case("outputs_dev", ("-s", "dev", "outputs"), small_stack, aws=True),
    Case("outputs_dev_missing_stack", ("-s", "dev", "outputs"), aws=True),
    Case("logs_tail_unknown_function_dev", ("-s", "dev", "logs", "tail", "api", "nosuch"),
         aws=True),
    Case("local_status_no_emulator", ("local", "status"), local_no_emulator),
    Case("diff_prod_exit_code", ("-s", "prod", "diff", "--exit-code"), fake_cdk_project,
         aws=True),
    Case("deploy_prod_without_yes", ("-s", "prod", "deploy"), fake_cdk_project, aws=True),
    Case("destroy_prod_without_yes", ("-s", "prod", "destroy"), aws=True),
    Case("dr_restore_db_local_no_database", ("dr", "restore-db", "--latest")),
    Case("logs_query_list", ("logs", "query", "--list")),
    Case("logs_query_without_preset", ("logs", "query")),
    Case("audit_verify_no_records", ("audit", "verify")),
]


_LOADERS: dict[Any, Any] = {}


@pytest.fixture(autouse=True)
def _shared_service_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Speed only: every botocore session of this file reuses one loader, so the service
    models (large JSON) are parsed once, not once per garmaxctl run (as tests/idle does)."""
    import botocore.loaders
    import botocore.session

    def create_loader(search_path_string: Any = None) -> Any:
        if search_path_string not in _LOADERS:
            _LOADERS[search_path_string] = botocore.loaders.create_loader(search_path_string)
        return _LOADERS[search_path_string]

    monkeypatch.setattr(botocore.session, "create_loader", create_loader)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          request: pytest.FixtureRequest) -> World:
    project = tmp_path / "project"
    project.mkdir()
    return World(cli=Run(project), project=project, monkeypatch=monkeypatch, request=request)


@pytest.fixture
def masker(world: World, tmp_path_factory: pytest.TempPathFactory) -> Masker:
    from garmaxctl import __version__

    return Masker(project=str(world.project), basetemp=str(tmp_path_factory.getbasetemp()),
                  version=__version__)


def _aws(enabled: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    import contextlib

    if not enabled:
        return contextlib.nullcontext()
    from moto import mock_aws

    for stage in ("DEV", "QA", "PROD"):
        monkeypatch.setenv(f"GARMAX_{stage}_ACCOUNT", MOTO_ACCOUNT)
    return mock_aws()


def record(case: Case, world: World, masker: Masker) -> dict[str, Any]:
    """Run the case; its masked golden document."""
    argv = case.argv if not case.json else ("-o", "json", *case.argv)
    with _aws(case.aws, world.monkeypatch):
        if case.setup is not None:
            case.setup(world)
        result = world.cli(*argv)
    golden: dict[str, Any] = {"argv": list(argv), "exit_code": result.exit_code}
    if case.json:
        document = json.loads(result.stdout)  # exactly one document, or this raises
        assert_envelope(document, exit_code=result.exit_code,
                        command=document["command"])
        golden["document"] = masker(document)
    else:
        golden["stdout"] = masker.text(result.stdout)
        golden["stderr"] = masker.text(result.stderr)
    return golden


@pytest.fixture(params=CASES, ids=[c.name for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param


def test_golden_document(case: Case, world: World, masker: Masker) -> None:
    actual = record(case, world, masker)
    path = GOLDEN_DIR / f"{case.name}.json"
    if UPDATE:
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(_dump(actual))
        return
    assert path.exists(), (f"no golden document {path.relative_to(GOLDEN_DIR.parents[1])}: "
                           "record it with GARMAX_UPDATE_GOLDEN=1 and review it")
    expected = json.loads(path.read_text())
    if actual != expected:
        diff = difflib.unified_diff(_dump(expected).splitlines(), _dump(actual).splitlines(),
                                    f"stored {path.name}", "this run", lineterm="")
        pytest.fail(f"{case.name}: the document or exit code changed (if intended, re-record "
                    "with GARMAX_UPDATE_GOLDEN=1 and review the diff):\n" + "\n".join(diff),
                    pytrace=False)


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def test_every_golden_file_belongs_to_a_case() -> None:
    """A stored document whose case was removed or renamed is not left behind unnoticed."""
    stored = {p.stem for p in GOLDEN_DIR.glob("*.json")}
    assert stored <= {c.name for c in CASES}


def test_masking_keeps_what_is_compared() -> None:
    mask = Masker(project="/tmp/p/project", basetemp="/tmp/p", version="0.1.0")
    document = {"status": "ok", "count": 3, "latency_ms": 12.5, "pid": None,
                "detail": "http://localhost:4566 at 2026-03-01T10:00:00Z in "
                          "/tmp/p/garmax-state12/x",
                "hash": "sha256:0123abcd", "message": "garmaxctl 0.1.0 in /tmp/p/project/.env"}
    assert mask(document) == {
        "status": "ok", "count": 3, "latency_ms": "<masked:number>", "pid": None,
        "detail": "http://localhost:<port> at <time> in <tmp>/garmax-stateN/x",
        "hash": "sha256:0123abcd", "message": "garmaxctl <garmaxctl-version> in <project>/.env"}
