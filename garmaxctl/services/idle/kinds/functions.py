"""Lambda functions ``GarmaxAi-{Name}-{STAGE}``: reserved and provisioned concurrency.

Role: ``StripeWebhook`` is kept running (Stripe's events queue up for the billing consumer),
a function with an SQS event source mapping is a consumer, any other is ingress (a
producer). Ingress goes to reserved concurrency 0 first; consumers only after their
mappings are disabled (``mappings`` sits between the two groups). Provisioned concurrency
is removed before reserved concurrency goes to 0 (AWS refuses 0 below it) and restored
after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from garmaxctl.aws import error_code
from garmaxctl.services.idle.kinds.base import Attr, ResourceKind, Value, WarmUp
from garmaxctl.shared import contract

if TYPE_CHECKING:
    from garmaxctl.services.idle.context import Context

WEBHOOK_FUNCTION = str(contract.Function.STRIPE_WEBHOOK)
UNSET = None  # reserved concurrency unset (not the same as 0)


class ProvisionedConfig(TypedDict):
    qualifier: str  # the alias or version
    count: int


@dataclass
class FunctionRecord:
    role: str  # ingress | consumer | keep
    reserved: int | None  # None: unset
    provisioned: list[ProvisionedConfig] | None = None  # None: not read (kept, unsupported)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "reserved": self.reserved}
        if self.provisioned is not None:
            data["provisioned"] = self.provisioned
        return data


def _pattern(stage: str) -> re.Pattern[str]:
    return re.compile(rf"^GarmaxAi-(?P<fn>[A-Za-z0-9]+)-{re.escape(stage)}$")


def stage_functions(ctx: Context) -> list[str]:
    """The stage's function names, sorted (one ``ListFunctions`` per discovery)."""
    pattern = _pattern(ctx.stage)
    return ctx.memo("functions", lambda: sorted(
        f["FunctionName"] for f in ctx.paginate("lambda", "list_functions", "Functions")
        if pattern.match(f["FunctionName"])))


def sqs_mappings(ctx: Context, name: str) -> list[dict[str, Any]]:
    """The function's SQS event source mappings (shared with the ``mappings`` kind)."""
    return ctx.memo(("mappings", name), lambda: [
        m for m in ctx.paginate("lambda", "list_event_source_mappings", "EventSourceMappings",
                                FunctionName=name)
        if ":sqs:" in m.get("EventSourceArn", "")])


def read_provisioned(ctx: Context, name: str) -> list[ProvisionedConfig] | None:
    """Provisioned concurrency configs, or None where the target lacks the API."""
    if ctx.provisioned_supported is False:
        return None
    try:
        configs = ctx.paginate("lambda", "list_provisioned_concurrency_configs",
                               "ProvisionedConcurrencyConfigs", FunctionName=name)
    except Exception as exc:
        if "not yet implemented" in str(exc).lower() or \
                error_code(exc) in ("404", "NotImplemented", "UnknownOperationException"):
            ctx.provisioned_supported = False
            return None
        raise
    ctx.provisioned_supported = True
    return [{"qualifier": c["FunctionArn"].rsplit(":", 1)[-1],
             "count": c["RequestedProvisionedConcurrentExecutions"]} for c in configs]


class Functions(ResourceKind):
    section = "functions"
    groups = ("ingress", "consumers")

    def load(self, data: dict[str, Any]) -> FunctionRecord:
        return FunctionRecord(role=data["role"], reserved=data["reserved"],
                              provisioned=data.get("provisioned"))

    def discover(self, ctx: Context) -> dict[str, FunctionRecord]:
        found: dict[str, FunctionRecord] = {}
        lam = ctx.client("lambda")
        pattern = _pattern(ctx.stage)
        for name in stage_functions(ctx):
            mappings = sqs_mappings(ctx, name)
            logical = pattern.match(name).group("fn")  # type: ignore[union-attr]
            role = "keep" if logical == WEBHOOK_FUNCTION else \
                "consumer" if mappings else "ingress"
            record = FunctionRecord(role=role, reserved=lam.get_function_concurrency(
                FunctionName=name).get("ReservedConcurrentExecutions", UNSET))
            if role != "keep":
                record.provisioned = read_provisioned(ctx, name)
            found[name] = record
        return found

    def attributes(self, records: dict[str, FunctionRecord]) -> list[Attr]:
        attrs = []
        for name, fn in records.items():
            if fn.role == "keep":
                continue
            group = "ingress" if fn.role == "ingress" else "consumers"
            if fn.provisioned:
                attrs.append(self.attr(group, "provisioned", name, fn, fn.provisioned, []))
            attrs.append(self.attr(group, "reserved", name, fn, fn.reserved, 0))
        return attrs

    def read(self, ctx: Context, attr: Attr) -> Value:
        if attr.kind == "provisioned":
            return read_provisioned(ctx, attr.resource) or []
        return ctx.client("lambda").get_function_concurrency(FunctionName=attr.resource).get(
            "ReservedConcurrentExecutions", UNSET)

    def write(self, ctx: Context, attr: Attr, value: Value) -> str:
        lam, name = ctx.client("lambda"), attr.resource
        if attr.kind == "reserved":
            if value is UNSET:
                lam.delete_function_concurrency(FunctionName=name)
                return "reserved concurrency unset"
            lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=value)
            return f"reserved concurrency {value}"
        wanted = {c["qualifier"]: c["count"] for c in value}
        for config in read_provisioned(ctx, name) or []:
            if config["qualifier"] not in wanted:
                lam.delete_provisioned_concurrency_config(FunctionName=name,
                                                          Qualifier=config["qualifier"])
        for qualifier, count in wanted.items():
            lam.put_provisioned_concurrency_config(
                FunctionName=name, Qualifier=qualifier, ProvisionedConcurrentExecutions=count)

            def ready(q: str = qualifier) -> bool:
                return bool(lam.get_provisioned_concurrency_config(
                    FunctionName=name, Qualifier=q)["Status"] == "READY")

            ctx.wait(ready, ctx.timeouts.provisioned,
                     f"provisioned concurrency of {name}:{qualifier}")
        return f"provisioned concurrency {value or 'none'}"

    def kept_running(self, records: dict[str, FunctionRecord]) -> list[str]:
        return [name for name, fn in records.items() if fn.role == "keep"]

    def warm(self, attr: Attr) -> WarmUp | None:
        if attr.kind != "reserved" or attr.recorded == 0:
            return None
        record: FunctionRecord = attr.record
        return WarmUp(attr.resource, "sqs" if record.role == "consumer" else "http")

    def wake(self, records: dict[str, FunctionRecord]) -> list[str]:
        return self.kept_running(records)
