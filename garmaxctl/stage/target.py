"""A deployed stage as every service sees it: :class:`StageTarget`.

Built once per run from the global options (``GlobalOptions.target``) and handed to
services, so that none of them re-derives what the others need:

- the AWS clients (``client``), after one reachability probe: on LOCAL the emulator is
  probed first, so a command against a stopped emulator fails at once with the fix
  instead of after the adaptive retries;
- the account check (``check_account``), done once;
- the stack's outputs (``outputs``, ``output``, ``require_output``: a missing output names
  the key and the stack);
- the API's base URL (``api_url``: the local gateway on LOCAL, the stack's ``ApiUrl``
  elsewhere);
- the idle flag (``idle``, ``idle_snapshot``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from garmaxctl.shared import contract
from garmaxctl.shared.errors import OutputMissingError, StackNotFoundError

if TYPE_CHECKING:
    from garmaxctl.aws import AwsTarget
    from garmaxctl.shared.stages import Features, StageConfig

_UNSET: Any = object()


class StageTarget:
    def __init__(self, aws: AwsTarget, *, api_url: str | None = None) -> None:
        self.aws = aws
        self._lock = threading.RLock()
        self._connected = False
        self._identity: dict[str, str] | None = None
        self._outputs: dict[str, str] | None = None
        self._api: tuple[str | None, str] | None = None
        if api_url is not None:
            self._api = (api_url if api_url.endswith("/") else api_url + "/", "")
        self._idle_snapshot: Any = _UNSET

    def fresh(self) -> StageTarget:
        """A new target on the same AWS session, with nothing read yet (a watcher's next
        round must see a changed stack, API or idle state)."""
        return StageTarget(self.aws)

    # ------------------------------------------------------------------ what it is

    @property
    def name(self) -> str:
        """The canonical stage name (``LOCAL``, ``DEV``, ...)."""
        return str(self.aws.stage.stage)

    @property
    def config(self) -> StageConfig:
        return self.aws.stage

    @property
    def features(self) -> Features:
        return self.aws.stage.features

    @property
    def is_local(self) -> bool:
        return self.aws.is_local

    @property
    def stack(self) -> str:
        return contract.stack_name(self.name)

    # ------------------------------------------------------------------ reaching it

    def connect(self) -> None:
        """Probe the stage once before any AWS call: on LOCAL, the emulator must answer
        (a stopped one fails within a second with the fix)."""
        with self._lock:
            if self._connected:
                return
            if self.is_local and _on_this_machine(str(self.aws.endpoint_url)):
                from garmaxctl.stage import local

                local.require_running(str(self.aws.endpoint_url))
            self._connected = True

    @property
    def connected(self) -> bool:
        """Whether this run reached the stage (:meth:`connect` succeeded)."""
        return self._connected

    def client(self, service: str, **config: Any) -> Any:
        """A client of the stage's AWS (cached per run), after :meth:`connect`."""
        self.connect()
        return self.aws.client(service, **config)

    def check_account(self) -> None:
        """Refuse credentials for another account than the stage's (real stages; LOCAL has
        no account of its own). Checked once per run."""
        with self._lock:
            self.connect()
            if self._identity is None and not self.is_local:
                self._identity = self.aws.check_account()

    # ------------------------------------------------------------------ the stack

    def describe_stack(self) -> dict[str, Any] | None:
        """The stack's description, or None when it does not exist."""
        try:
            stacks = self.client("cloudformation").describe_stacks(
                StackName=self.stack)["Stacks"]
        except Exception as exc:  # botocore ClientError: "does not exist"
            if "does not exist" in str(exc):
                return None
            raise
        return stacks[0] if stacks else None

    def outputs(self) -> dict[str, str]:
        """The stack's CloudFormation outputs by OutputKey; a missing stack is an error."""
        with self._lock:
            if self._outputs is None:
                stack = self.describe_stack()
                if stack is None:
                    raise StackNotFoundError(
                        f"stack {self.stack} not found in {self.aws.region}"
                        + (" (the local emulator)" if self.is_local else ""),
                        hint="deploy it with `garmaxctl deploy`"
                             + (" or `garmaxctl local up`" if self.is_local else ""))
                self._outputs = {o["OutputKey"]: o["OutputValue"]
                                 for o in stack.get("Outputs", [])}
            return self._outputs

    def output(self, key: contract.OutputKey | str) -> str | None:
        """One output's value, or None when the stack has no such output."""
        return self.outputs().get(str(key)) or None

    def require_output(self, key: contract.OutputKey | str) -> str:
        value = self.output(key)
        if not value:
            raise OutputMissingError(
                f"stack {self.stack} has no output {key}",
                hint="deploy the current version with `garmaxctl deploy` (the stack predates "
                     "it)")
        return value

    def smpl_placeholder(self) -> bool | None:
        """Whether the SMPL processor runs the labelled placeholder image (the stack's
        ``SmplPlaceholder`` output); None where the stage has no ECS service or the
        stack predates the output."""
        if not self.features.ecs:
            return None
        flag = self.output(contract.OutputKey.SMPL_PLACEHOLDER)
        return None if flag is None else flag == "true"

    # ------------------------------------------------------------------ the API

    def api(self) -> tuple[str | None, str]:
        """(base URL ending in ``/``, or None; why there is none)."""
        with self._lock:
            if self._api is None:
                if self.is_local:
                    from garmaxctl.stage import local

                    self._api = local.api_url()
                else:
                    try:
                        url = self.output(contract.OutputKey.API_URL)
                    except StackNotFoundError as exc:
                        url, missing = None, exc.message
                    else:
                        missing = (f"stack {self.stack} has no output "
                                   f"{contract.OutputKey.API_URL}")
                    self._api = ((url if url.endswith("/") else url + "/", "") if url else
                                 (None, missing))
            return self._api

    @property
    def api_url(self) -> str | None:
        return self.api()[0]

    @property
    def api_url_problem(self) -> str:
        return self.api()[1]

    def api_endpoint(self, path: str) -> str:
        base = self.api_url
        assert base is not None, self.api_url_problem
        return base + path.lstrip("/")

    # ------------------------------------------------------------------ idle

    def idle_snapshot(self) -> dict[str, Any] | None:
        """The idle snapshot (its existence means the stage is idle), or None; an
        unreadable one still means idle."""
        with self._lock:
            if self._idle_snapshot is _UNSET:
                from garmaxctl.stage.idle_state import read_snapshot

                self.connect()
                try:
                    snapshot = read_snapshot(self.aws, self.name)
                except ValueError:
                    snapshot = {"schema": None, "stage": self.name, "phase": "unreadable"}
                if snapshot is not None and not isinstance(snapshot, dict):
                    snapshot = {"stage": self.name, "phase": "unreadable"}
                self._idle_snapshot = snapshot
            return self._idle_snapshot

    @property
    def idle(self) -> bool:
        return self.idle_snapshot() is not None


def _on_this_machine(endpoint_url: str) -> bool:
    from urllib.parse import urlparse

    return urlparse(endpoint_url).hostname in ("localhost", "127.0.0.1")
