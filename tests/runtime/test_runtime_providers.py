"""Render providers against a scripted HTTP server on 127.0.0.1 (never the internet),
Bedrock through botocore's Stubber, and the router's ordering rules."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from rt_helpers import Scripted

from runtime.domain.budget import BreakerLevel, BreakerState, ProviderSpend
from runtime.domain.images import png_size, seeded_png
from runtime.providers.base import (
    PermanentProviderError,
    RenderInput,
    TransientProviderError,
)
from runtime.providers.bedrock import BedrockProvider
from runtime.providers.gemini import GeminiProvider
from runtime.providers.local import LocalProvider
from runtime.providers.replicate import ReplicateProvider
from runtime.providers.router import provider_order, traffic_bucket

KEY = "r8_CANARY_provider_key"
PNG = seeded_png("provider-test", 8)
REQUEST = RenderInput(render_id="r" * 32, user_id="u1", session_id="s" * 32, quality="hd",
                      avatar_ref="https://e.com/a.png", garment_ref="https://e.com/g.png",
                      preview_png=PNG, preview_url="https://e.com/preview.png")


@pytest.fixture
def http() -> Iterator[Scripted]:
    server = Scripted()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def replicate(http: Scripted) -> ReplicateProvider:
    return ReplicateProvider(KEY, base_url=http.url, model="owner/model", poll_interval_s=0.01)


# --------------------------------------------------------------------------- replicate

def test_replicate_success_downloads_the_output(http):
    http.add(201, {"id": "p1", "status": "succeeded", "output": f"{http.url}/out.png"})
    http.add(200, PNG, {"Content-Type": "image/png"})
    out = replicate(http).render(REQUEST, timeout_s=5)
    assert out.image == PNG and out.provider == "replicate" and out.cost_usd == 0.025
    create = http.requests[0]
    assert create["path"] == "/v1/models/owner/model/predictions"
    assert create["headers"]["Authorization"] == f"Bearer {KEY}"
    assert json.loads(create["body"])["input"]["input_image"] == REQUEST.preview_url


def test_replicate_polls_until_the_prediction_finishes(http):
    http.add(201, {"id": "p1", "status": "starting", "urls": {"get": f"{http.url}/p/p1"}})
    http.add(200, {"id": "p1", "status": "processing", "urls": {"get": f"{http.url}/p/p1"}})
    http.add(200, {"id": "p1", "status": "succeeded", "output": [f"{http.url}/o.png"]})
    http.add(200, PNG, {"Content-Type": "image/png"})
    assert replicate(http).render(REQUEST, timeout_s=5).image == PNG
    assert [r["path"] for r in http.requests] == [
        "/v1/models/owner/model/predictions", "/p/p1", "/p/p1", "/o.png"]


@pytest.mark.parametrize(("status", "error"), [
    (429, TransientProviderError), (500, TransientProviderError),
    (503, TransientProviderError), (400, PermanentProviderError),
    (401, PermanentProviderError), (422, PermanentProviderError),
])
def test_replicate_http_errors_are_classified(http, status, error):
    http.add(status, {"detail": "nope"})
    with pytest.raises(error) as raised:
        replicate(http).render(REQUEST, timeout_s=5)
    assert raised.value.status == status and KEY not in str(raised.value)


def test_replicate_failed_prediction_is_permanent(http):
    http.add(201, {"id": "p1", "status": "failed", "error": "NSFW"})
    with pytest.raises(PermanentProviderError):
        replicate(http).render(REQUEST, timeout_s=5)


def test_replicate_timeout_is_transient(http):
    http.add(201, {"status": "succeeded", "output": "x"}, delay=1.0)
    with pytest.raises(TransientProviderError, match="timed out"):
        replicate(http).render(REQUEST, timeout_s=0.2)


def test_replicate_prediction_still_running_at_the_deadline_is_transient(http):
    for _ in range(20):
        http.add(200, {"status": "processing", "urls": {"get": f"{http.url}/p/1"}})
    provider = ReplicateProvider(KEY, base_url=http.url, poll_interval_s=0.05)
    with pytest.raises(TransientProviderError, match="in time"):
        provider.render(REQUEST, timeout_s=0.2)


def test_connection_refused_is_transient():
    provider = ReplicateProvider(KEY, base_url="http://127.0.0.1:9")  # discard port: closed
    with pytest.raises(TransientProviderError) as raised:
        provider.render(REQUEST, timeout_s=1)
    assert raised.value.provider == "replicate"


def test_provider_repr_never_shows_the_key():
    assert KEY not in repr(ReplicateProvider(KEY)) and KEY not in repr(GeminiProvider(KEY))


# --------------------------------------------------------------------------- gemini

def gemini(http: Scripted) -> GeminiProvider:
    return GeminiProvider(KEY, endpoint=http.url, model="img-model")


def test_gemini_returns_the_inline_image_and_keeps_the_key_out_of_the_url(http):
    http.add(200, {"candidates": [{"content": {"parts": [
        {"text": "here"}, {"inlineData": {"mimeType": "image/png",
                                          "data": base64.b64encode(PNG).decode()}}]}}]})
    out = gemini(http).render(REQUEST, timeout_s=5)
    assert out.image == PNG and out.provider == "gemini"
    sent = http.requests[0]
    assert sent["path"] == "/v1beta/models/img-model:generateContent"
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    assert KEY not in sent["path"] and headers["x-goog-api-key"] == KEY
    parts = json.loads(sent["body"])["contents"][0]["parts"]
    assert base64.b64decode(parts[1]["inline_data"]["data"]) == PNG


@pytest.mark.parametrize(("status", "error"), [
    (429, TransientProviderError), (500, TransientProviderError),
    (400, PermanentProviderError), (403, PermanentProviderError),
])
def test_gemini_http_errors_are_classified(http, status, error):
    http.add(status, {"error": {"message": "x"}})
    with pytest.raises(error):
        gemini(http).render(REQUEST, timeout_s=5)


def test_gemini_blocked_prompt_is_permanent(http):
    http.add(200, {"promptFeedback": {"blockReason": "SAFETY"}})
    with pytest.raises(PermanentProviderError, match="SAFETY"):
        gemini(http).render(REQUEST, timeout_s=5)


def test_gemini_timeout_is_transient(http):
    http.add(200, {}, delay=1.0)
    with pytest.raises(TransientProviderError):
        gemini(http).render(REQUEST, timeout_s=0.2)


# --------------------------------------------------------------------------- bedrock

@pytest.fixture
def bedrock_client():
    import boto3

    return boto3.session.Session(region_name="us-east-1").client("bedrock-runtime")


def test_bedrock_success(bedrock_client):
    body = json.dumps({"images": [base64.b64encode(PNG).decode()]}).encode()
    with Stubber(bedrock_client) as stub:
        stub.add_response("invoke_model", {
            "body": StreamingBody(io.BytesIO(body), len(body)), "contentType": "application/json"})
        out = BedrockProvider(bedrock_client).render(REQUEST, timeout_s=5)
    assert out.image == PNG and out.provider == "bedrock" and out.cost_usd == 0.08


@pytest.mark.parametrize(("code", "status", "error"), [
    ("ThrottlingException", 429, TransientProviderError),
    ("ServiceUnavailableException", 503, TransientProviderError),
    ("ModelTimeoutException", 408, TransientProviderError),
    ("ValidationException", 400, PermanentProviderError),
    ("AccessDeniedException", 403, PermanentProviderError),
])
def test_bedrock_errors_are_classified(bedrock_client, code, status, error):
    with Stubber(bedrock_client) as stub:
        stub.add_client_error("invoke_model", service_error_code=code, http_status_code=status)
        with pytest.raises(error):
            BedrockProvider(bedrock_client).render(REQUEST, timeout_s=5)


# --------------------------------------------------------------------------- local

def test_local_provider_is_deterministic_and_sized_by_quality():
    provider = LocalProvider()
    first = provider.render(REQUEST, timeout_s=1)
    assert first.image == provider.render(REQUEST, timeout_s=1).image
    assert png_size(first.image) == (128, 128)
    other = RenderInput(**{**REQUEST.__dict__, "quality": "4k"})
    assert png_size(provider.render(other, timeout_s=1).image) == (256, 256)


# --------------------------------------------------------------------------- router

def _state(level: BreakerLevel, exhausted: tuple[str, ...] = ()) -> BreakerState:
    providers = tuple(ProviderSpend(n, 10.0 if n in exhausted else 0.0,
                                    10.0, 0) for n in ("bedrock", "gemini", "replicate"))
    return BreakerState("DEV", "2026-01-01", 0, 100, 0, level, 0, providers)


def test_router_orders_and_filters_providers():
    closed, bedrock_off = _state(BreakerLevel.CLOSED), _state(BreakerLevel.BEDROCK_OFF)
    assert provider_order("local", 100, "u", closed) == ["local"]
    assert provider_order("bedrock", 0, "u", closed) == ["bedrock", "replicate", "gemini"]
    assert provider_order("bedrock", 0, "u", bedrock_off) == ["replicate", "gemini"]
    assert provider_order("replicate", 0, "u", bedrock_off) == ["replicate", "gemini"]
    assert provider_order("replicate", 0, "u", _state(BreakerLevel.CLOSED, ("replicate",))) \
        == ["gemini", "bedrock"]
    assert provider_order("replicate", 100, "u", closed)[0] == "gemini"
    assert provider_order("nonsense", 0, "u", closed)[0] == "replicate"


def test_traffic_bucket_is_stable_and_spread():
    assert traffic_bucket("user-1") == traffic_bucket("user-1")
    buckets = {traffic_bucket(f"user-{i}") for i in range(500)}
    assert min(buckets) < 10 and max(buckets) > 90
