"""Acceptance 1: for randomized starting states, ``down`` then ``up`` returns every attribute
to its starting value (property test on moto)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from garmaxctl.shared import contract
from tests.idle import builder
from tests.idle.conftest import DevStage

concurrency = st.one_of(st.none(), st.just(0), st.integers(min_value=1, max_value=20))


@st.composite
def services(draw: st.DrawFn, index: int) -> builder.ServiceSpec:
    desired = draw(st.integers(min_value=0, max_value=4))
    scaling = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=3).flatmap(
        lambda low: st.tuples(st.just(low), st.integers(min_value=max(low, 1), max_value=6)))))
    return builder.ServiceSpec(f"Svc{index}", desired=desired, scaling=scaling)


@st.composite
def stage_specs(draw: st.DrawFn) -> builder.StageSpec:
    functions = [
        builder.FunctionSpec("Api", reserved=draw(concurrency)),
        builder.FunctionSpec("StripeWebhook", reserved=draw(concurrency)),
    ]
    for name in ("TryonProcessor", "AiRenderProcessor", "BillingProcessor"):
        functions.append(builder.FunctionSpec(name, reserved=draw(concurrency), consumer=True,
                                              mapping_enabled=draw(st.booleans())))
    rules = {f"Rule{i}": draw(st.booleans()) for i in range(draw(st.integers(0, 4)))}
    count = draw(st.integers(min_value=0, max_value=2))
    return builder.StageSpec(
        stage="DEV", functions=functions, rules=rules,
        services=[draw(services(i)) for i in range(count)],
        clusters={contract.database_cluster_id("DEV"):
                  draw(st.sampled_from(["available", "stopped"]))},
        alarm_actions=draw(st.one_of(st.none(), st.booleans())),
        paging_alarms={name: draw(st.booleans()) for name in draw(st.lists(
            st.sampled_from(["ApiErrorRate", "LambdaErrors", "BillingDlqNotEmpty"]),
            unique=True, max_size=3))},
    )


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=stage_specs())
def test_down_then_up_returns_every_attribute_to_its_starting_value(monkeypatch, spec) -> None:
    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", builder.ACCOUNT)
    with mock_aws():
        dev = DevStage()
        dev.build(spec)
        before = dev.observe()
        down = dev.engine().down()
        assert down.ok, down
        assert dev.observe() == builder.idle_expectations(before)
        up = dev.engine().up()
        assert up.ok, up
        assert dev.observe() == before
