"""Which providers a render tries, in order.

- LOCAL (``RENDER_PROVIDER=local``): ``local`` only; nothing ever leaves the machine.
- Otherwise the primary is ``RENDER_PROVIDER``, except that a stable hash of the user id
  sends ``GEMINI_TRAFFIC_PERCENT`` percent of users to ``gemini`` first; then the
  failover chain in ``FAILOVER``.
- Breaker at >= 90% (``bedrock_off``): Bedrock is replaced by Replicate.
- A provider whose own daily budget is spent is skipped.
"""

from __future__ import annotations

import hashlib

from runtime.domain.budget import BreakerState

PROVIDERS = ("local", "replicate", "gemini", "bedrock")
FAILOVER: dict[str, tuple[str, ...]] = {
    "local": (),
    "replicate": ("gemini", "bedrock"),
    "gemini": ("replicate", "bedrock"),
    "bedrock": ("replicate", "gemini"),
}


def traffic_bucket(user_id: str) -> int:
    """0..99, stable for a user across calls, processes and deployments."""
    return int(hashlib.sha256(user_id.encode()).hexdigest()[:8], 16) % 100


def provider_order(render_provider: str, gemini_traffic_percent: int, user_id: str,
                   state: BreakerState) -> list[str]:
    primary = render_provider if render_provider in FAILOVER else "replicate"
    if primary == "local":
        return ["local"]
    if gemini_traffic_percent > 0 and traffic_bucket(user_id) < gemini_traffic_percent:
        primary = "gemini"
    order: list[str] = []
    for name in (primary, *FAILOVER[primary]):
        if name == "bedrock" and not state.bedrock_enabled:
            name = "replicate"
        spend = state.provider(name)
        if spend is not None and spend.exhausted:
            continue
        if name not in order:
            order.append(name)
    return order
