"""The Powertools logger, tracer and metrics shared by every handler and domain module.

Service name and metrics namespace come from ``POWERTOOLS_SERVICE_NAME`` and
``POWERTOOLS_METRICS_NAMESPACE`` (set by the CDK app). Nothing here ever logs a secret:
events are not logged (``log_event`` stays off) and secret values never reach a log call.
"""

from __future__ import annotations

import os
import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

DEFAULT_SERVICE = "garmaxai"
DEFAULT_NAMESPACE = "GarmaxAI"

# Defaults only so that a process outside Lambda (the local workers) can flush metrics;
# on AWS the CDK app sets both variables.
logger = Logger(service=os.getenv("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE)
tracer = Tracer(service=os.getenv("POWERTOOLS_SERVICE_NAME") or DEFAULT_SERVICE)
metrics = Metrics(namespace=os.getenv("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE)

# An invocation that records no metric (a health check, a webhook event it ignores) is
# normal here; Powertools would write a UserWarning line to each one's log, noise in
# `logs tail`. The filter is the one its metrics docs give for this case.
warnings.filterwarnings("ignore", message="No application metrics to publish",
                        category=UserWarning)


def count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def gauge_percent(name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Percent, value=value)
