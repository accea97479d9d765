"""A small CDK app using the constructs the GARMAX platform stack uses, to validate
garmaxctl's emulator bridges end to end (tests/emulator/test_cdk_e2e.py).

Context ``variant=2`` adds a queue and changes an alarm threshold, to exercise the
update path.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

HANDLER_DIR = str(Path(__file__).parent / "handler")


class BridgeTestStack(cdk.Stack):
    def __init__(self, scope: cdk.App, construct_id: str, *, variant: int, **kw) -> None:
        super().__init__(scope, construct_id, **kw)
        stage = "LOCAL"

        bucket = s3.Bucket(
            self,
            "Uploads",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,  # -> AWS::S3::BucketPolicy
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

        dlq = sqs.Queue(self, "TryonDlq", retention_period=cdk.Duration.days(14))
        queue = sqs.Queue(
            self,
            "TryonQueue",
            visibility_timeout=cdk.Duration.seconds(180),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=3, queue=dlq),
        )

        table = ddb.Table(
            self,
            "Sessions",
            partition_key=ddb.Attribute(name="pk", type=ddb.AttributeType.STRING),
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expiresAt",
            point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

        log_group = logs.LogGroup(
            self,
            "ProcessorLogs",
            log_group_name=f"/aws/lambda/GarmaxAi-TryonProcessor-{stage}",
            retention=logs.RetentionDays.ONE_WEEK,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        processor = lambda_.Function(
            self,
            "TryonProcessor",
            function_name=f"GarmaxAi-TryonProcessor-{stage}",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="index.handler",
            code=lambda_.Code.from_asset(HANDLER_DIR),
            timeout=cdk.Duration.seconds(30),
            reserved_concurrent_executions=2,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={"TABLE_NAME": table.table_name},
        )
        table.grant_read_write_data(processor)
        bucket.grant_read(processor)
        processor.add_event_source(
            sources.SqsEventSource(
                queue, batch_size=5, report_batch_item_failures=True, max_concurrency=2
            )
        )

        api_fn = lambda_.Function(
            self,
            "ApiFn",
            function_name=f"GarmaxAi-Api-{stage}",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="index.handler",
            code=lambda_.Code.from_asset(HANDLER_DIR),
            log_group=logs.LogGroup(
                self,
                "ApiLogs",
                retention=logs.RetentionDays.ONE_WEEK,
                removal_policy=cdk.RemovalPolicy.DESTROY,
            ),
        )
        api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"GarmaxAi-Api-{stage}",
            deploy_options=apigw.StageOptions(
                stage_name="local", throttling_rate_limit=50, throttling_burst_limit=100
            ),
            cloud_watch_role=True,  # -> AWS::ApiGateway::Account
        )
        api.root.add_resource("api").add_resource("health").add_method(
            "GET", apigw.LambdaIntegration(api_fn)
        )

        bus = events.EventBus(self, "Bus", event_bus_name=f"GarmaxAi-Tryon-{stage}")
        rule = events.Rule(
            self,
            "TryonRequested",
            event_bus=bus,  # -> EventBusName: {Ref: Bus}
            event_pattern=events.EventPattern(
                source=["garmaxai.tryon"], detail_type=["TryonRequested"]
            ),
        )
        rule.add_target(targets.SqsQueue(queue))  # -> AWS::SQS::QueuePolicy

        topic = sns.Topic(self, "Alerts")
        alarm = cw.Alarm(
            self,
            "DlqNotEmpty",
            alarm_name=f"GarmaxAI-TryonDlqNotEmpty-{stage}",
            metric=dlq.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(1)
            ),
            threshold=1 if variant == 1 else 5,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            actions_enabled=False,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(topic))
        cw.Dashboard(self, "Dashboard", dashboard_name=f"GarmaxAi-{stage}").add_widgets(
            cw.AlarmWidget(alarm=alarm, title="DLQ")
        )

        outputs = {
            "UploadsBucketName": bucket.bucket_name,
            "TryonQueueUrl": queue.queue_url,
            "TryonDlqUrl": dlq.queue_url,
            "SessionsTableName": table.table_name,
            "TryonProcessorName": processor.function_name,
            "ApiUrl": api.url,
            "ApiId": api.rest_api_id,
            "EventBusName": bus.event_bus_name,
            "EventBusArn": bus.event_bus_arn,
            "TryonRuleArn": rule.rule_arn,
            "AlertTopicArn": topic.topic_arn,
            "DlqAlarmName": alarm.alarm_name,
            "DlqAlarmArn": alarm.alarm_arn,
            "ProcessorLogGroup": log_group.log_group_name,
        }
        if variant >= 2:
            extra = sqs.Queue(self, "BillingQueue")
            outputs["BillingQueueUrl"] = extra.queue_url
        for key, value in outputs.items():
            cdk.CfnOutput(self, key, value=value)


app = cdk.App()
BridgeTestStack(
    app,
    "GarmaxBridgeTest",
    variant=int(app.node.try_get_context("variant") or 1),
    env=cdk.Environment(account="123456789012", region="us-east-1"),
)
app.synth()
