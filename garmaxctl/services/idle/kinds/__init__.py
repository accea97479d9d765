"""The resource kinds idle changes and restores, registered in one place.

``GROUPS`` is the apply order of ``down`` (``up`` runs the exact reverse): the paging
alarms' actions disabled -> ingress (producers' reserved concurrency 0) -> SQS consumers
paused by disabling their event source mappings -> then their concurrency 0 -> the bus's
rules disabled -> ECS services at 0 -> Aurora clusters stopped -> the activity alarm's
actions enabled. ``KINDS`` is the registry, in discovery order (the order of the
snapshot's ``resources`` sections).

Adding a kind: a ``ResourceKind`` subclass in a module here, and one line in ``KINDS``
(plus its group in ``GROUPS`` if its attributes take a new place in the apply order).
"""

from __future__ import annotations

from garmaxctl.services.idle.kinds.alarms import Alarms
from garmaxctl.services.idle.kinds.base import (
    Attr,
    RawRecord,
    Record,
    ResourceKind,
    Value,
    WarmUp,
)
from garmaxctl.services.idle.kinds.clusters import Clusters
from garmaxctl.services.idle.kinds.functions import Functions
from garmaxctl.services.idle.kinds.mappings import Mappings
from garmaxctl.services.idle.kinds.rules import Rules
from garmaxctl.services.idle.kinds.services import Services

GROUPS: tuple[str, ...] = ("paging", "ingress", "mappings", "consumers", "rules", "ecs",
                           "aurora", "alarm")

KINDS: tuple[ResourceKind, ...] = (
    Functions(),
    Mappings(),
    Rules(),
    Services(),
    Clusters(),
    Alarms(),
)

__all__ = ["GROUPS", "KINDS", "Attr", "RawRecord", "Record", "ResourceKind", "Value",
           "WarmUp"]
