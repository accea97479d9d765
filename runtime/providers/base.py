"""The render provider interface, its errors and the per-quality cost table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Estimated USD per render, reserved on the ledger before the provider is called.
COSTS: dict[str, dict[str, float]] = {
    "local": {"sd": 0.001, "hd": 0.002, "4k": 0.004},
    "replicate": {"sd": 0.01, "hd": 0.025, "4k": 0.05},
    "gemini": {"sd": 0.02, "hd": 0.04, "4k": 0.08},
    "bedrock": {"sd": 0.04, "hd": 0.08, "4k": 0.12},
}

# Output edge in pixels per quality for providers that take a size.
SIZES: dict[str, int] = {"sd": 512, "hd": 1024, "4k": 2048}

PROMPT = ("Photorealistic virtual try-on: dress the person in the first image in the garment "
          "of the second, keeping pose, body shape and background.")


@dataclass(frozen=True)
class RenderInput:
    render_id: str
    user_id: str
    session_id: str
    quality: str
    avatar_ref: str
    garment_ref: str
    preview_png: bytes | None = None  # the try-on preview, for providers that take bytes
    preview_url: str | None = None  # a presigned URL of the preview, for URL-based APIs
    prompt: str = PROMPT


@dataclass(frozen=True)
class RenderOutput:
    provider: str
    image: bytes
    content_type: str
    cost_usd: float
    model: str = ""


class ProviderError(Exception):
    transient = False

    def __init__(self, provider: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.status = status


class TransientProviderError(ProviderError):
    """Timeout, connection error, 429, 5xx: try the next provider (or later)."""

    transient = True


class PermanentProviderError(ProviderError):
    """The request itself is wrong (4xx other than 429, a failed prediction): no failover."""


class RenderProvider(Protocol):
    name: str

    def estimate_cost(self, quality: str) -> float: ...

    def render(self, request: RenderInput, *, timeout_s: float) -> RenderOutput: ...


def classify_status(provider: str, status: int, detail: str = "") -> ProviderError:
    message = f"HTTP {status}" + (f": {detail[:200]}" if detail else "")
    if status == 429 or status >= 500 or status == 408:
        return TransientProviderError(provider, message, status=status)
    return PermanentProviderError(provider, message, status=status)
