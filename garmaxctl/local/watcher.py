"""The stack watcher: the LOCAL platform follows the deployed ``GarmaxAiStack-LOCAL``.

Every two seconds it reads the stack (status, outputs) and the functions' environment
variables (``GetFunctionConfiguration``). When a new deployment appears it gives the
handlers that environment (:func:`apply_environment`) and imports them once, before any
request; while the stack is gone or updating the gateway and workers pause.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from garmaxctl.shared import contract

if TYPE_CHECKING:
    from garmaxctl.local.access_log import ApiStage
    from garmaxctl.local.platform import Platform

log = logging.getLogger(__name__)

STAGE = "LOCAL"
WATCH_S = 2.0
READY_STATUSES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"}


def load_handler(function: contract.Function) -> Callable[[dict, Any], Any]:
    module_name, _, attribute = contract.HANDLERS[function].rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


@dataclass
class StackView:
    """What the platform needs from the deployed LOCAL stack."""

    stack_id: str
    outputs: dict[str, str]
    environment: dict[str, str]  # union of the functions' environment variables
    memory: dict[str, int] = field(default_factory=dict)  # function name -> MemorySize
    api_stage: ApiStage | None = None  # the deployed API stage's logging settings


def read_stack(client: Callable[[str], Any]) -> StackView | None:
    """The deployed stack, or None while it is absent or not in a ready state."""
    cloudformation = client("cloudformation")
    try:
        stack = cloudformation.describe_stacks(
            StackName=contract.stack_name(STAGE))["Stacks"][0]
    except Exception:
        return None
    if stack["StackStatus"] not in READY_STATUSES:
        return None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    environment: dict[str, str] = {}
    memory: dict[str, int] = {}
    lambda_client = client("lambda")
    for function in contract.Function:
        name = contract.function_name(function, STAGE)
        config = lambda_client.get_function_configuration(FunctionName=name)
        environment.update(config.get("Environment", {}).get("Variables", {}))
        if config.get("MemorySize"):
            memory[name] = int(config["MemorySize"])
    stamp = stack["StackId"] + str(stack.get("LastUpdatedTime", stack["CreationTime"]))
    return StackView(stack_id=stamp, outputs=outputs, environment=environment, memory=memory,
                     api_stage=read_api_stage(client, outputs.get(contract.OutputKey.API_ID)))


def read_api_stage(client: Callable[[str], Any], api_id: str | None) -> ApiStage | None:
    """The deployed REST API stage: its access log setting and resource paths."""
    from garmaxctl.local.access_log import ApiStage

    if not api_id:
        return None
    apigateway = client("apigateway")
    stage_name = contract.api_stage_name(STAGE)
    try:
        stage = apigateway.get_stage(restApiId=api_id, stageName=stage_name)
    except Exception:  # no stage: API Gateway would log nothing for it
        stage = {}
    resources = [r["path"] for page in apigateway.get_paginator("get_resources").paginate(
        restApiId=api_id) for r in page.get("items", [])]
    access = stage.get("accessLogSettings") or {}
    return ApiStage(api_id=api_id, api_name=contract.api_name(STAGE), stage=stage_name,
                    access_log_destination=access.get("destinationArn"),
                    access_log_format=access.get("format"), resources=resources)


def apply_environment(view: StackView, endpoint: str, region: str) -> None:
    """The handlers read names at call time from os.environ: give them the stack's."""
    from garmaxctl.aws import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY

    os.environ.update(view.environment)
    os.environ.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "POWERTOOLS_TRACE_DISABLED": "1",
    })
    os.environ.pop("AWS_PROFILE", None)


def watch(platform: Platform, stop: threading.Event) -> None:
    """Keep ``platform.view`` on the deployed stack until ``stop`` is set."""
    while not stop.is_set():
        try:
            view = read_stack(platform.client)
            current = platform.view
            if view is None and current is not None:
                log.info("stack %s is gone or updating: gateway paused",
                         contract.stack_name(STAGE))
                platform.view = None
            elif view is not None and (current is None or view.stack_id != current.stack_id):
                apply_environment(view, platform.endpoint, platform.region)
                for function in contract.Function:  # import once, before any request
                    load_handler(function)
                platform.deployed(view)
                log.info("platform serving %s on http://localhost:%s",
                         contract.stack_name(STAGE), platform.api_port)
            platform.error = None
        except Exception as exc:  # keep watching; report in status
            platform.error = f"{type(exc).__name__}: {exc}"
            log.warning("stack watch failed: %s", platform.error)
        stop.wait(WATCH_S)
