"""The ``local`` provider (LOCAL stage): offline and deterministic, no network at all."""

from __future__ import annotations

from runtime.domain.images import seeded_png
from runtime.providers.base import COSTS, RenderInput, RenderOutput

# Small images: the point is a real, reproducible PNG object, not pixels.
LOCAL_SIZES = {"sd": 64, "hd": 128, "4k": 256}


class LocalProvider:
    name = "local"

    def estimate_cost(self, quality: str) -> float:
        return COSTS[self.name][quality]

    def render(self, request: RenderInput, *, timeout_s: float) -> RenderOutput:
        seed = "|".join(("render", request.session_id, request.quality,
                         request.avatar_ref, request.garment_ref))
        return RenderOutput(
            provider=self.name,
            image=seeded_png(seed, LOCAL_SIZES[request.quality]),
            content_type="image/png",
            cost_usd=self.estimate_cost(request.quality),
            model="local-deterministic",
        )
