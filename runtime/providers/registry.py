"""Build a provider by name with its secrets from Parameter Store (``None`` if unusable)."""

from __future__ import annotations

import threading
from typing import Any

from botocore.config import Config

from garmaxctl.shared.contract import PARAMS_BY_ENV_KEY
from runtime import aws
from runtime.config import RuntimeConfig, get_optional, get_secret
from runtime.domain.errors import ConfigurationError
from runtime.observability import logger
from runtime.providers.base import RenderProvider
from runtime.providers.bedrock import BedrockProvider
from runtime.providers.gemini import DEFAULT_ENDPOINT, GeminiProvider
from runtime.providers.local import LocalProvider
from runtime.providers.replicate import ReplicateProvider

_lock = threading.Lock()
_bedrock: dict[str, Any] = {}


def _bedrock_client() -> Any:
    with _lock:
        if "client" not in _bedrock:
            _bedrock["client"] = aws.make_client(
                "bedrock-runtime",
                Config(read_timeout=120, connect_timeout=5,
                       retries={"mode": "standard", "max_attempts": 2}))
        return _bedrock["client"]


def build_provider(name: str, config: RuntimeConfig) -> RenderProvider | None:
    try:
        if name == "local":
            return LocalProvider()
        if name == "replicate":
            key = get_secret(config, PARAMS_BY_ENV_KEY["REPLICATE_API_KEY"].path)
            return ReplicateProvider(key)
        if name == "gemini":
            key = get_secret(config, PARAMS_BY_ENV_KEY["GEMINI_API_KEY"].path)
            endpoint = get_optional(config, PARAMS_BY_ENV_KEY["GEMINI_API_ENDPOINT"].path)
            return GeminiProvider(key, endpoint=endpoint or DEFAULT_ENDPOINT)
        if name == "bedrock":
            return BedrockProvider(_bedrock_client())
    except ConfigurationError as exc:
        logger.warning("render provider unavailable", extra={"provider": name,
                                                              "reason": exc.message})
        return None
    logger.warning("unknown render provider", extra={"provider": name})
    return None
