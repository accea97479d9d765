"""Domain errors: each carries the HTTP status and the symbolic code the API answers with.

The API's one exception handler turns any ``DomainError`` into
``{"code": ..., "message": ...}`` with ``status``. Processors use the ``permanent`` flag:
a permanent error fails the item for good (status ``failed``), anything else is retried
through SQS and ends in the DLQ after ``contract.DLQ_MAX_RECEIVE_COUNT`` receives.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status: int = 400
    code: str = "bad_request"
    permanent: bool = True

    def __init__(self, message: str, *, code: str | None = None,
                 details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class BadRequest(DomainError):
    status = 400
    code = "bad_request"


class ValidationFailed(DomainError):
    status = 422
    code = "validation_error"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class QuotaExceeded(DomainError):
    status = 429
    code = "quota_exceeded"


class BudgetExhausted(DomainError):
    """The breaker is open (today's spend reached the daily budget): rendering refused."""

    status = 503
    code = "budget_breaker_open"


class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"
    permanent = False


class ConfigurationError(DomainError):
    """A resource name or parameter the function needs is not configured."""

    status = 500
    code = "not_configured"
    permanent = False
