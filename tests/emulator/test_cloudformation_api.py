"""Bridges of moto's CloudFormation API: change sets, UpdateStack, dependency order."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from .templates import api

QUEUE = {
    "Resources": {"Q": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {"Url": {"Value": {"Ref": "Q"}}},
}


def test_delete_missing_change_set_on_existing_stack_is_ok(emu, deploy):
    deploy("s1", QUEUE)
    cfn = emu.client("cloudformation")
    # what the CDK CLI does before every update: "remove it if it exists"
    response = cfn.delete_change_set(StackName="s1", ChangeSetName="cdk-deploy-change-set")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_delete_change_set_on_missing_stack_is_validation_error(emu):
    with pytest.raises(ClientError) as err:
        emu.client("cloudformation").delete_change_set(StackName="nope", ChangeSetName="cs")
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "Stack [nope] does not exist" in err.value.response["Error"]["Message"]


def test_delete_change_set_by_name_is_scoped_to_its_stack(emu, deploy):
    cfn = emu.client("cloudformation")
    for name in ("a", "b"):
        deploy(name, QUEUE)
        cfn.create_change_set(
            StackName=name,
            ChangeSetName="same",
            TemplateBody=json.dumps({"Resources": {"Q2": {"Type": "AWS::SQS::Queue"}}}),
            ChangeSetType="UPDATE",
        )
    cfn.delete_change_set(StackName="b", ChangeSetName="same")
    assert cfn.describe_change_set(StackName="a", ChangeSetName="same")["StackName"] == "a"
    with pytest.raises(ClientError) as err:
        cfn.describe_change_set(StackName="b", ChangeSetName="same")
    assert err.value.response["Error"]["Code"] == "ChangeSetNotFound"


def test_describe_missing_change_set_is_change_set_not_found(emu, deploy):
    deploy("s1", QUEUE)
    with pytest.raises(ClientError) as err:
        emu.client("cloudformation").describe_change_set(StackName="s1", ChangeSetName="x")
    assert err.value.response["Error"]["Code"] == "ChangeSetNotFound"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_create_change_set_honours_depends_on_and_sets_outputs(emu):
    cfn = emu.client("cloudformation")
    cfn.create_change_set(
        StackName="apistack",
        ChangeSetName="create",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(api(deployment_first=True)),
    )
    cfn.execute_change_set(StackName="apistack", ChangeSetName="create")
    stack = cfn.describe_stacks(StackName="apistack")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert (
        outputs["ApiUrl"]
        == f"https://{outputs['ApiId']}.execute-api.us-east-1.amazonaws.com/local/"
    )


def test_update_change_set_replaces_outputs(emu, deploy):
    deploy("s1", QUEUE)
    cfn = emu.client("cloudformation")
    template = {
        "Resources": {"Q": {"Type": "AWS::SQS::Queue"}, "Q2": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"Url2": {"Value": {"Ref": "Q2"}}},
    }
    cfn.create_change_set(
        StackName="s1", ChangeSetName="u", ChangeSetType="UPDATE", TemplateBody=json.dumps(template)
    )
    cfn.execute_change_set(StackName="s1", ChangeSetName="u")
    outputs = cfn.describe_stacks(StackName="s1")["Stacks"][0]["Outputs"]
    assert [o["OutputKey"] for o in outputs] == ["Url2"]


def test_update_stack_adds_and_changes_resources(emu, deploy):
    first = deploy("s1", QUEUE)
    template = {
        "Resources": {
            "Q": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 99}},
            "Extra": {"Type": "AWS::SNS::Topic"},
        },
        "Outputs": {"Url": {"Value": {"Ref": "Q"}}, "Topic": {"Value": {"Ref": "Extra"}}},
    }
    second = deploy("s1", template)
    assert second["Url"] == first["Url"]
    assert second["Topic"].startswith("arn:aws:sns:")
    attributes = emu.client("sqs").get_queue_attributes(
        QueueUrl=second["Url"], AttributeNames=["VisibilityTimeout"]
    )["Attributes"]
    assert attributes["VisibilityTimeout"] == "99"


def test_update_stack_without_changes_is_refused_like_aws(emu, deploy):
    deploy("s1", QUEUE)
    with pytest.raises(ClientError) as err:
        emu.client("cloudformation").update_stack(StackName="s1", TemplateBody=json.dumps(QUEUE))
    assert err.value.response["Error"]["Message"] == "No updates are to be performed."


def test_update_stack_use_previous_value_of_a_defaulted_ssm_parameter(emu, deploy):
    emu.client("ssm").put_parameter(Name="/cdk-bootstrap/x/version", Value="30", Type="String")
    template = {
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/x/version",
            }
        },
        **QUEUE,
    }
    deploy("s1", template)
    changed = {**template, "Resources": {**QUEUE["Resources"], "T": {"Type": "AWS::SNS::Topic"}}}
    # what the CDK CLI sends on every update, directly ...
    params = [{"ParameterKey": "BootstrapVersion", "UsePreviousValue": True}]
    deploy("s1", changed, Parameters=params)
    # ... and through an UPDATE change set
    cfn = emu.client("cloudformation")
    cfn.create_change_set(
        StackName="s1",
        ChangeSetName="u",
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(template),
        Parameters=params,
    )
    cfn.execute_change_set(StackName="s1", ChangeSetName="u")
    assert cfn.describe_stacks(StackName="s1")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


def test_modified_resource_of_a_type_without_update_keeps_its_ref(emu, deploy):
    template = api()
    first = deploy("apistack", template)
    template["Resources"]["Api"]["Properties"]["Description"] = "changed"
    second = deploy("apistack", template)
    assert second["ApiId"] == first["ApiId"]
    assert second["ApiUrl"] == first["ApiUrl"]


def test_update_does_not_replace_resources_declared_without_properties(emu, deploy):
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}, "Q": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"Topic": {"Value": {"Ref": "Topic"}}, "Q": {"Value": {"Ref": "Q"}}},
    }
    first = deploy("s1", template)
    emu.client("sqs").send_message(QueueUrl=first["Q"], MessageBody="kept")
    template["Resources"]["T2"] = {"Type": "AWS::SNS::Topic"}
    second = deploy("s1", template)
    assert (second["Topic"], second["Q"]) == (first["Topic"], first["Q"])
    assert emu.client("sqs").receive_message(QueueUrl=first["Q"])["Messages"][0]["Body"] == "kept"
