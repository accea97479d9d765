"""The one HTTP helper: every call garmaxctl makes to the platform's API goes through it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT_S = 10.0


@dataclass
class HttpAnswer:
    status: int | None
    body: Any
    latency_ms: float
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def http_call(url: str, *, method: str = "GET", body: bytes | None = None,
              headers: dict[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT_S,
              context: Any = None) -> HttpAnswer:
    """One HTTP request; the answer's JSON body parsed when it is JSON. Never raises for
    an HTTP status: a connection failure is ``status=None`` with ``error``."""
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Accept": "application/json", **(headers or {})})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            status, raw = response.status, response.read()
            answer_headers = dict(response.headers.items())
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
        answer_headers = dict(error.headers.items()) if error.headers else {}
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return HttpAnswer(status=None, body=None,
                          latency_ms=round((time.perf_counter() - started) * 1000, 1),
                          error=f"{type(reason).__name__}: {reason}"[:200])
    latency = round((time.perf_counter() - started) * 1000, 1)
    try:
        parsed: Any = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw[:200].decode(errors="replace")
    return HttpAnswer(status=status, body=parsed, latency_ms=latency, headers=answer_headers)
