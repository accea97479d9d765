"""Request bodies (pydantic) and the status vocabularies of sessions and renders."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

Quality = Literal["sd", "hd", "4k"]
QUALITIES: tuple[str, ...] = ("sd", "hd", "4k")

ID_PATTERN = r"^[0-9a-f]{32}$"
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,511}$")


class SessionStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    PREVIEW_READY = "preview_ready"
    FAILED = "failed"


class RenderStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


def _check_key(value: str | None) -> str | None:
    if value is None:
        return None
    if not _KEY_RE.match(value) or ".." in value.split("/") or "//" in value:
        raise ValueError("must be a relative object key inside your upload prefix")
    return value


class CreateSessionRequest(BaseModel):
    """``POST /api/tryon/sessions``: one avatar and one garment, each by URL or upload key.

    A key is relative to the caller's own upload prefix (``users/{sub}/`` in the uploads
    bucket), so a caller can never name someone else's upload.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    avatarUrl: HttpUrl | None = None
    avatarKey: str | None = Field(default=None, max_length=512)
    garmentUrl: HttpUrl | None = None
    garmentKey: str | None = Field(default=None, max_length=512)
    quality: Quality = "sd"

    _keys = field_validator("avatarKey", "garmentKey")(_check_key)

    @model_validator(mode="after")
    def _one_of_each(self) -> CreateSessionRequest:
        for name in ("avatar", "garment"):
            given = [v for v in (getattr(self, f"{name}Url"), getattr(self, f"{name}Key"))
                     if v is not None]
            if len(given) != 1:
                raise ValueError(f"give exactly one of {name}Url or {name}Key")
        return self


class RenderRequest(BaseModel):
    """``POST /api/render``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sessionId: str = Field(pattern=ID_PATTERN)
    quality: Quality


class TryonMessage(BaseModel):
    """Body of a try-on queue message (sent by the API)."""

    model_config = ConfigDict(extra="ignore")

    sessionId: str = Field(pattern=ID_PATTERN)
    userId: str = Field(min_length=1, max_length=256)


class RenderMessage(BaseModel):
    """``detail`` of a ``RenderRequested`` event (or a bare render queue message)."""

    model_config = ConfigDict(extra="ignore")

    renderId: str = Field(pattern=ID_PATTERN)
    sessionId: str = Field(pattern=ID_PATTERN)
    userId: str = Field(min_length=1, max_length=256)
    quality: Quality
