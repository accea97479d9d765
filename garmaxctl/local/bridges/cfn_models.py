"""CloudFormation models that moto 5.2.5 lacks, for the LOCAL stack's resource types.

Each class is a direct subclass of ``moto.core.common_models.CloudFormationModel`` (moto
builds its type registry from ``CloudFormationModel.__subclasses__()``, direct subclasses
only) and is defined in this package module, not ``__main__``: moto's model metaclass
derives a "service" name from the second component of ``__module__``.

Importing this module defines the classes; :func:`garmaxctl.local.bridges.install_bridges`
imports it and then clears moto's cached registry so the new types are picked up.
Every model drives the real moto backend of its service, so what the stack creates is
visible through the ordinary APIs (``DescribeAlarms``, ``GetBucketPolicy``,
``GetStage``, ...).

This module is longer than garmaxctl's 600-line limit on purpose: it is moto-model
boilerplate (one ``CloudFormationModel`` per bridged type, each with moto's fixed set of
class methods), exempted from the limit by the structure issue (10).
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any, ClassVar

from moto.core.common_models import CloudFormationModel

logger = logging.getLogger("garmaxctl.local.bridges")

_TRUE = {"true", "1", "yes"}


def as_bool(value: Any, default: bool) -> bool:
    """CloudFormation booleans reach moto as bool or as "true"/"false" strings."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _TRUE


def _json_text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)


def _unsupported_attr(attribute_name: str) -> Exception:
    from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

    logger.debug("unsupported GetAtt attribute %s", attribute_name)
    return UnformattedGetAttTemplateException()


class _Declared:
    """moto's registration methods, from class attributes. A mixin, not a base class:
    moto lists only *direct* subclasses of ``CloudFormationModel``, so each model still
    names ``CloudFormationModel`` itself, after this mixin.

    - ``CFN_TYPE``: the CloudFormation type; ``CFN_NAME_PROPERTY``: the property that holds
      a physical name ("" when the type has none);
    - ``PHYSICAL_ID``: the attribute holding the physical id (what ``Ref`` returns);
    - ``CFN_ATTRS``: ``GetAtt`` name -> attribute.
    """

    CFN_TYPE: ClassVar[str]
    CFN_NAME_PROPERTY: ClassVar[str] = ""
    PHYSICAL_ID: ClassVar[str]
    CFN_ATTRS: ClassVar[dict[str, str]] = {}

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.CFN_NAME_PROPERTY

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.CFN_TYPE

    @property
    def physical_resource_id(self) -> str:
        return str(getattr(self, self.PHYSICAL_ID))

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.CFN_ATTRS

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name in self.CFN_ATTRS:
            return str(getattr(self, self.CFN_ATTRS[attribute_name]))
        raise _unsupported_attr(attribute_name)


# --------------------------------------------------------------------------------------
# AWS::CloudWatch::Alarm
# --------------------------------------------------------------------------------------


def _metric_data_queries(metrics: list[dict[str, Any]] | None) -> list[Any] | None:
    """CFN ``Metrics`` (metric math) -> moto's MetricDataQuery objects."""
    if not metrics:
        return None
    from moto.cloudwatch import models as cw_models

    # moto's annotations say str where its own request parsing passes None.
    Dimension: Any = cw_models.Dimension
    Metric: Any = cw_models.Metric
    MetricDataQuery: Any = cw_models.MetricDataQuery
    MetricStat: Any = cw_models.MetricStat

    queries = []
    for metric in metrics:
        stat = metric.get("MetricStat") or {}
        inner = stat.get("Metric") or {}
        metric_stat = None
        if inner.get("MetricName"):
            metric_stat = MetricStat(
                metric=Metric(
                    metric_name=inner["MetricName"],
                    namespace=inner.get("Namespace"),
                    dimensions=[
                        Dimension(name=d.get("Name"), value=d.get("Value"))
                        for d in inner.get("Dimensions") or []
                    ],
                ),
                period=stat.get("Period"),
                stat=stat.get("Stat"),
                unit=stat.get("Unit"),
            )
        queries.append(
            MetricDataQuery(
                query_id=metric.get("Id"),
                label=metric.get("Label"),
                period=metric.get("Period"),
                return_data=metric.get("ReturnData"),
                expression=metric.get("Expression"),
                metric_stat=metric_stat,
            )
        )
    return queries


class GarmaxCfnAlarm(_Declared, CloudFormationModel):
    """``AWS::CloudWatch::Alarm`` through the CloudWatch backend's ``put_metric_alarm``.

    Ref -> alarm name, GetAtt Arn -> alarm ARN (as on AWS). ``ActionsEnabled`` defaults to
    true and is honoured; dimensions arrive already resolved by moto's template parser.
    """

    def __init__(self, account_id: str, region_name: str, name: str, arn: str) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.name = name
        self.arn = arn

    CFN_TYPE = "AWS::CloudWatch::Alarm"
    CFN_NAME_PROPERTY = "AlarmName"
    PHYSICAL_ID = "name"
    CFN_ATTRS = {"Arn": "arn"}

    @classmethod
    def _put(
        cls, name: str, properties: dict[str, Any], account_id: str, region_name: str
    ) -> GarmaxCfnAlarm:
        from moto.cloudwatch.models import cloudwatch_backends

        backend: Any = cloudwatch_backends[account_id][region_name]
        threshold = properties.get("Threshold")
        alarm = backend.put_metric_alarm(
            name=name,
            namespace=properties.get("Namespace"),
            metric_name=properties.get("MetricName"),
            metric_data_queries=_metric_data_queries(properties.get("Metrics")),
            comparison_operator=properties.get("ComparisonOperator"),
            evaluation_periods=int(properties["EvaluationPeriods"]),
            datapoints_to_alarm=(
                int(properties["DatapointsToAlarm"])
                if properties.get("DatapointsToAlarm") is not None
                else None
            ),
            period=int(properties["Period"]) if properties.get("Period") is not None else None,
            threshold=float(threshold) if threshold is not None else None,
            statistic=properties.get("Statistic"),
            extended_statistic=properties.get("ExtendedStatistic"),
            description=properties.get("AlarmDescription"),
            dimensions=[
                {"Name": d["Name"], "Value": str(d["Value"])}
                for d in properties.get("Dimensions") or []
            ],
            alarm_actions=list(properties.get("AlarmActions") or []),
            ok_actions=list(properties.get("OKActions") or []),
            insufficient_data_actions=list(properties.get("InsufficientDataActions") or []),
            unit=properties.get("Unit"),
            actions_enabled=as_bool(properties.get("ActionsEnabled"), True),
            treat_missing_data=properties.get("TreatMissingData"),
            evaluate_low_sample_count_percentile=properties.get("EvaluateLowSampleCountPercentile"),
            threshold_metric_id=properties.get("ThresholdMetricId"),
            tags=properties.get("Tags"),
        )
        return cls(account_id, region_name, alarm.name, alarm.alarm_arn)

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> GarmaxCfnAlarm:
        return cls._put(resource_name, cloudformation_json["Properties"], account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: GarmaxCfnAlarm,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> GarmaxCfnAlarm:
        properties = cloudformation_json["Properties"]
        # An explicit AlarmName keeps the alarm (updated in place); without one, moto
        # generated a new random name: keep the existing alarm's name, as AWS does for a
        # property change that needs no replacement.
        name = properties.get("AlarmName") or original_resource.name
        if name != original_resource.name:
            original_resource.delete(account_id, region_name)
        return cls._put(name, properties, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[account_id][region_name].delete_alarms([self.name])


# --------------------------------------------------------------------------------------
# AWS::S3::BucketPolicy
# --------------------------------------------------------------------------------------


class GarmaxCfnBucketPolicy(_Declared, CloudFormationModel):
    """``AWS::S3::BucketPolicy`` through the S3 backend's ``put_bucket_policy``.

    Stored as on AWS (``GetBucketPolicy`` returns it). Enforcement of conditional
    statements is adjusted by a separate bridge (see ``patches.py``): moto cannot evaluate
    ``aws:SecureTransport`` and would deny every object request on a TLS-only bucket.
    """

    def __init__(self, bucket_name: str) -> None:
        self.bucket_name = bucket_name

    CFN_TYPE = "AWS::S3::BucketPolicy"
    PHYSICAL_ID = "bucket_name"

    @staticmethod
    def _backend(account_id: str, region_name: str) -> Any:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        return s3_backends[account_id][get_partition(region_name)]

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> GarmaxCfnBucketPolicy:
        properties = cloudformation_json["Properties"]
        bucket = properties["Bucket"]
        policy = _json_text(properties["PolicyDocument"]).encode("utf-8")
        cls._backend(account_id, region_name).put_bucket_policy(bucket, policy)
        return cls(bucket)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: GarmaxCfnBucketPolicy,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> GarmaxCfnBucketPolicy:
        if cloudformation_json["Properties"]["Bucket"] != original_resource.bucket_name:
            original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        cls(cloudformation_json["Properties"]["Bucket"]).delete(account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.s3.exceptions import MissingBucket

        # If the bucket went first, its policy went with it.
        with contextlib.suppress(MissingBucket):
            self._backend(account_id, region_name).delete_bucket_policy(self.bucket_name)


# --------------------------------------------------------------------------------------
# AWS::SQS::QueuePolicy
# --------------------------------------------------------------------------------------


def _queue_name_from_url(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


class GarmaxCfnQueuePolicy(_Declared, CloudFormationModel):
    """``AWS::SQS::QueuePolicy``: sets each queue's ``Policy`` attribute (as AWS does)."""

    def __init__(self, logical_id: str, queue_urls: list[str]) -> None:
        self.logical_id = logical_id
        self.queue_urls = queue_urls

    CFN_TYPE = "AWS::SQS::QueuePolicy"
    PHYSICAL_ID = "logical_id"
    CFN_ATTRS = {"Id": "logical_id"}

    @staticmethod
    def _set_policy(account_id: str, region_name: str, url: str, policy: str) -> None:
        from moto.sqs.exceptions import QueueDoesNotExist
        from moto.sqs.models import sqs_backends

        try:
            queue = sqs_backends[account_id][region_name].get_queue(_queue_name_from_url(url))
        except QueueDoesNotExist:
            if policy:
                raise
            return
        # Set the attribute directly: moto's set_queue_attributes path is keyed on
        # request shapes; the Policy attribute itself is a JSON string on the queue.
        queue.policy = policy or None

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> GarmaxCfnQueuePolicy:
        properties = cloudformation_json["Properties"]
        policy = _json_text(properties["PolicyDocument"])
        urls = list(properties.get("Queues") or [])
        for url in urls:
            cls._set_policy(account_id, region_name, url, policy)
        return cls(kwargs.get("LogicalId") or resource_name, urls)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: GarmaxCfnQueuePolicy,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> GarmaxCfnQueuePolicy:
        new_urls = set(cloudformation_json["Properties"].get("Queues") or [])
        for url in original_resource.queue_urls:
            if url not in new_urls:
                cls._set_policy(account_id, region_name, url, "")
        return cls.create_from_cloudformation_json(
            new_resource_name,
            cloudformation_json,
            account_id,
            region_name,
            LogicalId=original_resource.logical_id,
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        for url in cloudformation_json["Properties"].get("Queues") or []:
            cls._set_policy(account_id, region_name, url, "")

    def delete(self, account_id: str, region_name: str) -> None:
        for url in self.queue_urls:
            self._set_policy(account_id, region_name, url, "")


# --------------------------------------------------------------------------------------
# AWS::ApiGateway::Stage and AWS::ApiGateway::Account
# --------------------------------------------------------------------------------------

_METHOD_SETTING_KEYS = {
    "CacheDataEncrypted": "cacheDataEncrypted",
    "CacheTtlInSeconds": "cacheTtlInSeconds",
    "CachingEnabled": "cachingEnabled",
    "DataTraceEnabled": "dataTraceEnabled",
    "LoggingLevel": "loggingLevel",
    "MetricsEnabled": "metricsEnabled",
    "ThrottlingBurstLimit": "throttlingBurstLimit",
    "ThrottlingRateLimit": "throttlingRateLimit",
}


def _method_settings_key(resource_path: str, http_method: str) -> str:
    """API Gateway's key: ``*/*`` for all, ``~1api~1health/GET`` for one method."""
    path = "*" if resource_path in ("/*", "*") else resource_path.replace("/", "~1")
    return f"{path}/{http_method}"


def _apigw_backend(account_id: str, region_name: str) -> Any:
    from moto.apigateway.models import apigateway_backends

    return apigateway_backends[account_id][region_name]


class GarmaxCfnApiStage(_Declared, CloudFormationModel):
    """``AWS::ApiGateway::Stage`` through the API Gateway backend's ``create_stage``.

    Ref -> stage name (as on AWS), so ``RestApi.url`` outputs resolve. Method settings
    (throttling, logging, metrics), access log settings and tracing are recorded on the
    stage and visible through ``GetStage``.
    """

    def __init__(self, rest_api_id: str, stage_name: str) -> None:
        self.rest_api_id = rest_api_id
        self.stage_name = stage_name

    CFN_TYPE = "AWS::ApiGateway::Stage"
    CFN_NAME_PROPERTY = "StageName"
    PHYSICAL_ID = "stage_name"

    @staticmethod
    def _apply_settings(stage: Any, properties: dict[str, Any]) -> None:
        stage.deployment_id = properties.get("DeploymentId", stage.deployment_id)
        stage.description = properties.get("Description", "") or ""
        stage.variables = dict(properties.get("Variables") or {})
        if "TracingEnabled" in properties:
            stage.tracing_enabled = as_bool(properties["TracingEnabled"], False)
        access = properties.get("AccessLogSetting")
        stage.access_log_settings = (
            {
                "destinationArn": access.get("DestinationArn"),
                "format": access.get("Format"),
            }
            if access
            else None
        )
        settings: dict[str, Any] = {}
        for setting in properties.get("MethodSettings") or []:
            key = _method_settings_key(
                setting.get("ResourcePath", "/*"), setting.get("HttpMethod", "*")
            )
            entry = stage._get_default_method_settings()
            for cfn_key, api_key in _METHOD_SETTING_KEYS.items():
                if cfn_key in setting:
                    entry[api_key] = stage._convert_to_type(api_key, str(setting[cfn_key]))
            settings[key] = entry
        stage.method_settings = settings
        if properties.get("Tags"):
            stage.tags = {t["Key"]: t["Value"] for t in properties["Tags"]}

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> GarmaxCfnApiStage:
        properties = cloudformation_json["Properties"]
        rest_api_id = properties["RestApiId"]
        backend = _apigw_backend(account_id, region_name)
        stage = backend.create_stage(
            rest_api_id,
            resource_name,
            properties.get("DeploymentId"),
            variables=properties.get("Variables"),
            description=properties.get("Description", ""),
            cacheClusterEnabled=as_bool(properties.get("CacheClusterEnabled"), False),
            cacheClusterSize=properties.get("CacheClusterSize"),
            tracing_enabled=as_bool(properties.get("TracingEnabled"), False),
        )
        cls._apply_settings(stage, properties)
        return cls(rest_api_id, resource_name)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: GarmaxCfnApiStage,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> GarmaxCfnApiStage:
        properties = cloudformation_json["Properties"]
        name = properties.get("StageName") or original_resource.stage_name
        if (
            properties["RestApiId"] == original_resource.rest_api_id
            and name == original_resource.stage_name
        ):
            stage = _apigw_backend(account_id, region_name).get_stage(
                original_resource.rest_api_id, original_resource.stage_name
            )
            cls._apply_settings(stage, properties)
            return original_resource
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        cls(cloudformation_json["Properties"]["RestApiId"], resource_name).delete(
            account_id, region_name
        )

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.apigateway.exceptions import RestAPINotFound, StageNotFoundException

        with contextlib.suppress(RestAPINotFound, StageNotFoundException):
            _apigw_backend(account_id, region_name).delete_stage(self.rest_api_id, self.stage_name)


class GarmaxCfnApiAccount(_Declared, CloudFormationModel):
    """``AWS::ApiGateway::Account``: sets the region's CloudWatch role ARN.

    Deleting the resource leaves the account setting in place, as on AWS (the setting
    is per account and region, not owned by the stack).
    """

    def __init__(self, account_id: str, region_name: str) -> None:
        self.account_id = account_id
        self.region_name = region_name

    CFN_TYPE = "AWS::ApiGateway::Account"
    PHYSICAL_ID = "setting_id"
    CFN_ATTRS = {"Id": "setting_id"}

    @property
    def setting_id(self) -> str:
        return f"{self.account_id}-{self.region_name}-apigateway-account"

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> GarmaxCfnApiAccount:
        role_arn = cloudformation_json["Properties"].get("CloudWatchRoleArn")
        if role_arn:
            _apigw_backend(account_id, region_name).update_account(
                [{"op": "replace", "path": "/cloudwatchRoleArn", "value": role_arn}]
            )
        return cls(account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: GarmaxCfnApiAccount,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> GarmaxCfnApiAccount:
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        return None

    def delete(self, account_id: str, region_name: str) -> None:
        return None


# --------------------------------------------------------------------------------------
# AWS::SNS::Subscription
# --------------------------------------------------------------------------------------

_SUBSCRIPTION_ATTRIBUTES = (
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
)


class GarmaxCfnSnsSubscription(_Declared, CloudFormationModel):
    """``AWS::SNS::Subscription`` through the SNS backend's ``subscribe``.

    Ref -> subscription ARN. Nothing is delivered by e-mail: moto records the
    subscription (pending confirmation for ``email``), which is all LOCAL needs.
    """

    def __init__(self, arn: str) -> None:
        self.arn = arn

    CFN_TYPE = "AWS::SNS::Subscription"
    PHYSICAL_ID = "arn"
    CFN_ATTRS = {"Arn": "arn"}

    @staticmethod
    def _backend(account_id: str, region_name: str) -> Any:
        from moto.sns.models import sns_backends

        return sns_backends[account_id][region_name]

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> GarmaxCfnSnsSubscription:
        properties = cloudformation_json["Properties"]
        backend = cls._backend(account_id, region_name)
        subscription = backend.subscribe(
            properties["TopicArn"], properties.get("Endpoint"), properties["Protocol"]
        )
        for name in _SUBSCRIPTION_ATTRIBUTES:
            if name in properties:
                value = properties[name]
                if isinstance(value, dict | list):
                    value = json.dumps(value)
                elif isinstance(value, bool):
                    value = str(value).lower()
                backend.set_subscription_attributes(subscription.arn, name, value)
        return cls(subscription.arn)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: GarmaxCfnSnsSubscription,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> GarmaxCfnSnsSubscription:
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        cls._backend(account_id, region_name).unsubscribe(resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        self._backend(account_id, region_name).unsubscribe(self.arn)


BRIDGED_MODELS: tuple[type[CloudFormationModel], ...] = (
    GarmaxCfnAlarm,
    GarmaxCfnBucketPolicy,
    GarmaxCfnQueuePolicy,
    GarmaxCfnApiStage,
    GarmaxCfnApiAccount,
    GarmaxCfnSnsSubscription,
)
