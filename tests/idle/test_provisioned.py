"""Provisioned concurrency on a target that supports it (moto does not: its answer "Not yet
implemented" is tested in test_down_up.py). The Lambda client is wrapped to keep
provisioned configs in memory; every other call goes to moto."""

from __future__ import annotations

from typing import Any

from garmaxctl.shared import contract
from tests.idle import builder


class ProvisionedLambda:
    """The moto Lambda client plus an in-memory provisioned concurrency API, as AWS has it."""

    def __init__(self, real: Any, configs: dict[str, dict[str, int]]) -> None:
        self._real = real
        self.configs = configs
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._real, name)
        if callable(attribute) and name in ("put_function_concurrency",
                                            "delete_function_concurrency"):
            def record(*args: Any, **kwargs: Any) -> Any:
                self.calls.append(name)
                return attribute(*args, **kwargs)
            return record
        return attribute

    def get_paginator(self, operation: str) -> Any:
        if operation != "list_provisioned_concurrency_configs":
            return self._real.get_paginator(operation)
        configs = self.configs

        class Pages:
            def paginate(self, FunctionName: str) -> list[dict]:
                return [{"ProvisionedConcurrencyConfigs": [
                    {"FunctionArn": f"arn:aws:lambda:us-east-1:1:function:{FunctionName}:{q}",
                     "RequestedProvisionedConcurrentExecutions": n}
                    for q, n in configs.get(FunctionName, {}).items()]}]
        return Pages()

    def put_provisioned_concurrency_config(self, FunctionName: str, Qualifier: str,
                                           ProvisionedConcurrentExecutions: int) -> dict:
        self.calls.append("put_provisioned_concurrency_config")
        self.configs.setdefault(FunctionName, {})[Qualifier] = ProvisionedConcurrentExecutions
        return {}

    def delete_provisioned_concurrency_config(self, FunctionName: str,
                                              Qualifier: str) -> dict:
        self.calls.append("delete_provisioned_concurrency_config")
        del self.configs[FunctionName][Qualifier]
        return {}

    def get_provisioned_concurrency_config(self, FunctionName: str,
                                           Qualifier: str) -> dict:
        return {"Status": "READY",
                "RequestedProvisionedConcurrentExecutions": self.configs[FunctionName][Qualifier]}


def _engine_with(dev, configs: dict) -> tuple[Any, ProvisionedLambda]:
    engine = dev.engine()
    wrapped = ProvisionedLambda(engine.aws.client("lambda"), configs)
    engine.aws._clients["lambda"] = wrapped
    return engine, wrapped


def test_provisioned_concurrency_is_recorded_removed_before_throttling_and_restored(dev) -> None:
    dev.build()
    api = contract.function_name(contract.Function.API, "DEV")
    configs = {api: {"live": 5}}
    lam = builder.client("lambda")
    lam.put_function_concurrency(FunctionName=api, ReservedConcurrentExecutions=10)

    engine, wrapped = _engine_with(dev, configs)
    report = engine.down()
    assert report.ok, report
    assert configs[api] == {}
    assert wrapped.calls[:2] == ["delete_provisioned_concurrency_config",
                                 "put_function_concurrency"]  # AWS refuses 0 below provisioned
    import json

    document = json.loads(dev.parameter("/garmaxai/ops/DEV/idle/snapshot"))
    assert document["resources"]["functions"][api]["provisioned"] == [
        {"qualifier": "live", "count": 5}]

    engine, wrapped = _engine_with(dev, configs)
    assert engine.up().ok
    assert configs[api] == {"live": 5}
    assert wrapped.calls.index("put_function_concurrency") < \
        wrapped.calls.index("put_provisioned_concurrency_config")  # reserved first
    assert lam.get_function_concurrency(FunctionName=api)["ReservedConcurrentExecutions"] == 10
