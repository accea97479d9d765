"""Replicate (HTTP API): create a prediction, wait for it, download the output."""

from __future__ import annotations

import json
import time

from runtime.providers.base import (
    COSTS,
    PermanentProviderError,
    RenderInput,
    RenderOutput,
    TransientProviderError,
    classify_status,
)
from runtime.providers.http import HttpResponse, Transport, urllib_transport

DEFAULT_BASE_URL = "https://api.replicate.com"
DEFAULT_MODEL = "black-forest-labs/flux-kontext-pro"


class ReplicateProvider:
    name = "replicate"

    def __init__(self, api_key: str, *, base_url: str = DEFAULT_BASE_URL,
                 model: str = DEFAULT_MODEL, transport: Transport = urllib_transport,
                 poll_interval_s: float = 1.0) -> None:
        self._api_key = api_key
        self._base_url = base_url.rstrip("/")
        self._model = model
        self._transport = transport
        self._poll_interval_s = poll_interval_s

    def __repr__(self) -> str:  # never show the key
        return f"ReplicateProvider(base_url={self._base_url!r}, model={self._model!r})"

    def estimate_cost(self, quality: str) -> float:
        return COSTS[self.name][quality]

    def _call(self, method: str, url: str, body: dict | None, timeout: float) -> HttpResponse:
        headers = {"Authorization": f"Bearer {self._api_key}",
                   "Content-Type": "application/json", "Accept": "application/json"}
        if method == "POST":
            headers["Prefer"] = f"wait={max(1, min(60, int(timeout)))}"
        try:
            return self._transport(method, url, headers,
                                   json.dumps(body).encode() if body is not None else None,
                                   timeout)
        except TransientProviderError as exc:
            raise TransientProviderError(self.name, str(exc).split(": ", 1)[-1]) from exc

    def render(self, request: RenderInput, *, timeout_s: float) -> RenderOutput:
        deadline = time.monotonic() + timeout_s
        payload = {"input": {"prompt": request.prompt, "output_format": "png",
                             "input_image": request.preview_url or request.avatar_ref,
                             "garment_image": request.garment_ref}}
        response = self._call("POST", f"{self._base_url}/v1/models/{self._model}/predictions",
                              payload, timeout_s)
        if response.status >= 300:
            raise classify_status(self.name, response.status)
        prediction = _json(self.name, response)
        while prediction.get("status") in ("starting", "processing"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransientProviderError(self.name, "prediction did not finish in time")
            time.sleep(min(self._poll_interval_s, remaining))
            get_url = (prediction.get("urls") or {}).get("get")
            if not get_url:
                raise PermanentProviderError(self.name, "prediction has no status URL")
            polled = self._call("GET", get_url, None, max(1.0, deadline - time.monotonic()))
            if polled.status >= 300:
                raise classify_status(self.name, polled.status)
            prediction = _json(self.name, polled)
        if prediction.get("status") != "succeeded":
            raise PermanentProviderError(self.name,
                                         f"prediction {prediction.get('status', 'unknown')}")
        output = prediction.get("output")
        url = output[0] if isinstance(output, list) and output else output
        if not isinstance(url, str):
            raise PermanentProviderError(self.name, "prediction has no output")
        image = self._call("GET", url, None, max(1.0, deadline - time.monotonic()))
        if image.status >= 300:
            raise classify_status(self.name, image.status)
        return RenderOutput(provider=self.name, image=image.body,
                            content_type=image.headers.get("Content-Type", "image/png"),
                            cost_usd=self.estimate_cost(request.quality), model=self._model)


def _json(provider: str, response: HttpResponse) -> dict:
    try:
        data = response.json()
    except ValueError:
        raise TransientProviderError(provider, "unreadable response") from None
    if not isinstance(data, dict):
        raise TransientProviderError(provider, "unexpected response")
    return data
