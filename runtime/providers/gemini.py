"""Gemini (HTTP API, ``generateContent`` with an image model): image bytes inline."""

from __future__ import annotations

import base64
import json

from runtime.providers.base import (
    COSTS,
    PermanentProviderError,
    RenderInput,
    RenderOutput,
    TransientProviderError,
    classify_status,
)
from runtime.providers.http import Transport, urllib_transport

DEFAULT_ENDPOINT = "https://generativelanguage.googleapis.com"
DEFAULT_MODEL = "gemini-2.5-flash-image"


class GeminiProvider:
    name = "gemini"

    def __init__(self, api_key: str, *, endpoint: str = DEFAULT_ENDPOINT,
                 model: str = DEFAULT_MODEL, transport: Transport = urllib_transport) -> None:
        self._api_key = api_key
        self._endpoint = endpoint.rstrip("/")
        self._model = model
        self._transport = transport

    def __repr__(self) -> str:  # never show the key
        return f"GeminiProvider(endpoint={self._endpoint!r}, model={self._model!r})"

    def estimate_cost(self, quality: str) -> float:
        return COSTS[self.name][quality]

    def render(self, request: RenderInput, *, timeout_s: float) -> RenderOutput:
        parts: list[dict] = [{"text": f"{request.prompt} Output quality: {request.quality}."}]
        if request.preview_png:
            parts.append({"inline_data": {"mime_type": "image/png",
                                          "data": base64.b64encode(request.preview_png).decode()}})
        body = {"contents": [{"role": "user", "parts": parts}],
                "generationConfig": {"responseModalities": ["IMAGE"]}}
        # The key travels in a header, never in the URL (URLs end up in error messages).
        headers = {"x-goog-api-key": self._api_key, "Content-Type": "application/json"}
        url = f"{self._endpoint}/v1beta/models/{self._model}:generateContent"
        try:
            response = self._transport("POST", url, headers, json.dumps(body).encode(),
                                       timeout_s)
        except TransientProviderError as exc:
            raise TransientProviderError(self.name, str(exc).split(": ", 1)[-1]) from exc
        if response.status >= 300:
            raise classify_status(self.name, response.status)
        try:
            data = response.json()
        except ValueError:
            raise TransientProviderError(self.name, "unreadable response") from None
        for candidate in (data or {}).get("candidates") or []:
            for part in (candidate.get("content") or {}).get("parts") or []:
                inline = part.get("inlineData") or part.get("inline_data")
                if inline and inline.get("data"):
                    return RenderOutput(
                        provider=self.name, image=base64.b64decode(inline["data"]),
                        content_type=inline.get("mimeType") or inline.get("mime_type")
                        or "image/png",
                        cost_usd=self.estimate_cost(request.quality), model=self._model)
        reason = ((data or {}).get("promptFeedback") or {}).get("blockReason")
        raise PermanentProviderError(self.name, f"no image in response ({reason or 'empty'})")
