"""CloudFormation types that moto 5.2.5 does not provision, or provisions partly."""

from __future__ import annotations

import json

import pytest
import requests
from botocore.exceptions import ClientError

from .templates import ROLE, api, function, queue_with_dlq


def alarm_template(threshold: int, actions_enabled: bool | None) -> dict:
    properties = {
        "AlarmName": "GarmaxAI-TryonDlqNotEmpty-LOCAL",
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["Dlq", "QueueName"]}}],
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": threshold,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "AlarmActions": [{"Ref": "Topic"}],
        "TreatMissingData": "notBreaching",
    }
    if actions_enabled is not None:
        properties["ActionsEnabled"] = actions_enabled
    return {
        "Resources": {
            "Dlq": {"Type": "AWS::SQS::Queue"},
            "Topic": {"Type": "AWS::SNS::Topic"},
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": properties},
            "Unnamed": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    k: v for k, v in properties.items() if k not in ("AlarmName", "ActionsEnabled")
                },
            },
        },
        "Outputs": {
            "AlarmName": {"Value": {"Ref": "Alarm"}},
            "AlarmArn": {"Value": {"Fn::GetAtt": ["Alarm", "Arn"]}},
            "UnnamedName": {"Value": {"Ref": "Unnamed"}},
            "DlqName": {"Value": {"Fn::GetAtt": ["Dlq", "QueueName"]}},
        },
    }


def test_cloudwatch_alarm_create_update_delete(emu, deploy):
    outputs = deploy("mon", alarm_template(1, False))
    cw = emu.client("cloudwatch")
    alarm = cw.describe_alarms(AlarmNames=[outputs["AlarmName"]])["MetricAlarms"][0]
    assert outputs["AlarmName"] == "GarmaxAI-TryonDlqNotEmpty-LOCAL"
    assert outputs["AlarmArn"] == alarm["AlarmArn"]
    assert alarm["ActionsEnabled"] is False
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": outputs["DlqName"]}]
    assert alarm["Threshold"] == 1.0
    assert alarm["AlarmActions"][0].startswith("arn:aws:sns:")
    unnamed = cw.describe_alarms(AlarmNames=[outputs["UnnamedName"]])["MetricAlarms"][0]
    assert unnamed["ActionsEnabled"] is True  # the CloudFormation default

    updated = deploy("mon", alarm_template(5, None))
    assert updated["UnnamedName"] == outputs["UnnamedName"]
    alarm = cw.describe_alarms(AlarmNames=[outputs["AlarmName"]])["MetricAlarms"][0]
    assert alarm["Threshold"] == 5.0
    assert alarm["ActionsEnabled"] is True

    emu.client("cloudformation").delete_stack(StackName="mon")
    assert cw.describe_alarms()["MetricAlarms"] == []


TLS_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Resource": [
                {"Fn::GetAtt": ["Bucket", "Arn"]},
                {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]},
            ],
        }
    ],
}


def test_bucket_policy_is_stored_and_tls_only_does_not_brick_the_bucket(emu, deploy):
    outputs = deploy(
        "store",
        {
            "Resources": {
                "Bucket": {"Type": "AWS::S3::Bucket"},
                "Policy": {
                    "Type": "AWS::S3::BucketPolicy",
                    "Properties": {"Bucket": {"Ref": "Bucket"}, "PolicyDocument": TLS_ONLY},
                },
            },
            "Outputs": {"Bucket": {"Value": {"Ref": "Bucket"}}},
        },
    )
    s3 = emu.client("s3")
    policy = json.loads(s3.get_bucket_policy(Bucket=outputs["Bucket"])["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    s3.put_object(Bucket=outputs["Bucket"], Key="k", Body=b"v")
    assert s3.get_object(Bucket=outputs["Bucket"], Key="k")["Body"].read() == b"v"


def test_unconditional_bucket_policy_deny_is_still_enforced(emu):
    s3 = emu.client("s3")
    s3.create_bucket(Bucket="denied-bucket")
    s3.put_object(Bucket="denied-bucket", Key="k", Body=b"v")
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::denied-bucket/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket="denied-bucket", Policy=json.dumps(deny))
    assert requests.get(f"{emu.url}/denied-bucket/k", timeout=5).status_code == 403


def test_queue_policy_events_rule_on_custom_bus_with_sqs_target(emu, deploy):
    outputs = deploy(
        "events",
        {
            "Resources": {
                "Queue": {"Type": "AWS::SQS::Queue"},
                "Bus": {
                    "Type": "AWS::Events::EventBus",
                    "Properties": {"Name": "GarmaxAi-Tryon-LOCAL"},
                },
                "Rule": {
                    "Type": "AWS::Events::Rule",
                    "Properties": {
                        "EventBusName": {"Ref": "Bus"},
                        "EventPattern": {"source": ["garmaxai.tryon"]},
                        "State": "ENABLED",
                        "Targets": [{"Arn": {"Fn::GetAtt": ["Queue", "Arn"]}, "Id": "Target0"}],
                    },
                },
                "QueuePolicy": {
                    "Type": "AWS::SQS::QueuePolicy",
                    "Properties": {
                        "Queues": [{"Ref": "Queue"}],
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Principal": {"Service": "events.amazonaws.com"},
                                    "Action": "sqs:SendMessage",
                                    "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                                    "Condition": {
                                        "ArnEquals": {
                                            "aws:SourceArn": {"Fn::GetAtt": ["Rule", "Arn"]}
                                        }
                                    },
                                }
                            ],
                        },
                    },
                },
            },
            "Outputs": {
                "BusName": {"Value": {"Ref": "Bus"}},
                "RuleArn": {"Value": {"Fn::GetAtt": ["Rule", "Arn"]}},
                "QueueUrl": {"Value": {"Ref": "Queue"}},
            },
        },
    )
    assert outputs["BusName"] == "GarmaxAi-Tryon-LOCAL"
    assert ":rule/GarmaxAi-Tryon-LOCAL/" in outputs["RuleArn"]
    events = emu.client("events")
    rules = events.list_rules(EventBusName="GarmaxAi-Tryon-LOCAL")["Rules"]
    assert len(rules) == 1
    sqs = emu.client("sqs")
    policy = sqs.get_queue_attributes(QueueUrl=outputs["QueueUrl"], AttributeNames=["Policy"])
    assert json.loads(policy["Attributes"]["Policy"])["Statement"][0]["Action"] == "sqs:SendMessage"
    events.put_events(
        Entries=[
            {
                "Source": "garmaxai.tryon",
                "DetailType": "TryonRequested",
                "Detail": "{}",
                "EventBusName": "GarmaxAi-Tryon-LOCAL",
            }
        ]
    )
    assert len(sqs.receive_message(QueueUrl=outputs["QueueUrl"]).get("Messages", [])) == 1


def test_api_gateway_stage_and_account(emu, deploy):
    template = api()
    template["Resources"]["CwRole"] = ROLE
    template["Resources"]["Account"] = {
        "Type": "AWS::ApiGateway::Account",
        "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["CwRole", "Arn"]}},
    }
    outputs = deploy("apistack", template)
    apigw = emu.client("apigateway")
    assert (
        outputs["ApiUrl"]
        == f"https://{outputs['ApiId']}.execute-api.us-east-1.amazonaws.com/local/"
    )
    stage = apigw.get_stage(restApiId=outputs["ApiId"], stageName="local")
    deployments = apigw.get_deployments(restApiId=outputs["ApiId"])["items"]
    assert stage["deploymentId"] == deployments[0]["id"]
    assert stage["tracingEnabled"] is True
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 50.0
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 100
    assert apigw.get_account()["cloudwatchRoleArn"].startswith("arn:aws:iam::")

    template["Resources"]["Stage"]["Properties"]["MethodSettings"][0]["ThrottlingRateLimit"] = 10
    deploy("apistack", template)
    stage = apigw.get_stage(restApiId=outputs["ApiId"], stageName="local")
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 10.0

    emu.client("cloudformation").delete_stack(StackName="apistack")
    with pytest.raises(ClientError):
        apigw.get_stage(restApiId=outputs["ApiId"], stageName="local")


def test_sns_subscription(emu, deploy):
    outputs = deploy(
        "alerts",
        {
            "Resources": {
                "Topic": {"Type": "AWS::SNS::Topic"},
                "Email": {
                    "Type": "AWS::SNS::Subscription",
                    "Properties": {
                        "TopicArn": {"Ref": "Topic"},
                        "Protocol": "email",
                        "Endpoint": "ops@example.com",
                    },
                },
            },
            "Outputs": {"Sub": {"Value": {"Ref": "Email"}}, "Topic": {"Value": {"Ref": "Topic"}}},
        },
    )
    subs = emu.client("sns").list_subscriptions_by_topic(TopicArn=outputs["Topic"])["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", "ops@example.com")]


def test_lambda_reserved_concurrency_tags_and_event_source_mapping(emu, deploy):
    def template(concurrency: int | None, timeout: int) -> dict:
        return {
            "Resources": {
                "Role": ROLE,
                "Fn": function(
                    "GarmaxAi-TryonProcessor-LOCAL", concurrency=concurrency, timeout=timeout
                ),
                **queue_with_dlq(),
                "Mapping": {
                    "Type": "AWS::Lambda::EventSourceMapping",
                    "Properties": {
                        "FunctionName": {"Ref": "Fn"},
                        "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]},
                        "BatchSize": 5,
                        "FunctionResponseTypes": ["ReportBatchItemFailures"],
                        "ScalingConfig": {"MaximumConcurrency": 2},
                    },
                },
            },
            "Outputs": {"Mapping": {"Value": {"Ref": "Mapping"}}},
        }

    name = "GarmaxAi-TryonProcessor-LOCAL"
    outputs = deploy("fn", template(2, 3))
    lam = emu.client("lambda")
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 2
    assert lam.get_function(FunctionName=name)["Tags"] == {"garmaxai:stage": "LOCAL"}
    mapping = lam.get_event_source_mapping(UUID=outputs["Mapping"])
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert mapping["BatchSize"] == 5
    assert mapping["State"] == "Enabled"

    # idle sets 0 out of band: GetFunction must show it, an unrelated update must keep it
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    assert lam.get_function(FunctionName=name)["Concurrency"] == {"ReservedConcurrentExecutions": 0}
    deploy("fn", template(2, 10))
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 0
    assert lam.get_function_configuration(FunctionName=name)["Timeout"] == 10

    deploy("fn", template(3, 10))
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 3
    deploy("fn", template(None, 10))
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)


def test_dynamodb_ttl_and_pitr(emu, deploy):
    def template(pitr: bool) -> dict:
        return {
            "Resources": {
                "Table": {
                    "Type": "AWS::DynamoDB::Table",
                    "Properties": {
                        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                        "BillingMode": "PAY_PER_REQUEST",
                        "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
                        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": pitr},
                    },
                }
            },
            "Outputs": {"Table": {"Value": {"Ref": "Table"}}},
        }

    outputs = deploy("data", template(True))
    ddb = emu.client("dynamodb")
    ttl = ddb.describe_time_to_live(TableName=outputs["Table"])["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}
    backups = ddb.describe_continuous_backups(TableName=outputs["Table"])
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"

    assert deploy("data", template(False))["Table"] == outputs["Table"]
    backups = ddb.describe_continuous_backups(TableName=outputs["Table"])
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "DISABLED"


def test_log_group_retention_create_and_update(emu, deploy):
    def template(days: int) -> dict:
        return {
            "Resources": {
                "Logs": {
                    "Type": "AWS::Logs::LogGroup",
                    "Properties": {
                        "LogGroupName": "/aws/lambda/GarmaxAi-Api-LOCAL",
                        "RetentionInDays": days,
                    },
                }
            },
            "Outputs": {"Name": {"Value": {"Ref": "Logs"}}},
        }

    logs = emu.client("logs")
    assert deploy("logs", template(7))["Name"] == "/aws/lambda/GarmaxAi-Api-LOCAL"
    group = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/GarmaxAi")["logGroups"][0]
    assert group["retentionInDays"] == 7
    deploy("logs", template(90))
    group = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/GarmaxAi")["logGroups"][0]
    assert group["retentionInDays"] == 90
