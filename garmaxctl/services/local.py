"""``garmaxctl local``: the emulator plus, unless ``--emulator-only``, the whole LOCAL
platform — bootstrap, deploy of ``GarmaxAiStack-LOCAL`` with the real CDK CLI, the local
API gateway and the SQS workers (``garmaxctl.local_platform``)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from garmaxctl import emulator
from garmaxctl.errors import EmulatorError

if TYPE_CHECKING:
    from garmaxctl.aws import AwsTarget
    from garmaxctl.services.cdk import Progress

API_READY_TIMEOUT_S = 90.0


@dataclass
class LocalUp:
    emulator: emulator.EmulatorStatus
    deployed: bool
    stack_changed: bool | None
    api_url: str | None
    health: dict[str, Any] | None


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


def up_detached(aws: AwsTarget, *, emulator_only: bool, progress: Progress) -> LocalUp:
    port = emulator.default_port()
    api_port = None if emulator_only else emulator.default_api_port()
    status = emulator.start_detached(port, emulator.default_state_dir(), api_port=api_port)
    if emulator_only or status.api_url is None:
        return LocalUp(emulator=status, deployed=False, stack_changed=None,
                       api_url=status.api_url, health=None)
    try:
        changed = deploy_stack(aws, progress)
        health = wait_for_api(status.api_url)
    except BaseException:
        if not status.already_running:
            emulator.stop(emulator.default_state_dir())
            progress("the emulator was stopped again: nothing is left running")
        raise
    return LocalUp(emulator=emulator.status(), deployed=True, stack_changed=changed,
                   api_url=status.api_url, health=health)


def reset(aws: AwsTarget, progress: Progress) -> dict[str, Any]:
    """Wipe the emulator; when the platform runs, bootstrap and deploy LOCAL again."""
    current = emulator.status()
    emulator.reset(str(aws.endpoint_url))
    redeployed = False
    if current.running and current.api_url:
        deploy_stack(aws, progress)
        wait_for_api(current.api_url)
        redeployed = True
    return {"reset": True, "endpoint_url": aws.endpoint_url, "redeployed": redeployed,
            "api_url": current.api_url}
