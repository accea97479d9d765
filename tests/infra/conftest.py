"""Fixtures for the CDK app's tests: each stage is synthesized ONCE per test session.

``synths`` builds the Lambda bundle(s) once, then for LOCAL, DEV, QA and PROD builds the app
exactly as ``infra/cdk_app.py`` does (feature flags, cdk-nag plugin) and calls
``app.synth()`` into one cdk.out directory per stage. Tests read the template with
``Template.from_json`` (no second synthesis), the cdk-nag results from the stage's
``validation-report.json``, and run cfn-lint on the written template.

A canary secret is put in the process environment under every secret ``.env`` key (and in
an ``.env``-style mapping handed to the app) while the stages are synthesized; the canary
test asserts it appears in no file of any cloud assembly.

``GARMAX_TEST_BUNDLE_DEPS=0`` skips pip for DEV/QA/PROD bundles (offline runs): the
dependency-free bundle is then used for all stages and ``test_real_stage_bundles_include_
dependencies`` is skipped. By default the real dependencies are bundled (cached under
``.garmax/build/``, so only the first run on a machine calls pip).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the editable install maps only ``garmaxctl``
    sys.path.insert(0, str(REPO))

# jsii's end-of-life banner is silenced by naming the Node major version (not "1").
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",
                      "16,18,20,22")

from garmaxctl.shared import contract  # noqa: E402
from garmaxctl.shared.stages import STAGE_ORDER, Stage  # noqa: E402

CANARY = "sk_live_CANARY_7f3a9c1e5b2d4f60a8e1"
ALERT_EMAIL = "ops-alerts@garmax.example"
BUNDLE_DEPS = os.environ.get("GARMAX_TEST_BUNDLE_DEPS", "1") not in {"0", "false", "no"}


@dataclass
class Synth:
    stage: Stage
    app: object
    stack: object  # infra.stack.GarmaxAiStack
    outdir: Path
    template_path: Path
    template: dict
    seconds: float

    @property
    def resources(self) -> dict[str, dict]:
        return self.template["Resources"]

    def of_type(self, cfn_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}

    def props(self, logical_id: str) -> dict:
        return self.resources[logical_id].get("Properties", {})

    @property
    def assertions(self):
        from aws_cdk.assertions import Template

        if not hasattr(self, "_assertions"):
            self._assertions = Template.from_json(self.template)
        return self._assertions


@pytest.fixture(scope="session")
def bundles():
    from infra.bundling import build_bundle

    local = build_bundle(include_dependencies=False)
    real = build_bundle(include_dependencies=True) if BUNDLE_DEPS else local
    return {"local": local, "real": real}


@pytest.fixture(scope="session")
def canary_env() -> Iterator[dict[str, str]]:
    """Every secret .env key set to the canary, in os.environ and as a mapping."""
    env = {key: f"{CANARY}-{key}" for key in sorted(contract.SECRET_ENV_KEYS)}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def synths(bundles, canary_env, tmp_path_factory) -> dict[Stage, Synth]:
    from infra.cdk_app import build_app

    root = tmp_path_factory.mktemp("cdk-out")
    results: dict[Stage, Synth] = {}
    for stage in STAGE_ORDER:
        outdir = root / stage.value
        started = time.perf_counter()
        app, stack = build_app(
            stage,
            environ={**os.environ, **canary_env},
            alert_email=ALERT_EMAIL,
            bundle=bundles["local"] if stage is Stage.LOCAL else bundles["real"],
            outdir=str(outdir),
            allow_dependency_free_bundle=not BUNDLE_DEPS,
        )
        app.synth()
        template_path = outdir / f"{contract.stack_name(stage.value)}.template.json"
        results[stage] = Synth(
            stage=stage, app=app, stack=stack, outdir=outdir, template_path=template_path,
            template=json.loads(template_path.read_text()),
            seconds=time.perf_counter() - started,
        )
    timings = ", ".join(f"{s.value} {r.seconds:.1f}s" for s, r in results.items())
    print(f"\n[tests/infra] synth once per stage: {timings}", file=sys.stderr)
    return results


@pytest.fixture(scope="session")
def alert_email() -> str:
    return ALERT_EMAIL


@pytest.fixture(params=STAGE_ORDER, ids=lambda s: s.value)
def synth(request, synths) -> Synth:
    return synths[request.param]
