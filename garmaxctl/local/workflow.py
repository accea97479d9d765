"""``garmaxctl local up`` and ``local reset``: the composite LOCAL workflows.

``up`` starts the emulator (detached: :func:`garmaxctl.local.supervisor.start_detached`;
foreground: :func:`garmaxctl.local.server.serve` in this process) and, unless
``emulator_only``, the LOCAL platform beside it, then bootstraps and deploys
``GarmaxAiStack-LOCAL`` with the real CDK CLI (:mod:`garmaxctl.services.cdk`) and waits
until the local gateway serves it. ``reset`` wipes the emulator and, when the platform
runs, deploys again.

This is the one module of :mod:`garmaxctl.local` that calls a service (the CDK
workflow); like a service it never prints: progress and notes go to the callables the
command passes in.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from garmaxctl.local import inbox, server, supervisor
from garmaxctl.local.supervisor import EmulatorState, EmulatorStatus
from garmaxctl.shared import contract
from garmaxctl.shared.errors import EmulatorError

if TYPE_CHECKING:
    from garmaxctl.aws import AwsTarget
    from garmaxctl.services.cdk import Progress

API_READY_TIMEOUT_S = 90.0
INBOX_READY_TIMEOUT_S = 30.0


@dataclass
class LocalUp:
    emulator: EmulatorStatus
    deployed: bool
    stack_changed: bool | None
    api_url: str | None
    health: dict[str, Any] | None


@dataclass
class ForegroundStopped:
    """A foreground ``local up`` that ran and was stopped (Ctrl-C or SIGTERM)."""

    stopped: bool
    endpoint_url: str


def deploy_stack(aws: AwsTarget, progress: Progress) -> bool:
    """Bootstrap (idempotent) and deploy LOCAL; True when the stack changed."""
    from garmaxctl.services import cdk

    project = cdk.CdkProject(aws=aws, progress=progress)
    cdk.bootstrap(project)
    return cdk.deploy(project).changed


def wait_for_api(api_url: str, timeout: float = API_READY_TIMEOUT_S) -> dict[str, Any]:
    """Poll ``/api/health`` until the gateway serves the deployed stack."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{api_url}/api/health", timeout=5) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = type(exc).__name__
        time.sleep(0.3)
    raise EmulatorError(f"the local API at {api_url} did not become healthy within "
                        f"{timeout:.0f} s ({last})", hint="see `garmaxctl local logs`")


def wait_for_inbox(aws: AwsTarget, timeout: float = INBOX_READY_TIMEOUT_S,
                   poll: float = 0.3) -> None:
    """Wait until the platform's alert inbox is subscribed to the stack's alert topic.

    The platform subscribes it a moment after it sees the stack (:mod:`garmaxctl.local.inbox`);
    SNS delivers a publish only to the subscribers it has at that moment, so an alarm that
    fired before would reach no inbox. LOCAL is ready once the subscription exists.
    """
    stack = aws.client("cloudformation").describe_stacks(
        StackName=contract.stack_name("LOCAL"))["Stacks"][0]
    topic = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}.get(
        contract.OutputKey.ALERT_TOPIC_ARN)
    if not topic:
        return  # a stack without the topic has nothing to deliver
    sns = aws.client("sns")
    deadline = time.monotonic() + timeout
    while True:
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        if any(s["Endpoint"].endswith(f":{inbox.QUEUE_NAME}") for s in subscriptions):
            return
        if time.monotonic() >= deadline:
            raise EmulatorError(f"the local alert inbox was not subscribed to {topic} within "
                                f"{timeout:.0f} s", hint="see `garmaxctl local logs`")
        time.sleep(poll)


def wait_until_ready(aws: AwsTarget, api_url: str) -> dict[str, Any]:
    """The deployed LOCAL stack is served (its API is healthy) and its alerts are delivered."""
    health = wait_for_api(api_url)
    wait_for_inbox(aws)
    return health


def up_detached(aws: AwsTarget, *, emulator_only: bool, progress: Progress) -> LocalUp:
    """Start (or find) the background emulator; deploy LOCAL and wait for its API."""
    port = supervisor.default_port()
    api_port = None if emulator_only else supervisor.default_api_port()
    status = supervisor.start_detached(port, supervisor.default_state_dir(), api_port=api_port)
    if emulator_only or status.api_url is None:
        return LocalUp(emulator=status, deployed=False, stack_changed=None,
                       api_url=status.api_url, health=None)
    try:
        changed = deploy_stack(aws, progress)
        health = wait_until_ready(aws, status.api_url)
    except BaseException:
        if not status.already_running:
            supervisor.stop(supervisor.default_state_dir())
            progress("the emulator was stopped again: nothing is left running")
        raise
    return LocalUp(emulator=supervisor.status(), deployed=True, stack_changed=changed,
                   api_url=status.api_url, health=health)


def up_foreground(aws: AwsTarget, *, emulator_only: bool, note: Callable[[str], None],
                  progress: Callable[[str], AbstractContextManager[Progress]],
                  ) -> EmulatorStatus | ForegroundStopped:
    """Serve LOCAL in this process until interrupted.

    Returns the running emulator's status (``already_running``) when garmaxctl's emulator
    already holds the port, without starting anything; raises when another program does.
    Once the emulator answers: ``note`` what runs, deploy under ``progress("deploying
    LOCAL")``, then serve until SIGINT/SIGTERM.
    """
    port, api_port = supervisor.default_port(), supervisor.default_api_port()
    state_dir = supervisor.default_state_dir()
    running = supervisor.check_port_free_for_us(port, state_dir)
    if running:
        return running
    state_dir.mkdir(parents=True, exist_ok=True)

    def ready(state: EmulatorState) -> None:
        note(f"emulator running at {state.endpoint_url} (pid {state.pid})")
        if not emulator_only and state.api_url:
            with progress("deploying LOCAL") as line:
                deploy_stack(aws, line)
                wait_until_ready(aws, state.api_url)
            note(f"API at {state.api_url}")
        note("Ctrl-C to stop")

    server.serve(port, state_dir, api_port=None if emulator_only else api_port, ready=ready)
    return ForegroundStopped(stopped=True, endpoint_url=supervisor.endpoint_for(port))


def reset(aws: AwsTarget, progress: Progress) -> dict[str, Any]:
    """Wipe the emulator; when the platform runs, bootstrap and deploy LOCAL again."""
    current = supervisor.status()
    server.reset(str(aws.endpoint_url))
    redeployed = False
    if current.running and current.api_url:
        deploy_stack(aws, progress)
        wait_until_ready(aws, current.api_url)
        redeployed = True
    return {"reset": True, "endpoint_url": aws.endpoint_url, "redeployed": redeployed,
            "api_url": current.api_url}
