"""CloudWatch alarms, the alert topic, the dashboard and the AWS Budgets daily budget.

Alarms are named ``GarmaxAI-{Name}-{STAGE}`` (contract.alarm_name) and notify the alert
topic. The activity alarm (``activity_metric``: the stage's API received a request) is created
with its actions disabled: ``garmaxctl idle down`` enables them so the first request during
idle pages the team, ``idle up`` disables them again. The budget is an AWS Budgets DAILY COST budget
(DESIGN.md: ``EstimatedCharges`` is month-to-date and us-east-1 only) notifying at 80, 90
and 100% of the stage's ``budgets.daily_usd``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from garmaxctl.shared import contract
from infra.components import acknowledge

PERIOD = cdk.Duration.minutes(5)
API_5XX_RATE_THRESHOLD = 0.05  # 5% of requests in 5 minutes
LAMBDA_ERRORS_THRESHOLD = 10  # errors across all functions in 5 minutes
LAMBDA_DURATION_THRESHOLD_MS = 30_000  # the guide's threshold, slowest function's average
QUEUE_DEPTH_THRESHOLD = 50  # the guide's threshold, deepest work queue
ACTIVITY_PERIOD = cdk.Duration.minutes(1)  # API Gateway publishes every minute
BUDGET_THRESHOLDS_PERCENT = (80, 90, 100)

DLQ_ALARMS: dict[contract.Queue, contract.Alarm] = {
    contract.Queue.TRYON: contract.Alarm.TRYON_DLQ,
    contract.Queue.RENDER: contract.Alarm.RENDER_DLQ,
    contract.Queue.BILLING: contract.Alarm.BILLING_DLQ,
}


def _metric_ids(count: int) -> list[str]:
    return [f"m{i}" for i in range(count)]


def activity_metric(stage: str) -> cloudwatch.Metric:
    """Requests that reached the stage's REST API: ``AWS/ApiGateway`` ``Count`` for the
    dimensions ``ApiName`` + ``Stage``, ``SampleCount`` (the statistic AWS documents for
    ``Count``) per minute. API Gateway counts a request whether or not the function behind
    it runs, so this sees traffic while idle has throttled the Api function to 0 (nothing
    reaches the try-on queue then). Dimension values are the literal names, not a ``Ref``
    to the Stage resource.
    """
    return cloudwatch.Metric(
        namespace="AWS/ApiGateway",
        metric_name="Count",
        dimensions_map={"ApiName": contract.api_name(stage),
                        "Stage": contract.api_stage_name(stage)},
        statistic="SampleCount",
        period=ACTIVITY_PERIOD,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        alert_email: str | None,
        rest_api: apigw.RestApi,
        functions: Sequence[lambda_.IFunction],
        queues: Mapping[contract.Queue, sqs.IQueue],
        dlqs: Mapping[contract.Queue, sqs.IQueue],
        daily_budget_usd: float | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stage = stage
        self.topic = sns.Topic(self, "Alerts", display_name=f"GARMAX AI alerts ({stage})",
                               enforce_ssl=True)
        acknowledge(
            self.topic, "AwsSolutions-SNS2",
            "CloudWatch alarms and AWS Budgets cannot publish to a topic encrypted with the "
            "AWS-managed aws/sns key; the topic carries alarm state changes, no user data.",
        )
        if alert_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alert_email))
        action = cw_actions.SnsAction(self.topic)
        self.alarms: dict[contract.Alarm, cloudwatch.Alarm] = {}

        api_5xx = rest_api.metric_server_error(statistic="Average", period=PERIOD)
        self._alarm(contract.Alarm.API_5XX, api_5xx, API_5XX_RATE_THRESHOLD, action,
                    "API Gateway 5XXError rate above 5% of requests")

        errors = {mid: fn.metric_errors(period=PERIOD, statistic="Sum")
                  for mid, fn in zip(_metric_ids(len(functions)), functions, strict=True)}
        self._alarm(
            contract.Alarm.LAMBDA_ERRORS,
            cloudwatch.MathExpression(expression=f"SUM([{', '.join(errors)}])",
                                      using_metrics=errors,
                                      label="Errors, all functions", period=PERIOD),
            LAMBDA_ERRORS_THRESHOLD, action, "Lambda errors across the stage's functions",
        )
        durations = {mid: fn.metric_duration(period=PERIOD, statistic="Average")
                     for mid, fn in zip(_metric_ids(len(functions)), functions, strict=True)}
        self._alarm(
            contract.Alarm.LAMBDA_DURATION,
            cloudwatch.MathExpression(expression=f"MAX([{', '.join(durations)}])",
                                      using_metrics=durations, label="Slowest average",
                                      period=PERIOD),
            LAMBDA_DURATION_THRESHOLD_MS, action, "Lambda execution time too high",
        )
        depths = {mid: q.metric_approximate_number_of_messages_visible(period=PERIOD,
                                                                      statistic="Maximum")
                  for mid, q in zip(_metric_ids(len(queues)), queues.values(), strict=True)}
        self._alarm(
            contract.Alarm.QUEUE_DEPTH,
            cloudwatch.MathExpression(expression=f"MAX([{', '.join(depths)}])",
                                      using_metrics=depths, label="Deepest queue",
                                      period=PERIOD),
            QUEUE_DEPTH_THRESHOLD, action, "SQS queue backing up",
        )
        for queue_id, alarm_id in DLQ_ALARMS.items():
            self._alarm(
                alarm_id,
                dlqs[queue_id].metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"),
                0, action, f"{queue_id} dead-letter queue has messages",
            )
        self._alarm(
            contract.Alarm.ACTIVITY, activity_metric(stage), 0, action,
            "Activity while idle: the stage's API received a request (AWS/ApiGateway Count, "
            "any route: users, health probes, Stripe webhooks). Actions start disabled; "
            "garmaxctl idle down enables them.",
            actions_enabled=False,
        )

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=contract.dashboard_name(stage),
            default_interval=cdk.Duration.hours(3),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="API requests and 5XX", width=12, left=[
                rest_api.metric_count(period=PERIOD),
                rest_api.metric_server_error(period=PERIOD),
                rest_api.metric_client_error(period=PERIOD)]),
            cloudwatch.GraphWidget(title="API latency (p90)", width=12, left=[
                rest_api.metric_latency(period=PERIOD, statistic="p90")]),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Lambda errors", width=12,
                                   left=list(errors.values())),
            cloudwatch.GraphWidget(title="Lambda duration (avg)", width=12,
                                   left=list(durations.values())),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="Queue depth", width=12, left=list(depths.values())),
            cloudwatch.AlarmStatusWidget(title="Alarms", width=12,
                                         alarms=list(self.alarms.values())),
        )

        self.budget: budgets.CfnBudget | None = None
        if daily_budget_usd is not None:
            self._budget(daily_budget_usd, alert_email)

    def _alarm(self, alarm_id: contract.Alarm, metric: cloudwatch.IMetric, threshold: float,
               action: cw_actions.SnsAction, description: str, *,
               actions_enabled: bool = True) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            f"{alarm_id}Alarm",
            alarm_name=contract.alarm_name(alarm_id, self.stage),
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            actions_enabled=actions_enabled,
        )
        alarm.add_alarm_action(action)
        self.alarms[alarm_id] = alarm
        return alarm

    def _budget(self, daily_usd: float, alert_email: str | None) -> None:
        stack = cdk.Stack.of(self)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBudgetsPublish",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        subscribers = [budgets.CfnBudget.SubscriberProperty(
            subscription_type="SNS", address=self.topic.topic_arn)]
        if alert_email:
            subscribers.append(budgets.CfnBudget.SubscriberProperty(
                subscription_type="EMAIL", address=alert_email))
        self.budget = budgets.CfnBudget(
            self,
            "DailyBudget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=contract.budget_name(self.stage),
                budget_type="COST",
                time_unit="DAILY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=daily_usd, unit="USD"),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type="ACTUAL",
                        comparison_operator="GREATER_THAN",
                        threshold=pct,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=subscribers,
                )
                for pct in BUDGET_THRESHOLDS_PERCENT
            ],
        )
