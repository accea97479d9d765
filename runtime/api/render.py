"""``POST /api/render`` and ``GET /api/render/<id>``."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from runtime.api.common import caller_id, parse_body
from runtime.deps import Deps
from runtime.domain import renders
from runtime.domain.errors import NotFound
from runtime.domain.models import ID_PATTERN, RenderRequest

router = Router()


@router.post("/api/render")
def submit_render() -> tuple[dict[str, Any], int]:
    user = caller_id(router.current_event.raw_event)
    request = parse_body(router.current_event.decoded_body, RenderRequest)
    job = renders.submit_render(Deps.from_env(), user, request)
    return renders.public_view(job), 202


@router.get("/api/render/<render_id>")
def get_render(render_id: str) -> dict[str, Any]:
    user = caller_id(router.current_event.raw_event)
    if not re.match(ID_PATTERN, render_id):
        raise NotFound(f"no render {render_id}", code="render_not_found")
    return renders.public_view(renders.get_owned_job(Deps.from_env(), user, render_id))
