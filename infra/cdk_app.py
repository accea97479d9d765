#!/usr/bin/env python3
"""CDK entry point: ``-c stage=DEV`` -> ``GarmaxAiStack-DEV``.

Run by the CDK CLI through ``cdk.json`` (``.venv/bin/python infra/cdk_app.py``) or
directly. It works from any working directory: the repository root is put on ``sys.path``
from this file's location. The environment is read here, at the top, and nowhere else:

- context ``stage`` (default ``LOCAL``, any case);
- context ``alert_email`` or env ``ALERT_EMAIL``: the alert topic's e-mail subscription
  (placeholders such as ``ops@your-company.com`` are ignored);
- context ``bundle_deps`` or env ``GARMAX_BUNDLE_DEPS`` (``true``/``false``): whether the
  Lambda bundle includes ``runtime/requirements.txt``. Default true; LOCAL defaults to
  false (moto never executes Lambda code; docs/infra.md). DEV/QA/PROD refuse false;
- ``GARMAX_{STAGE}_ACCOUNT`` / ``_REGION`` / ``_AZS`` / ``_SMPL_IMAGE``:
  stages.get_stage_config's overrides (a bad combination is a ConfigError, exit 2).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[1]
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

ENVIRON: dict[str, str] = dict(os.environ)
ENV_ALERT_EMAIL = ENVIRON.get("ALERT_EMAIL")
ENV_BUNDLE_DEPS = ENVIRON.get("GARMAX_BUNDLE_DEPS")

import aws_cdk as cdk  # noqa: E402
from aws_cdk import aws_lambda as lambda_  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from garmaxctl.shared import contract  # noqa: E402
from garmaxctl.shared.errors import ConfigError  # noqa: E402
from garmaxctl.shared.stages import Stage, get_stage_config, normalize_stage  # noqa: E402
from infra.bundling import Bundle, build_bundle  # noqa: E402
from infra.stack import GarmaxAiStack  # noqa: E402

# Feature flags set in code (not only in cdk.json), so tests that build the app directly
# synthesize exactly what the CLI does.
FEATURE_FLAGS: dict[str, object] = {
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/core:enablePartitionLiterals": True,
    "@aws-cdk/aws-lambda:recognizeLayerVersion": True,
    "@aws-cdk/aws-iam:standardizedServicePrincipals": True,
    "@aws-cdk/aws-rds:lowercaseDbIdentifier": True,
    "@aws-cdk/aws-ecs:arnFormatIncludesClusterName": True,
    "@aws-cdk/aws-apigateway:disableCloudWatchRole": True,
    "@aws-cdk/aws-events:eventsTargetQueueSameAccount": True,
    "@aws-cdk/aws-sns-subscriptions:restrictSqsDescryption": True,
    "@aws-cdk/aws-ec2:uniqueImdsv2TemplateName": True,
    "@aws-cdk/aws-rds:auroraClusterChangeScopeOfInstanceParameterGroupWithEachParameters":
        True,
    # Deliberately NOT set: "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup" (it adds a
    # custom resource, which the emulator cannot run).
}


def _parse_bool(value: object, name: str) -> bool:
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}", code="invalid_context")


def resolve_bundle_deps(stage: Stage, requested: bool | None) -> bool:
    if requested is None:
        return stage is not Stage.LOCAL
    if not requested and stage is not Stage.LOCAL:
        raise ConfigError(
            f"{stage} must bundle the Lambda dependencies (bundle_deps=false is LOCAL-only)",
            code="invalid_context",
        )
    return requested


def build_app(
    stage: str | Stage,
    *,
    environ: Mapping[str, str] | None = None,
    alert_email: str | None = None,
    bundle_deps: bool | None = None,
    bundle: Bundle | None = None,
    outdir: str | None = None,
    context: Mapping[str, object] | None = None,
    allow_dependency_free_bundle: bool = False,
) -> tuple[cdk.App, GarmaxAiStack]:
    """One app holding one stack for ``stage``, with cdk-nag AwsSolutions attached.

    ``allow_dependency_free_bundle`` is for offline test runs only (tests/infra,
    ``GARMAX_TEST_BUNDLE_DEPS=0``): it lets a real stage synthesize with a bundle that
    lacks the third-party dependencies. The CLI path (``main``) never sets it.
    """
    canonical = normalize_stage(stage)
    config = get_stage_config(canonical, environ={} if environ is None else dict(environ))
    if bundle is None:
        bundle = build_bundle(include_dependencies=resolve_bundle_deps(canonical, bundle_deps))
    elif (canonical is not Stage.LOCAL and not bundle.includes_dependencies
          and not allow_dependency_free_bundle):
        resolve_bundle_deps(canonical, False)  # raises: real stages need the dependencies
    app = cdk.App(
        outdir=outdir,
        context={**FEATURE_FLAGS, **(context or {}), "stage": canonical.value},
    )
    stack = GarmaxAiStack(
        app,
        config=config,
        code=lambda_.Code.from_asset(str(bundle.path)),
        alert_email=None if contract.is_placeholder(alert_email) else alert_email,
    )
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True)
    )
    return app, stack


def main() -> None:
    probe = cdk.App()  # only to read -c context given by the CLI
    stage = probe.node.try_get_context("stage") or Stage.LOCAL.value
    alert_email = probe.node.try_get_context("alert_email") or ENV_ALERT_EMAIL
    raw = probe.node.try_get_context("bundle_deps")
    if raw is None:
        raw = ENV_BUNDLE_DEPS
    bundle_deps = None if raw in (None, "") else _parse_bool(raw, "bundle_deps")
    app, _ = build_app(stage, environ=ENVIRON, alert_email=alert_email,
                       bundle_deps=bundle_deps)
    app.synth()


if __name__ == "__main__":
    main()
