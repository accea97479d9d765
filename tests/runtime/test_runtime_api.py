"""The Api function: routes, validation, identity, refusals and rollbacks (moto-backed)."""

from __future__ import annotations

import json
import os

import pytest
from rt_helpers import OTHER_USER, USER, call_api, create_session, load_event, ready_session

from runtime.testing import LambdaContext


def test_health_answers_stage_version_and_timestamp_from_a_real_shaped_event(stack):
    from runtime.handlers import api

    response = api.lambda_handler(load_event("api_gateway_rest_event.json"), LambdaContext())
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert body["status"] == "ok" and body["stage"] == "LOCAL"
    assert body["version"] == "1.2.3-test" and body["timestamp"].endswith("Z")


def test_health_needs_no_caller(stack):
    assert call_api("GET", "/api/health", user=None)[0] == 200


def test_storage_health_lists_every_dependency_with_latency(stack):
    status, body = call_api("GET", "/api/health/storage")
    assert status == 200 and body["status"] == "ok"
    kinds = {(c["kind"], c["name"]) for c in body["checks"]}
    assert ("table", "Sessions") in kinds and ("table", "Idempotency") in kinds
    assert ("bucket", "Renders") in kinds and ("queue", "Billing") in kinds
    assert all(c["ok"] and c["latencyMs"] >= 0 for c in body["checks"])


def test_storage_health_is_503_naming_the_missing_table(stack):
    stack.ddb.delete_table(TableName=stack.table("Quotas"))
    status, body = call_api("GET", "/api/health/storage")
    assert status == 503 and body["status"] == "degraded"
    bad = [c for c in body["checks"] if not c["ok"]]
    assert [c["name"] for c in bad] == ["Quotas"]
    assert bad[0]["error"] == "ResourceNotFoundException"


def test_storage_health_reports_unconfigured_resources(stack, monkeypatch):
    monkeypatch.delenv("RENDERS_BUCKET")
    status, body = call_api("GET", "/api/health/storage")
    assert status == 503
    renders = next(c for c in body["checks"] if c["name"] == "Renders")
    assert renders == {**renders, "ok": False, "error": "not_configured"}


def test_create_session_stores_queues_and_counts_it(stack):
    status, body = call_api("POST", "/api/tryon/sessions", load_event("api_create_session.json"))
    assert status == 201 and body["status"] == "queued"
    item = stack.item("Sessions", pk=f"SESSION#{body['sessionId']}")
    assert item["userId"] == USER and item["avatarKey"] == f"users/{USER}/avatars/me.png"
    messages = stack.receive("Tryon")
    assert [json.loads(m["Body"]) for m in messages] == [
        {"sessionId": body["sessionId"], "userId": USER}]
    assert stack.scan("Quotas")[0]["used"] == 1


@pytest.mark.parametrize(("body", "status", "code"), [
    (None, 400, "missing_body"),
    ("{not json", 400, "malformed_json"),
    ("[1, 2]", 400, "malformed_json"),
    ("[" * 5000 + "]" * 5000, 400, "malformed_json"),  # deeper than the parser goes
    ({"garmentUrl": "https://e.com/g.png"}, 422, "validation_error"),
    ({"avatarUrl": "https://e.com/a.png", "avatarKey": "a.png",
      "garmentUrl": "https://e.com/g.png"}, 422, "validation_error"),
    ({"avatarUrl": "https://e.com/a.png", "garmentUrl": "https://e.com/g.png",
      "quality": "8k"}, 422, "validation_error"),
    ({"avatarKey": "../other-user/a.png", "garmentUrl": "https://e.com/g.png"},
     422, "validation_error"),
    ({"avatarUrl": "ftp://e.com/a.png", "garmentUrl": "https://e.com/g.png"},
     422, "validation_error"),
    ({"avatarUrl": "https://e.com/a.png", "garmentUrl": "https://e.com/g.png",
      "userId": "someone-else"}, 422, "validation_error"),
])
def test_invalid_session_bodies_get_their_code_and_write_nothing(stack, body, status, code):
    got_status, answer = call_api("POST", "/api/tryon/sessions", body)
    assert (got_status, answer["code"]) == (status, code)
    assert answer["message"]
    assert stack.scan("Sessions") == [] and stack.scan("Quotas") == []
    assert stack.receive("Tryon") == []


def test_validation_errors_name_the_fields_without_echoing_input(stack):
    status, answer = call_api("POST", "/api/tryon/sessions",
                              {"avatarUrl": "https://e.com/a.png",
                               "garmentUrl": "https://e.com/g.png", "quality": "SECRETISH"})
    assert status == 422
    assert answer["details"][0]["field"] == "quality"
    assert "SECRETISH" not in json.dumps(answer)


def test_missing_caller_is_401_and_body_identity_is_never_used(stack):
    status, answer = call_api("POST", "/api/tryon/sessions",
                              {"avatarUrl": "https://e.com/a.png",
                               "garmentUrl": "https://e.com/g.png"}, user=None)
    assert (status, answer["code"]) == (401, "unauthorized")
    assert stack.scan("Sessions") == []


def test_unknown_route_is_a_json_404(stack):
    status, answer = call_api("GET", "/api/nope")
    assert (status, answer["code"]) == (404, "route_not_found")


def test_get_session_is_only_visible_to_its_owner(stack):
    session_id = create_session(stack)
    status, body = call_api("GET", f"/api/tryon/sessions/{session_id}")
    assert status == 200 and body["sessionId"] == session_id and body["status"] == "queued"
    status, body = call_api("GET", f"/api/tryon/sessions/{session_id}", user=OTHER_USER)
    assert (status, body["code"]) == (404, "session_not_found")
    status, body = call_api("GET", "/api/tryon/sessions/not-an-id")
    assert (status, body["code"]) == (404, "session_not_found")


def test_tryon_daily_quota_refuses_with_429(stack):
    stack.put_param("quotas/max-tryons-per-user-daily", "2")
    create_session(stack)
    create_session(stack)
    status, answer = call_api("POST", "/api/tryon/sessions",
                              {"avatarUrl": "https://e.com/a.png",
                               "garmentUrl": "https://e.com/g.png"})
    assert (status, answer["code"]) == (429, "quota_exceeded")
    assert len(stack.scan("Sessions")) == 2 and len(stack.receive("Tryon")) == 2


def test_session_that_cannot_be_queued_is_rolled_back(stack, monkeypatch):
    monkeypatch.setenv("TRYON_QUEUE_URL", stack.queues["Tryon"] + "-missing")
    status, answer = call_api("POST", "/api/tryon/sessions",
                              {"avatarUrl": "https://e.com/a.png",
                               "garmentUrl": "https://e.com/g.png"})
    assert (status, answer["code"]) == (503, "enqueue_failed")
    assert stack.scan("Sessions") == []
    assert all(q["used"] == 0 for q in stack.scan("Quotas"))


def test_missing_table_configuration_is_a_500_with_a_code(stack, monkeypatch):
    monkeypatch.delenv("SESSIONS_TABLE")
    status, answer = call_api("POST", "/api/tryon/sessions",
                              {"avatarUrl": "https://e.com/a.png",
                               "garmentUrl": "https://e.com/g.png"})
    assert (status, answer["code"]) == (500, "not_configured")
    assert "SESSIONS_TABLE" in answer["message"]


# --------------------------------------------------------------------------- render

def test_render_is_accepted_with_202_and_routed_to_the_render_queue(stack):
    session_id = ready_session(stack)
    status, body = call_api("POST", "/api/render", {"sessionId": session_id, "quality": "4k"})
    assert status == 202 and body["status"] == "queued"
    [message] = stack.receive("Render")
    event = json.loads(message["Body"])
    assert (event["source"], event["detail-type"]) == ("garmaxai.render", "RenderRequested")
    assert event["detail"] == {"renderId": body["renderId"], "sessionId": session_id,
                               "userId": USER, "quality": "4k"}
    status, got = call_api("GET", f"/api/render/{body['renderId']}")
    assert status == 200 and got["status"] == "queued"
    assert call_api("GET", f"/api/render/{body['renderId']}", user=OTHER_USER)[0] == 404


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"sessionId": "0" * 32}, 422, "validation_error"),
    ({"quality": "hd"}, 422, "validation_error"),
    ({"sessionId": "0" * 32, "quality": "uhd"}, 422, "validation_error"),
    ("nope", 400, "malformed_json"),
    ({"sessionId": "0" * 32, "quality": "hd"}, 404, "session_not_found"),
])
def test_render_refusals_write_nothing(stack, body, status, code):
    got_status, answer = call_api("POST", "/api/render", body)
    assert (got_status, answer["code"]) == (status, code)
    assert stack.scan("RenderJobs") == [] and stack.scan("Quotas") == []


def test_render_of_a_session_not_ready_is_409(stack):
    session_id = create_session(stack)
    status, answer = call_api("POST", "/api/render", {"sessionId": session_id, "quality": "hd"})
    assert (status, answer["code"]) == (409, "session_not_ready")
    assert stack.scan("RenderJobs") == []


def test_render_of_another_users_session_is_404(stack):
    session_id = ready_session(stack)
    status, answer = call_api("POST", "/api/render", {"sessionId": session_id, "quality": "hd"},
                              user=OTHER_USER)
    assert (status, answer["code"]) == (404, "session_not_found")


def test_concurrent_render_limit_is_429_with_its_own_code(stack):
    session_id = ready_session(stack)
    for _ in range(3):
        assert call_api("POST", "/api/render", {"sessionId": session_id, "quality": "sd"})[0] == 202
    status, answer = call_api("POST", "/api/render", {"sessionId": session_id, "quality": "sd"})
    assert (status, answer["code"]) == (429, "concurrent_limit")
    assert len(stack.scan("RenderJobs")) == 3


def test_render_that_cannot_be_published_is_rolled_back(stack, monkeypatch):
    session_id = ready_session(stack)
    monkeypatch.setenv("EVENT_BUS_NAME", "no-such-bus")
    status, answer = call_api("POST", "/api/render", {"sessionId": session_id, "quality": "hd"})
    assert (status, answer["code"]) == (503, "enqueue_failed")
    assert stack.scan("RenderJobs") == []
    render_quotas = [q for q in stack.scan("Quotas") if not q["pk"].startswith("TRYON#")]
    assert render_quotas and all(q["used"] == 0 for q in render_quotas)


def test_a_request_with_no_metric_writes_no_warning_to_the_log(tmp_path) -> None:
    """A health check records no metric; its log holds no Powertools warning line."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    script = (
        "import json, os\n"
        "os.environ.update(POWERTOOLS_TRACE_DISABLED='1', STAGE='LOCAL')\n"
        "from runtime.handlers import api\n"
        "from runtime.testing import LambdaContext\n"
        "from pathlib import Path\n"
        "event = json.loads(Path('tests/runtime/events/api_gateway_rest_event.json').read_text())\n"
        "print(api.lambda_handler(event, LambdaContext())['statusCode'])\n")
    done = subprocess.run([sys.executable, "-W", "default", "-c", script], cwd=root,
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"})
    assert done.stdout.strip().splitlines()[-1] == "200", done.stderr
    assert "Warning" not in done.stderr, done.stderr
