"""AWS's own AccessDenied answers, stubbed: the one-line error names the refused action
and the published policy that holds the command (garmaxctl/aws.py ``access_denied``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from garmaxctl import aws, run
from garmaxctl.shared.stages import get_stage_config

USER = "arn:aws:iam::123456789012:user/x"
PARAM = "arn:aws:ssm:eu-west-1:123456789012:parameter/garmaxai/DEV/frontend/url"
# IAM User Guide, "Troubleshoot access denied error messages": the message's format.
IMPLICIT = (f"User: {USER} is not authorized to perform: ssm:PutParameter on resource: "
            f"{PARAM} because no identity-based policy allows the ssm:PutParameter action")
EXPLICIT = (f"User: {USER} is not authorized to perform: ssm:PutParameter on resource: "
            f"{PARAM} with an explicit deny in an identity-based policy")


@pytest.fixture
def target() -> Iterator[aws.AwsTarget]:
    yield aws.AwsTarget(stage=get_stage_config("DEV"))
    run.begin()


def _refused(target: aws.AwsTarget, command: str, service: str, method: str,
             params: dict[str, Any], code: str, message: str, status: int) -> ClientError:
    run.begin().command = command
    client = target.client(service)
    with Stubber(client) as stub:
        stub.add_client_error(method, service_error_code=code, service_message=message,
                              http_status_code=status)
        with pytest.raises(ClientError) as info:
            getattr(client, method)(**params)
    return info.value


def test_real_aws_message_names_action_resource_caller_and_policy(target) -> None:
    exc = _refused(target, "params push", "ssm", "put_parameter",
                   {"Name": "/garmaxai/DEV/frontend/url", "Value": "x", "Type": "String"},
                   "AccessDeniedException", IMPLICIT, 400)
    error = aws.translate_error(exc, "DEV")
    assert error.code == "access_denied" and error.exit_code == 1
    assert error.one_line() == (
        f"AccessDenied: ssm:PutParameter on {PARAM} is not allowed for {USER}; "
        "`params push` needs docs/iam/operator.json beside docs/iam/readonly.json or "
        "docs/iam/ci-deploy.json (see docs/iam/commands.md), or use another --profile")


def test_explicit_deny_message_is_read_the_same_way(target) -> None:
    exc = _refused(target, "params list", "ssm", "put_parameter",
                   {"Name": "/garmaxai/DEV/frontend/url", "Value": "x", "Type": "String"},
                   "AccessDeniedException", EXPLICIT, 400)
    line = aws.translate_error(exc, "DEV").one_line()
    assert line.startswith(f"AccessDenied: ssm:PutParameter on {PARAM} is not allowed")
    assert "`params list` needs docs/iam/readonly.json (see" in line


def test_a_message_without_the_action_takes_it_from_the_call(target) -> None:
    """S3 answers a bare "Access Denied"; HeadBucket is authorised as s3:ListBucket."""
    exc = _refused(target, "verify", "s3", "head_bucket", {"Bucket": "garmaxaistack-dev-x"},
                   "AccessDenied", "Access Denied", 403)
    line = aws.translate_error(exc, "DEV").one_line()
    assert line.startswith("AccessDenied: s3:ListBucket is not allowed; ")
    assert "`verify` needs docs/iam/readonly.json or docs/iam/ci-deploy.json" in line


def test_cloudwatch_is_named_as_iam_names_it_not_as_it_signs(target) -> None:
    exc = _refused(target, "alarms list", "cloudwatch", "describe_alarms", {},
                   "AccessDenied", "Access Denied", 403)
    assert aws.translate_error(exc, "DEV").one_line().startswith(
        "AccessDenied: cloudwatch:DescribeAlarms is not allowed; `alarms list` needs "
        "docs/iam/readonly.json")


def test_a_command_no_published_policy_holds_says_so(target) -> None:
    exc = _refused(target, "destroy", "cloudformation", "describe_stacks", {},
                   "AccessDenied", "User: arn:aws:iam::1:user/x is not authorized to perform: "
                   "cloudformation:DescribeStacks", 403)
    line = aws.translate_error(exc, "DEV").one_line()
    assert line.startswith("AccessDenied: cloudformation:DescribeStacks is not allowed for "
                           "arn:aws:iam::1:user/x; no published policy holds `destroy`")


def test_other_errors_are_not_denials(target) -> None:
    exc = _refused(target, "params push", "ssm", "get_parameter", {"Name": "/x"},
                   "ParameterNotFound", "not found", 400)
    assert aws.access_denied(exc) is None
    assert "GarmaxIamAction" not in exc.response
