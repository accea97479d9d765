"""Time helpers: UTC everywhere; "today" is the UTC date the budgets and quotas reset on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def day_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_after(moment: datetime, days: float) -> int:
    """A TTL attribute value ``days`` after ``moment`` (DynamoDB TTL wants epoch seconds)."""
    return int((moment + timedelta(days=days)).timestamp())
