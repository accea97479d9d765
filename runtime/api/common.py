"""Request helpers shared by the API routers: caller identity and body validation."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from runtime.domain.errors import BadRequest, Unauthorized, ValidationFailed

M = TypeVar("M", bound=BaseModel)


def caller_id(raw_event: dict[str, Any]) -> str:
    """The caller: the Cognito authorizer's ``claims.sub``, never anything from the body.

    On LOCAL the gateway puts the ``X-Garmax-Dev-User`` header's value here.
    """
    context = raw_event.get("requestContext") or {}
    claims = (context.get("authorizer") or {}).get("claims") or {}
    sub = claims.get("sub") if isinstance(claims, dict) else None
    if not isinstance(sub, str) or not sub.strip():
        raise Unauthorized("no authenticated caller (authorizer claims.sub missing)")
    return sub.strip()


def parse_body(raw: str | None, model: type[M]) -> M:
    """Empty or non-JSON -> 400; JSON that does not fit the model -> 422 with the fields."""
    if raw is None or not raw.strip():
        raise BadRequest("a JSON body is required", code="missing_body")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # nested past the parser's depth: not for us
        raise BadRequest("the body is not valid JSON", code="malformed_json") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object", code="malformed_json")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in err["loc"]) or "(body)",
                    "error": err["type"], "message": err["msg"]}
                   for err in exc.errors(include_url=False, include_input=False)]
        raise ValidationFailed("the request body is invalid", details=details) from None
