"""Cost Explorer requests, cached on disk, counted and capped.

Every Cost Explorer API request is billed ($0.01 each, every page of a paginated answer
too). So each request's answer is kept under the state directory for 6 hours, keyed by
the request (operation, parameters, page token) and where it went (stage, profile,
region, endpoint); a request answered from the cache costs nothing and is not counted.
``--refresh`` bypasses the cache (and refills it). ``--max-api-spend`` caps what one run
may spend: a run whose uncached first pages would cost more is refused before any
request is made, and a further page that would cross the cap stops the run (exit 2,
code ``api_spend_limit``). The clock is injectable, so the 6 hours are tested without
waiting.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from garmaxctl.shared.errors import AwsError, UsageError

if TYPE_CHECKING:
    from garmaxctl.stage.target import StageTarget

REQUEST_USD = 0.01  # every Cost Explorer API request, each page included
CACHE_TTL = dt.timedelta(hours=6)
DEFAULT_MAX_API_SPEND_USD = 0.05
CACHE_FOLDER = "cost-explorer"
CACHE_SCHEMA = 1

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class ApiUsage:
    """What this run asked Cost Explorer for: ``requests`` billed ($0.01 each),
    ``cached`` answered from the disk cache, and the run's cap."""

    requests: int = 0
    cached: int = 0
    max_usd: float = DEFAULT_MAX_API_SPEND_USD

    @property
    def cost_usd(self) -> float:
        return round(self.requests * REQUEST_USD, 2)

    def footer(self) -> str:
        return (f"Cost Explorer API: {self.requests} request(s) ${self.cost_usd:.2f} "
                f"($0.01 each), {self.cached} from cache (6 h); cap "
                f"${self.max_usd:.2f} a run")


def _cents(usd: float) -> int:
    return round(usd * 100)


class CostExplorer:
    """The run's Cost Explorer: ``call(operation, params)`` answers from the cache or
    AWS, all pages merged by the caller through ``pages``."""

    def __init__(self, target: StageTarget, *, refresh: bool = False,
                 max_api_spend_usd: float = DEFAULT_MAX_API_SPEND_USD,
                 clock: Clock | None = None, cache_dir: Path | None = None) -> None:
        if max_api_spend_usd < 0:
            raise UsageError("--max-api-spend cannot be negative", code="api_spend_limit")
        self.target = target
        self.refresh = refresh
        self.clock = clock or _utcnow
        self.usage = ApiUsage(max_usd=max_api_spend_usd)
        self._lock = threading.Lock()
        if cache_dir is None:
            from garmaxctl.settings import state_dir

            cache_dir = state_dir() / CACHE_FOLDER
        self.cache_dir = cache_dir

    # ------------------------------------------------------------------ the cache

    def _key(self, operation: str, params: dict[str, Any]) -> str:
        aws = self.target.aws
        where = {"stage": self.target.name, "profile": aws.profile, "region": aws.region,
                 "endpoint": aws.endpoint_url}
        text = json.dumps({"operation": operation, "params": params, "target": where},
                          sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.cache_dir / f"{key}.json"

    def cached(self, operation: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The cached answer to this exact request if younger than 6 hours."""
        if self.refresh:
            return None
        path = self._path(self._key(operation, params))
        try:
            entry = json.loads(path.read_text())
            saved = dt.datetime.fromisoformat(entry["saved_at"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        age = self.clock() - saved
        if entry.get("schema") != CACHE_SCHEMA or not dt.timedelta(0) <= age < CACHE_TTL:
            return None
        response = entry.get("response")
        return response if isinstance(response, dict) else None

    def _store(self, operation: str, params: dict[str, Any], response: dict[str, Any]) -> None:
        path = self._path(self._key(operation, params))
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"schema": CACHE_SCHEMA, "saved_at": self.clock().isoformat(),
                 "operation": operation, "response": response}
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(entry, default=str))
        tmp.replace(path)

    # ------------------------------------------------------------------ the cap

    def require(self, requests: list[tuple[str, dict[str, Any]]]) -> int:
        """Refuse the run before any request when its uncached first pages alone would
        cost more than the cap; returns how many requests they are."""
        needed = sum(1 for operation, params in requests
                     if self.cached(operation, params) is None)
        self._check(needed, what=f"this run needs {needed} Cost Explorer request(s)")
        return needed

    def _check(self, more: int, *, what: str) -> None:
        spend = _cents((self.usage.requests + more) * REQUEST_USD)
        if more and spend > _cents(self.usage.max_usd):
            raise UsageError(
                f"{what} (${spend / 100:.2f} at $0.01 each), more than --max-api-spend "
                f"${self.usage.max_usd:.2f}", code="api_spend_limit",
                hint="raise --max-api-spend, or run again within 6 hours of a run that "
                     "filled the cache (without --refresh)")

    # ------------------------------------------------------------------ requests

    def call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """One request's answer (``operation`` in snake case), from the cache or AWS."""
        with self._lock:
            hit = self.cached(operation, params)
            if hit is not None:
                self.usage.cached += 1
                return hit
            self._check(1, what="one more Cost Explorer page")
            self.usage.requests += 1
        response = self._request(operation, params)
        response.pop("ResponseMetadata", None)
        self._store(operation, params, response)
        return response

    def _request(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        client = self.target.client("ce")
        try:
            return dict(getattr(client, operation)(**params))
        except ClientError as exc:
            from garmaxctl.aws import describe_error

            code = exc.response.get("Error", {}).get("Code", "")
            if code == "DataUnavailableException":
                raise DataUnavailable(describe_error(exc).line()) from exc
            hint = None
            if code == "AccessDeniedException":
                hint = "the caller needs ce:GetCostAndUsage and ce:GetCostForecast"
            raise AwsError(f"Cost Explorer: {describe_error(exc).line()}", hint=hint) from exc

    def pages(self, operation: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every page of a paginated answer (``NextPageToken``), each page a request."""
        answers: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page_params = dict(params, NextPageToken=token) if token else params
            answer = self.call(operation, page_params)
            answers.append(answer)
            token = answer.get("NextPageToken")
            if not token:
                return answers


class DataUnavailable(Exception):
    """Cost Explorer has no data for the request (a forecast without enough history)."""
