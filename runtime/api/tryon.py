"""``POST /api/tryon/sessions`` and ``GET /api/tryon/sessions/<id>``."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from runtime.api.common import caller_id, parse_body
from runtime.deps import Deps
from runtime.domain import tryon
from runtime.domain.errors import NotFound
from runtime.domain.models import ID_PATTERN, CreateSessionRequest

router = Router()


@router.post("/api/tryon/sessions")
def create_session() -> tuple[dict[str, Any], int]:
    user = caller_id(router.current_event.raw_event)
    request = parse_body(router.current_event.decoded_body, CreateSessionRequest)
    item = tryon.create_session(Deps.from_env(), user, request)
    return tryon.public_view(item), 201


@router.get("/api/tryon/sessions/<session_id>")
def get_session(session_id: str) -> dict[str, Any]:
    user = caller_id(router.current_event.raw_event)
    if not re.match(ID_PATTERN, session_id):
        raise NotFound(f"no try-on session {session_id}", code="session_not_found")
    return tryon.public_view(tryon.get_owned_session(Deps.from_env(), user, session_id))
