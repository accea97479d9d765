"""A tiny HTTP transport on ``urllib.request`` (no extra dependency), with timeouts.

Providers take a ``Transport`` so tests can point them at a server on 127.0.0.1. Network
failures and timeouts become ``TransientProviderError``; headers (API keys) are never
logged or put in an error message.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runtime.providers.base import TransientProviderError


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode() or "null")


Transport = Callable[[str, str, dict[str, str], bytes | None, float], HttpResponse]


def urllib_transport(method: str, url: str, headers: dict[str, str], body: bytes | None,
                     timeout: float) -> HttpResponse:
    if not url.startswith(("https://", "http://")):
        raise ValueError("only http(s) URLs are fetched")
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    host = urllib.request.urlparse(url).netloc
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpResponse(response.status, dict(response.headers.items()),
                                response.read())
    except urllib.error.HTTPError as exc:
        return HttpResponse(exc.code, dict(exc.headers.items()) if exc.headers else {},
                            exc.read() or b"")
    except TimeoutError as exc:
        raise TransientProviderError(host, "timed out") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError | socket.timeout):
            raise TransientProviderError(host, "timed out") from exc
        raise TransientProviderError(host, f"connection failed ({type(reason).__name__})") \
            from exc
    except (ConnectionError, OSError) as exc:
        raise TransientProviderError(host, f"connection failed ({type(exc).__name__})") \
            from exc
