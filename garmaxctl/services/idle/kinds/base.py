"""A resource kind: one type of resource idle changes and restores, and its attributes.

A kind owns one section of the snapshot's ``resources`` (``functions``, ``rules``, ...) and
the typed record of each resource in it. It knows how to **discover** its resources on the
live stage, **describe** each resource's attributes (the recorded value, the idle value,
its place in the apply order), and **read** and **write** one attribute. The engine
(``garmaxctl.services.idle.engine``) knows no kind by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    import datetime as dt

    from garmaxctl.services.idle.context import Context
    from garmaxctl.shared.stages import StageConfig
    from garmaxctl.stage.prices import Prices

# An attribute's value as the snapshot stores it (and reports show it): a JSON value —
# an int or None (unset), a bool, a status string, a {"min", "max"} dict, a list of
# {"qualifier", "count"} dicts.
Value = Any


class Record(Protocol):
    """One resource as the snapshot records it (the JSON object under its key)."""

    def to_json(self) -> dict[str, Any]: ...


@dataclass
class RawRecord:
    """A record of a section no registered kind owns (a newer garmaxctl's): kept as it is."""

    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return self.data


@dataclass(frozen=True)
class WarmUp:
    """A function to warm after ``up`` restored it, and the event its handler answers
    cheaply: ``http`` (an API Gateway proxy ``GET /api/health``) or ``sqs`` (one record
    that is not a message)."""

    function: str
    event: str


@dataclass
class Attr:
    """One setting of one resource that idle changes and restores."""

    group: str  # its place in the apply order (kinds.GROUPS)
    kind: str  # the attribute: reserved | provisioned | mapping | rule | scaling | desired ...
    resource: str  # the resource's key in its snapshot section
    recorded: Value  # the value before idle (from the snapshot)
    idle: Value  # the value idle wants
    label: str = ""  # for people (a mapping's UUID says little)
    owner: ResourceKind | None = field(default=None, repr=False, compare=False)
    record: Any = field(default=None, repr=False, compare=False)  # the resource's record

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.resource}"


class ResourceKind(ABC):
    """Subclass, then add one instance to ``kinds.KINDS`` (docs/idle.md, "Adding a kind")."""

    section: ClassVar[str]  # its key under the snapshot's "resources"
    groups: ClassVar[tuple[str, ...]]  # the apply-order groups its attributes belong to

    def enabled(self, config: StageConfig) -> bool:
        """Whether the stage has such resources at all (a feature flag)."""
        return True

    @abstractmethod
    def load(self, data: dict[str, Any]) -> Record:
        """The typed record of one resource from its snapshot JSON."""

    @abstractmethod
    def discover(self, ctx: Context) -> Mapping[str, Record]:
        """The stage's resources of this kind, keyed as the snapshot keys them, in order."""

    @abstractmethod
    def attributes(self, records: dict[str, Any]) -> list[Attr]:
        """Each resource's attributes, in apply order within the kind."""

    @abstractmethod
    def read(self, ctx: Context, attr: Attr) -> Value:
        """The live value (raises a not-found error or ``Gone`` if the resource is gone)."""

    @abstractmethod
    def write(self, ctx: Context, attr: Attr, value: Value) -> str:
        """Set the attribute, wait until AWS reports it set; returns the step's detail."""

    def attr(self, group: str, kind: str, key: str, record: Any, recorded: Value,
             idle: Value, label: str = "") -> Attr:
        return Attr(group, kind, key, recorded, idle, label, owner=self, record=record)

    # Optional parts: what runs on while idle, what idle saves, what drift means.

    def kept_running(self, records: dict[str, Any]) -> list[str]:
        """Resources of this kind that idle deliberately leaves running."""
        return []

    def warm(self, attr: Attr) -> WarmUp | None:
        """A function to warm after ``up`` restored this attribute."""
        return None

    def queues(self, records: dict[str, Any]) -> list[str]:
        """The SQS queues (ARNs) where idle parks messages by pausing these resources: their
        clocks show how long the stage may stay idle (docs/idle.md, "Queues while idle")."""
        return []

    def wake(self, records: dict[str, Any]) -> list[str]:
        """Functions idle left running that ``up`` brings back to Active if Lambda made them
        Inactive while idle (they are not warmed: idle did not change them)."""
        return []

    def hourly(self, records: dict[str, Any], prices: Prices,
               config: StageConfig) -> list[tuple[str, str, float]]:
        """(resource, detail, USD per hour) that idle saves on these resources."""
        return []

    def drift_note(self, attr: Attr, live: Value, idle_for: dt.timedelta | None) -> str:
        """What a live value other than the idle one means, while idle."""
        return ""
