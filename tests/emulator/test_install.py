"""install_bridges(): contract checks, each in a fresh interpreter (never this one)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from .conftest import REPO


def run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_importing_the_package_imports_no_moto():
    out = run(
        """
        import sys
        import garmaxctl.local.bridges
        print(sorted(m for m in sys.modules if m.split('.')[0] in ('moto', 'boto3')))
        """
    )
    assert out.strip() == "[]"


def test_install_is_idempotent_and_registers_the_models():
    out = run(
        """
        from garmaxctl.local.bridges import install_bridges
        first = install_bridges()
        second = install_bridges()
        assert first == second, (first, second)
        names = [b.name for b in first]
        assert len(names) == len(set(names))
        from moto.cloudformation.parsing import get_model_map
        for t in ("AWS::CloudWatch::Alarm", "AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy",
                  "AWS::ApiGateway::Stage", "AWS::ApiGateway::Account", "AWS::SNS::Subscription"):
            assert get_model_map()[t].__module__ == "garmaxctl.local.bridges.cfn_models", t
        print(len(first))
        """
    )
    assert int(out) >= 20


def test_registry_cached_before_install_is_refreshed():
    run(
        """
        from moto.cloudformation.parsing import get_model_map
        assert "AWS::CloudWatch::Alarm" not in get_model_map()
        from garmaxctl.local.bridges import install_bridges
        install_bridges()
        assert "AWS::CloudWatch::Alarm" in get_model_map()
        """
    )


def test_refuses_another_moto_version():
    out = run(
        """
        import moto
        moto.__version__ = "9.9.9"
        from garmaxctl.local.bridges import BridgeVersionError, install_bridges
        try:
            install_bridges()
        except BridgeVersionError as e:
            print(e)
        """
    )
    assert "moto==5.2.5" in out and "9.9.9" in out


def test_bridges_survive_a_reset(emu, deploy):
    emu.reset()
    outputs = deploy(
        "after-reset",
        {
            "Resources": {
                "Alarm": {
                    "Type": "AWS::CloudWatch::Alarm",
                    "Properties": {
                        "Namespace": "AWS/SQS",
                        "MetricName": "NumberOfMessagesSent",
                        "Statistic": "Sum",
                        "Period": 60,
                        "EvaluationPeriods": 1,
                        "Threshold": 1,
                        "ComparisonOperator": "GreaterThanThreshold",
                    },
                }
            },
            "Outputs": {"Alarm": {"Value": {"Ref": "Alarm"}}},
        },
    )
    assert outputs["Alarm"].startswith("after-reset-Alarm-")
