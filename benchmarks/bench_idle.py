"""``idle down`` + ``idle up`` on a moto stage of 10 functions, 10 rules, 3 ECS services
(with autoscaling targets) and 1 Aurora cluster, plus the activity alarm: wall time of each
and the AWS calls per resource (``mock_aws`` in-process: AWS latency is not measured, the
call counts are what a real stage would pay in round trips)."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import BenchResult, measure

REPEAT = 3
STAGE = "DEV"

# Which resource kind each service's calls are spent on.
KINDS = {"lambda": "functions (10)", "events": "rules (10)", "ecs": "ECS services (3)",
         "application-autoscaling": "ECS services (3)", "rds": "Aurora cluster (1)",
         "cloudwatch": "activity alarm (1)", "ssm": "snapshot + lock", "sts": "identity",
         "cloudformation": "health URL (stack outputs)"}
PER = {"functions (10)": 10, "rules (10)": 10, "ECS services (3)": 3, "Aurora cluster (1)": 1,
       "activity alarm (1)": 1}


def spec() -> Any:
    from tests.idle import builder

    functions = [builder.FunctionSpec("Api"), builder.FunctionSpec("StripeWebhook")]
    functions += [builder.FunctionSpec(name, reserved=2, consumer=True)
                  for name in ("TryonProcessor", "AiRenderProcessor", "BillingProcessor")]
    functions += [builder.FunctionSpec(f"Producer{i}", reserved=None if i % 2 else 5)
                  for i in range(1, 6)]
    return builder.StageSpec(
        stage=STAGE, functions=functions,
        rules={f"Rule{i:02d}": i % 4 != 0 for i in range(10)},
        services=[builder.ServiceSpec(f"Smpl{i}", desired=i + 1, scaling=(1, 4 + i))
                  for i in range(3)],
        clusters={"garmaxai-cluster-dev": "available"}, alarm_actions=False)


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[(model.service_model.service_name, model.name)] += 1


def run() -> BenchResult:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["GARMAX_DEV_ACCOUNT"] = "123456789012"
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    from moto import mock_aws

    from garmaxctl.aws import AwsTarget
    from garmaxctl.services.idle import IdleEngine, Timeouts
    from garmaxctl.shared.stages import get_stage_config
    from garmaxctl.stage.target import StageTarget
    from tests.idle import builder
    from tests.idle.conftest import quiet_moto

    quiet_moto()
    result = BenchResult(title="idle down + up: 10 functions, 10 rules, 3 services, "
                               "1 cluster (moto, in-process)")
    counts: dict[str, Counter[tuple[str, str]]] = {"down": Counter(), "up": Counter()}
    changes: dict[str, int] = {}
    sizes: list[int] = []
    mock = mock_aws()
    started = [False]

    def engine(counter: CallCounter) -> IdleEngine:
        aws = AwsTarget(stage=get_stage_config(STAGE))
        aws.session.events.register("before-call", counter)
        return IdleEngine(StageTarget(aws), timeouts=Timeouts(delay=0.01))

    def fresh() -> None:
        """A new, empty moto state with the stage built (not timed)."""
        if started[0]:
            mock.stop()
        mock.start(reset=True)
        started[0] = True
        builder.build(spec())

    def down() -> None:
        counter = CallCounter()
        report = engine(counter).down()
        if not report.ok:
            raise RuntimeError(f"idle down failed: {report.error}")
        counts["down"] = counter.calls
        changes["down"] = sum(step.status == "done" for step in report.steps)
        value = builder.client("ssm").get_parameter(
            Name="/garmaxai/ops/DEV/idle/snapshot")["Parameter"]["Value"]
        sizes.append(len(value.encode()))

    def up() -> None:
        counter = CallCounter()
        report = engine(counter).up(probe=False)
        if not report.ok:
            raise RuntimeError(f"idle up failed: {report.error}")
        counts["up"] = counter.calls
        changes["up"] = sum(step.status == "done" for step in report.steps)

    def down_then_up() -> None:
        down()
        up()

    try:
        result.figures.append(measure("idle down", down, repeat=REPEAT, before=fresh,
                                      note="lock, discover, snapshot, changes"))
        result.figures.append(measure("idle up", up, repeat=REPEAT,
                                      before=lambda: (fresh(), down()),
                                      note="restore, read back, warm (a real invoke)"))
        result.figures.append(measure("idle down + up", down_then_up, repeat=REPEAT,
                                      before=fresh))
    finally:
        if started[0]:
            mock.stop()
    for action in ("down", "up"):
        by_kind: Counter[str] = Counter()
        for (service, _operation), n in counts[action].items():
            by_kind[KINDS.get(service, service)] += n
        total = sum(by_kind.values())
        parts = [f"{kind}: {n}" + (f" ({n / PER[kind]:.1f} per resource)" if kind in PER
                                   else "") for kind, n in sorted(by_kind.items())]
        result.notes.append(f"AWS calls, {action} ({changes[action]} changes): {total} — "
                            + "; ".join(parts))
    result.notes.append(f"snapshot size: {max(sizes)} bytes (Standard tier up to 4096, "
                        "Advanced up to 8192)")
    return result


def main() -> None:
    from benchmarks.__main__ import render

    print(render(run()))


if __name__ == "__main__":
    main()
