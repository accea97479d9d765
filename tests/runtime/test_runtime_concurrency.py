"""Quotas and the spend ledger hold exactly under concurrent load.

moto does not serialise conditional writes to one item the way DynamoDB guarantees (two
threads can both pass ``used < 20`` against the same old value). The
``serialized_dynamodb`` fixture puts a lock around moto's write operations to model that
DynamoDB guarantee; the runtime's requests are unchanged, and the conditions they carry
are what keeps the limits.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from rt_helpers import USER, call_api, ready_session

from runtime.config import load_budgets, load_config
from runtime.deps import Deps
from runtime.domain import budget, renders
from runtime.domain.clock import day_of, utcnow
from runtime.domain.errors import BudgetExhausted, QuotaExceeded
from runtime.domain.models import RenderRequest


def test_50_threads_submitting_renders_get_exactly_the_daily_quota(stack, serialized_dynamodb):
    stack.put_param("quotas/max-renders-per-user-daily", "20")
    stack.put_param("quotas/max-concurrent-renders-per-user", "1000")  # out of the way
    session_id = ready_session(stack)
    request = RenderRequest(sessionId=session_id, quality="sd")

    def submit(_: int) -> str:
        try:
            renders.submit_render(Deps(config=load_config()), USER, request)
            return "accepted"
        except QuotaExceeded as exc:
            return exc.code

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(submit, range(50)))

    assert outcomes.count("accepted") == 20
    assert outcomes.count("quota_exceeded") == 30
    assert len(stack.scan("RenderJobs")) == 20
    assert len(stack.receive("Render")) == 20
    day = day_of(utcnow())
    assert stack.item("Quotas", pk=f"RENDER#{USER}#{day}")["used"] == 20
    assert stack.item("Quotas", pk=f"ACTIVE#{USER}")["used"] == 20


@pytest.mark.parametrize(("cost", "accepted", "final"), [
    # Accepted while the ledger was below 100: 0, 7, ..., 98 -> 15 renders, ledger 105.
    (7.0, 15, 105.0),
    # Landing exactly on the budget: 20 x 5 = 100, and the 21st is refused.
    (5.0, 20, 100.0),
])
def test_concurrent_spend_stops_exactly_when_the_ledger_reaches_the_budget(
        stack, serialized_dynamodb, cost, accepted, final):
    stack.put_param("budget/daily-usd", "100")
    config = load_config()
    budgets = load_budgets(config)
    day = day_of(utcnow())
    table = stack.table("BudgetLedger")

    def reserve(_: int) -> str:
        try:
            budget.reserve_spend(stack.ddb, table, "LOCAL", day, "replicate", cost, budgets)
            return "accepted"
        except BudgetExhausted:
            return "refused"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(reserve, range(50)))

    assert outcomes.count("accepted") == accepted
    state = budget.breaker_state(table, "LOCAL", day, stack.ddb, budgets)
    assert state.spent_usd == final and state.renders == accepted
    assert state.spent_usd - cost < budgets.daily_usd  # the last one started below 100%
    assert state.level is budget.BreakerLevel.OPEN
    assert state.provider("replicate").spent_usd == final

    # Once the ledger has reached the budget, nothing more is accepted, by either path.
    with ThreadPoolExecutor(max_workers=10) as pool:
        assert set(pool.map(reserve, range(10))) == {"refused"}
    session_id = ready_session(stack)
    status, body = call_api("POST", "/api/render", {"sessionId": session_id, "quality": "sd"})
    assert (status, body["code"]) == (503, "budget_breaker_open")
    after = budget.breaker_state(table, "LOCAL", day, stack.ddb, budgets)
    assert after.spent_usd == final
