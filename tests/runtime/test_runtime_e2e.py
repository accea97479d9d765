"""End to end on moto, as LOCAL runs it: API -> try-on queue -> TryonProcessor -> API render
-> bus -> RenderRequested rule -> render queue -> AiRenderProcessor (``local`` provider)."""

from __future__ import annotations

from rt_helpers import USER, call_api, drain

from runtime.domain import budget
from runtime.domain.clock import day_of, utcnow
from runtime.domain.images import png_size
from runtime.handlers import render_processor, tryon_processor
from runtime.providers.base import COSTS


def test_session_to_render_end_to_end(stack):
    day = day_of(utcnow())
    status, created = call_api("POST", "/api/tryon/sessions", {
        "avatarUrl": "https://cdn.example.com/me.png",
        "garmentUrl": "https://cdn.example.com/dress.png", "quality": "hd"})
    assert status == 201 and created["status"] == "queued"
    session_id = created["sessionId"]

    assert drain(stack, "Tryon", tryon_processor.lambda_handler) == []
    status, session = call_api("GET", f"/api/tryon/sessions/{session_id}")
    assert session["status"] == "preview_ready"
    preview = stack.s3.get_object(Bucket=stack.bucket("Renders"), Key=session["previewKey"])
    assert png_size(preview["Body"].read()) == (96, 96)

    status, accepted = call_api("POST", "/api/render", {"sessionId": session_id,
                                                         "quality": "4k"})
    assert status == 202
    render_id = accepted["renderId"]
    assert stack.item("Quotas", pk=f"ACTIVE#{USER}")["used"] == 1

    assert drain(stack, "Render", render_processor.lambda_handler) == []
    status, job = call_api("GET", f"/api/render/{render_id}")
    assert status == 200
    assert (job["status"], job["provider"]) == ("completed", "local")
    assert job["renderKey"] == f"renders/{USER}/{render_id}.png"
    assert job["costUsd"] == COSTS["local"]["4k"]
    rendered = stack.s3.get_object(Bucket=stack.bucket("Renders"), Key=job["renderKey"])
    first = rendered["Body"].read()
    assert png_size(first) == (256, 256)

    # Ledger and quotas: one render charged; its concurrent slot back, its daily slot kept.
    state = budget.breaker_state(stack.table("BudgetLedger"), "LOCAL", day, stack.ddb)
    assert state.spent_usd == COSTS["local"]["4k"] and state.renders == 1
    assert state.provider("local").renders == 1
    assert stack.item("Quotas", pk=f"ACTIVE#{USER}")["used"] == 0
    assert stack.item("Quotas", pk=f"RENDER#{USER}#{day}")["used"] == 1
    assert stack.item("Quotas", pk=f"TRYON#{USER}#{day}")["used"] == 1
    assert stack.receive("Tryon") == [] and stack.receive("Render") == []

    # The local provider is deterministic: the same session and quality, the same bytes.
    status, again = call_api("POST", "/api/render", {"sessionId": session_id, "quality": "4k"})
    assert drain(stack, "Render", render_processor.lambda_handler) == []
    _, job2 = call_api("GET", f"/api/render/{again['renderId']}")
    second = stack.s3.get_object(Bucket=stack.bucket("Renders"), Key=job2["renderKey"])
    assert second["Body"].read() == first
