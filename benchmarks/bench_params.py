"""A 40-parameter ``garmaxctl params push`` against the guide's loop of one
``aws ssm put-parameter`` process per parameter, both against the embedded emulator.

Both sides start as fresh processes and write the same 40 values (12 of them
SecureStrings): ``garmaxctl`` reads the tree once (⌈40/10⌉ calls) and writes in parallel;
the loop starts the aws CLI 40 times. An unchanged push (the common case: nothing to
write, nothing written) is measured too. The emulator runs on a free port with its own
state directory, so a developer's running emulator is left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import BenchResult, measure

STAGE = "LOCAL"
COUNT = 40
REPEAT = 3
# The mapping has 34 rows; six more (a child process adds them to its own copy of the
# table) make the 40 parameters the issue asks for.
EXTRA_ROWS = tuple((f"BENCH_EXTRA_{i}", f"bench/extra-{i}") for i in range(1, 7))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Valid values for every mapped key (push validates the .env first).
_VALID: dict[str, str] = {
    "REPLICATE_API_KEY": "r8_bench0123456789", "STRIPE_SECRET_KEY": "sk_test_bench",
    "STRIPE_WEBHOOK_SECRET": "whsec_bench", "STRIPE_PRICE_BASIC_MONTHLY": "price_basic",
    "STRIPE_PRICE_PRO_MONTHLY": "price_pro", "STRIPE_PRICE_UNLIMITED_MONTHLY": "price_unl",
    "STRIPE_STARTER_PRICE_ID": "price_start", "COGNITO_USER_POOL_ID": "us-east-1_Bench",
    "COGNITO_CLIENT_ID": "benchclient", "DATABASE_URL": "mysql://u:p@db.local:3306/garmax",
    "REDIS_URL": "redis://cache.local:6379/0", "RDS_HOST": "db.local",
    "RDS_USERNAME": "admin", "RDS_PASSWORD": "bench-password", "JWT_SECRET": "bench-jwt",
    "REPLICATE_DAILY_BUDGET_USD": "150", "MAX_RENDERS_PER_USER_DAILY": "20",
    "FRONTEND_URL": "http://localhost:3000", "DAILY_BUDGET_USD": "200",
    "ALERT_EMAIL": "ops@example.com", "AWS_ACCOUNT_ID": "123456789012",
    "UPLOADS_BUCKET_NAME": "uploads", "RENDERS_BUCKET_NAME": "renders",
    "GUIDANCE_BUCKET_NAME": "guidance", "SMPL_ASSETS_BUCKET_NAME": "smpl",
    "GEMINI_API_KEY": "gemini-bench", "GEMINI_API_ENDPOINT": "http://localhost:9000",
    "GEMINI_DAILY_BUDGET_USD": "50", "GEMINI_MAX_BATCH_SIZE": "4",
    "GEMINI_SERVICE_ACCOUNT_JSON": '{\n  "type": "service_account"\n}',
    "INTERNAL_API_KEY": "internal-bench", "BEDROCK_DAILY_BUDGET_USD": "50",
    "MAX_TRYONS_PER_USER_DAILY": "50", "MAX_CONCURRENT_RENDERS_PER_USER": "3",
}


def _values() -> dict[str, str]:
    from garmaxctl.shared import contract

    values = {spec.env_key: _VALID[spec.env_key] for spec in contract.PARAMETERS}
    values.update({key: f"{key.lower()}-value" for key, _ in EXTRA_ROWS})
    return values


def _rows() -> list[tuple[str, str, str]]:
    """(env key, full path, type) for the 40 parameters."""
    from garmaxctl.shared import contract

    rows = [(s.env_key, s.full_path(STAGE), s.kind.value) for s in contract.PARAMETERS]
    rows += [(key, contract.params_prefix(STAGE) + path, "String") for key, path in EXTRA_ROWS]
    return rows


def _aws_cli() -> str | None:
    beside = Path(sys.executable).with_name("aws")
    return str(beside) if beside.exists() else shutil.which("aws")


def child(argv: list[str]) -> int:
    """The garmaxctl side, in its own process: the real CLI with six extra table rows."""
    from garmaxctl.shared import contract
    from garmaxctl.shared.contract import Kind, ParamSpec

    extra = tuple(ParamSpec(key, path, Kind.PLAIN) for key, path in EXTRA_ROWS)
    contract.PARAMETERS = contract.PARAMETERS + extra
    contract.PARAMS_BY_ENV_KEY.update({p.env_key: p for p in extra})
    contract.PARAMS_BY_PATH.update({p.path: p for p in extra})
    from garmaxctl.app import app

    return int(app(argv, standalone_mode=False) or 0)


def run() -> BenchResult:
    from garmaxctl.local import server, supervisor
    from garmaxctl.services.params import to_dotenv

    port = _free_port()
    endpoint = f"http://localhost:{port}"
    result = BenchResult(title=f"params push: {COUNT} parameters into the emulator "
                               f"({endpoint})")
    with tempfile.TemporaryDirectory(prefix="garmax-bench-") as tmp:
        workdir = Path(tmp)
        state_dir = workdir / "state"
        env_file = workdir / ".env"
        env_file.write_text(to_dotenv(_values()))
        # aws CLI v1 fetches http(s):// parameter values as URLs unless told not to.
        (workdir / "aws-config").write_text("[default]\ncli_follow_urlparam = false\n")
        env = dict(os.environ, GARMAX_LOCAL_PORT=str(port), GARMAX_STATE_DIR=str(state_dir),
                   AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1",
                   AWS_ENDPOINT_URL=endpoint, AWS_CONFIG_FILE=str(workdir / "aws-config"),
                   AWS_SHARED_CREDENTIALS_FILE=str(workdir / "aws-credentials"))
        env.pop("AWS_PROFILE", None)
        garmaxctl = [sys.executable, "-m", "benchmarks.bench_params", "--child",
                     "--env-file", str(env_file), "-o", "json", "params", "push"]
        repo = Path(__file__).resolve().parents[1]

        def push() -> dict:
            done = subprocess.run(garmaxctl, env=env, cwd=repo, capture_output=True,
                                  text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"garmaxctl push failed: {done.stdout}{done.stderr}")
            return json.loads(done.stdout)

        def reset() -> None:
            server.reset(endpoint)

        supervisor.start_detached(port, state_dir)
        try:
            report: dict = {}

            def first_push() -> None:
                report.update(push())

            result.figures.append(measure(
                f"garmaxctl params push ({COUNT} writes)", first_push, repeat=REPEAT,
                before=reset, note="one process: plan (⌈N/10⌉ reads) + 8 parallel writes"))
            written = len(report["data"]["written"])
            if written != COUNT:
                raise RuntimeError(f"expected {COUNT} writes, got {written}")
            result.figures.append(measure(
                "garmaxctl params push (unchanged)", push, repeat=REPEAT,
                note="plan only: nothing to write"))

            aws = _aws_cli()
            if aws is None:
                result.notes.append("aws CLI not found (pip install awscli): loop skipped")
                return result
            values = _values()
            rows = _rows()

            def loop() -> None:
                for key, path, type_ in rows:
                    command = [aws, "ssm", "put-parameter", "--name", path, "--value",
                               values[key], "--type", type_, "--overwrite"]
                    subprocess.run(command, env=env, check=True, capture_output=True)

            result.figures.append(measure(
                f"aws ssm put-parameter loop ({COUNT} processes)", loop, repeat=REPEAT,
                before=reset, note="the guide's script: one aws process per parameter"))
        finally:
            supervisor.stop(state_dir)
    by_label = {f.label.split(" (")[0] + (" unchanged" if "unchanged" in f.label else ""):
                f.seconds for f in result.figures}
    loop_s = by_label.get("aws ssm put-parameter loop")
    if loop_s:
        result.ratios.append(("aws loop / garmaxctl push",
                              loop_s / by_label["garmaxctl params push"]))
        result.ratios.append(("aws loop / garmaxctl unchanged push",
                              loop_s / by_label["garmaxctl params push unchanged"]))
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.exit(child(sys.argv[2:]))
    from benchmarks.__main__ import render

    print(render(run()))
