"""Idle tests on moto: a DEV stage built by hand (tests/idle/builder.py) under ``mock_aws``.

``mock_aws`` intercepts AWS host names only, so these tests use a real stage (DEV, its
account pointed at moto's) rather than LOCAL; the LOCAL end-to-end test uses the session's
deployed ``local_stack`` instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.idle import builder

READ_PREFIXES = ("Get", "List", "Describe")
NOT_STATE_CHANGES = ("Invoke",)


def is_mutating(operation: str) -> bool:
    return not operation.startswith(READ_PREFIXES) and operation not in NOT_STATE_CHANGES


class FaultInjector:
    """A botocore hook (``before-parameter-build``, so it sees the call's parameters, before
    anything is sent): counts mutating calls and fails the Nth one (or the first ``when``)."""

    def __init__(self, fail_at: int | None = None, *,
                 when: Callable[[str, dict], bool] | None = None) -> None:
        self.fail_at = fail_at
        self.when = when
        self.mutating: list[str] = []
        self.failed: str | None = None

    def __call__(self, model: Any, params: dict, **_: Any) -> None:
        operation = model.name
        if not is_mutating(operation):
            return
        self.mutating.append(operation)
        hit = (self.fail_at is not None and len(self.mutating) == self.fail_at) or \
            (self.when is not None and self.failed is None and self.when(operation, params))
        if hit:
            self.failed = operation
            raise ClientError({"Error": {"Code": "InjectedFault",
                                         "Message": f"injected failure in {operation}"}},
                              operation)

    def attach(self, aws: Any) -> None:
        aws.session.events.register("before-parameter-build", self)


_LOADER: Any = None


def _session_with_shared_models() -> Any:
    """A fresh boto3 session (its own event hooks) that reuses one botocore model loader:
    parsing the service models again for every engine is most of a test's time."""
    import boto3
    import botocore.session

    global _LOADER
    core = botocore.session.Session()
    if _LOADER is None:
        _LOADER = core.get_component("data_loader")
    core.register_component("data_loader", _LOADER)
    return boto3.Session(botocore_session=core, region_name=builder.REGION)


class DevStage:
    stage = "DEV"

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def build(self, spec: builder.StageSpec | None = None) -> builder.StageSpec:
        spec = spec or builder.default_spec(self.stage)
        builder.build(spec)
        return spec

    def aws(self, injector: FaultInjector | None = None) -> Any:
        from garmaxctl.aws import AwsTarget
        from garmaxctl.shared.stages import get_stage_config

        target = AwsTarget(stage=get_stage_config(self.stage))
        target._session = _session_with_shared_models()
        if injector is not None:
            injector.attach(target)
        return target

    def engine(self, injector: FaultInjector | None = None, *,
               clock: Callable[[], dt.datetime] | None = None) -> Any:
        from garmaxctl.services.idle import IdleEngine, Timeouts
        from garmaxctl.stage.target import StageTarget

        return IdleEngine(StageTarget(self.aws(injector)), clock=clock or self.clock,
                          timeouts=Timeouts(mapping=5, provisioned=5, ecs=5, aurora=5,
                                            health=1, function=5, delay=0.01))

    def clock(self) -> dt.datetime:
        return self.now

    def observe(self) -> dict[str, Any]:
        return builder.observe(self.stage)

    def parameter(self, name: str) -> str | None:
        try:
            return builder.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError:
            return None

    def snapshot(self) -> dict[str, Any]:
        """The stage's idle snapshot document (fails the test if there is none)."""
        import json

        from garmaxctl.stage.idle_state import snapshot_param

        value = self.parameter(snapshot_param(self.stage))
        assert value is not None, "no idle snapshot"
        document: dict[str, Any] = json.loads(value)
        return document

    def parameters_under(self, prefix: str) -> list[str]:
        ssm = builder.client("ssm")
        names = []
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=prefix,
                                                                         Recursive=True):
            names += [p["Name"] for p in page["Parameters"]]
        return names


def quiet_moto() -> None:
    """Inside a container, moto prints a Docker warning on stdout the first time a Lambda
    invoke asks for its host (cached after that): ask once here, where nobody parses stdout,
    so a CLI test's JSON document stays the only thing on its stdout."""
    import contextlib
    import io

    from moto import settings

    with contextlib.redirect_stdout(io.StringIO()):
        settings.moto_server_host()


@pytest.fixture
def dev(monkeypatch: pytest.MonkeyPatch) -> Iterator[DevStage]:
    quiet_moto()
    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", builder.ACCOUNT)
    with mock_aws():
        yield DevStage()
