"""Small CloudFormation templates shared by the emulator-bridge tests."""

from __future__ import annotations

from typing import Any

ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    },
}


def function(name: str, *, concurrency: int | None = None, timeout: int = 3) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Handler": "index.handler",
        "Role": {"Fn::GetAtt": ["Role", "Arn"]},
        "Timeout": timeout,
        "Code": {"ZipFile": "def handler(event, context):\n    return {}\n"},
        "Tags": [{"Key": "garmaxai:stage", "Value": "LOCAL"}],
    }
    if concurrency is not None:
        properties["ReservedConcurrentExecutions"] = concurrency
    return {"Type": "AWS::Lambda::Function", "Properties": properties}


def queue_with_dlq(max_receive_count: int = 3) -> dict[str, Any]:
    return {
        "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Queue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "VisibilityTimeout": 30,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["Dlq", "Arn"]},
                    "maxReceiveCount": max_receive_count,
                },
            },
        },
    }


def api(stage_name: str = "local", *, deployment_first: bool = True) -> dict[str, Any]:
    """RestApi + /health GET (Lambda proxy) + Deployment (DependsOn the method) + Stage.

    With ``deployment_first`` the Deployment precedes its Method in template order, as
    in CDK's output: only DependsOn puts it after the method.
    """
    resources: dict[str, Any] = {"Role": ROLE, "ApiFn": function("GarmaxAi-Api-LOCAL")}
    resources["Api"] = {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "GarmaxAi"}}
    deployment = {
        "Type": "AWS::ApiGateway::Deployment",
        "DependsOn": ["HealthGet"],
        "Properties": {"RestApiId": {"Ref": "Api"}},
    }
    if deployment_first:
        resources["Deployment"] = deployment
    resources["Health"] = {
        "Type": "AWS::ApiGateway::Resource",
        "Properties": {
            "RestApiId": {"Ref": "Api"},
            "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
            "PathPart": "health",
        },
    }
    resources["HealthGet"] = {
        "Type": "AWS::ApiGateway::Method",
        "Properties": {
            "RestApiId": {"Ref": "Api"},
            "ResourceId": {"Ref": "Health"},
            "HttpMethod": "GET",
            "AuthorizationType": "NONE",
            "Integration": {
                "Type": "AWS_PROXY",
                "IntegrationHttpMethod": "POST",
                "Uri": {
                    "Fn::Join": [
                        "",
                        [
                            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/",
                            {"Fn::GetAtt": ["ApiFn", "Arn"]},
                            "/invocations",
                        ],
                    ]
                },
            },
        },
    }
    if not deployment_first:
        resources["Deployment"] = deployment
    resources["Stage"] = {
        "Type": "AWS::ApiGateway::Stage",
        "Properties": {
            "RestApiId": {"Ref": "Api"},
            "DeploymentId": {"Ref": "Deployment"},
            "StageName": stage_name,
            "TracingEnabled": True,
            "MethodSettings": [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": 50,
                    "ThrottlingBurstLimit": 100,
                    "MetricsEnabled": True,
                }
            ],
        },
    }
    return {
        "Resources": resources,
        "Outputs": {
            "ApiUrl": {
                "Value": {
                    "Fn::Join": [
                        "",
                        [
                            "https://",
                            {"Ref": "Api"},
                            ".execute-api.us-east-1.",
                            {"Ref": "AWS::URLSuffix"},
                            "/",
                            {"Ref": "Stage"},
                            "/",
                        ],
                    ]
                }
            },
            "ApiId": {"Value": {"Ref": "Api"}},
        },
    }
