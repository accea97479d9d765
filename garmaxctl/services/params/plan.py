"""Plans: what a push would write, compared with what Parameter Store holds.

:func:`build_plan` compares the ``.env`` file's own values with the stage's tree: add /
change / unchanged / skipped / extra, plus ``blocked`` (a type change without
``--replace-type``, or a value larger than Parameter Store allows). History, rollback and
restore (:mod:`.versions`) build the same kind of plan, so they share the writer
(:mod:`.push`) and its report. A plan carries a short hash for a secret, never its value;
the values to write stay in memory only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from garmaxctl.services.params.tree import (
    ADVANCED,
    SECURE,
    RemoteParameter,
    _display,
    _guard,
    connect,
    read_tiers,
    read_tree,
    relative,
)
from garmaxctl.shared import contract
from garmaxctl.shared.contract import ADVANCED_TIER_LIMIT, STANDARD_TIER_LIMIT
from garmaxctl.shared.errors import UsageError

if TYPE_CHECKING:
    from garmaxctl.settings import EnvFile
    from garmaxctl.stage.target import StageTarget



class Action(StrEnum):
    ADD = "add"
    CHANGE = "change"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"  # placeholder or empty in .env: never written
    EXTRA = "extra"  # in Parameter Store, not in .env (deleted only with --prune)
    BLOCKED = "blocked"  # a type change without --replace-type, or a value too large
    DELETE = "delete"  # an extra that --prune will delete


# ----------------------------------------------------------------------------- plans

@dataclass
class PlanItem:
    """One row of a plan. ``old``/``new`` are values for Strings, hashes for secrets."""

    action: Action
    key: str | None  # the .env key (None for a path the mapping does not know)
    name: str  # path relative to the stage's prefix
    path: str
    type: str | None  # the type to write (or the current type of an extra)
    current_type: str | None
    secret: bool
    old: str | None = None
    new: str | None = None
    version: int | None = None  # current version in Parameter Store
    tier: str | None = None  # "Advanced": a value over 4 KB, or an Advanced parameter
    note: str | None = None


@dataclass
class ParamsPlan:
    stage: str
    prefix: str
    items: list[PlanItem] = field(default_factory=list)
    ignored_keys: list[str] = field(default_factory=list)  # in .env, not in the mapping
    prune: bool = False
    source: str = ".env"  # ".env", "version N of NAME" or "as of TIME"

    def __post_init__(self) -> None:
        # The values to write, by path: in memory only (not a field: never rendered).
        self._values: dict[str, str] = {}
        # Extra PutParameter fields by path (KeyId, Description, DataType): an import
        # writes each parameter with what it was exported with (.export).
        self._put_options: dict[str, dict[str, str]] = {}

    def by_action(self, *actions: Action) -> list[PlanItem]:
        return [i for i in self.items if i.action in actions]

    @property
    def counts(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action}
        for item in self.items:
            counts[item.action.value] += 1
        return counts

    @property
    def writes(self) -> list[PlanItem]:
        return self.by_action(Action.ADD, Action.CHANGE)

    @property
    def deletes(self) -> list[PlanItem]:
        return self.by_action(Action.DELETE)

    @property
    def pending(self) -> list[PlanItem]:
        """What a push would do: writes, and deletes when pruning."""
        return self.writes + self.deletes

    @property
    def has_changes(self) -> bool:
        """``--exit-code``: adds, changes or blocked items; extras only with ``--prune``."""
        return bool(self.pending or self.by_action(Action.BLOCKED))

    def value_for(self, path: str) -> str:
        return self._values[path]

    def put_options_for(self, path: str) -> dict[str, str]:
        return dict(self._put_options.get(path, {}))

    def summary(self) -> str:
        counts = self.counts
        parts = [f"{counts[a]} {a}" for a in ("add", "change", "delete", "unchanged",
                                                 "skipped", "extra", "blocked") if counts[a]]
        return ", ".join(parts) or "nothing to compare"


def _check_size(value: str) -> tuple[str | None, str | None]:
    """(tier, blocking reason) for a value's size in bytes."""
    size = len(value.encode("utf-8"))
    if size > ADVANCED_TIER_LIMIT:
        return None, (f"value is {size} bytes: Parameter Store holds at most "
                      f"{ADVANCED_TIER_LIMIT} (Advanced tier)")
    if size > STANDARD_TIER_LIMIT:
        return "Advanced", None
    return None, None


def _desired_item(*, key: str | None, path: str, stage: str, value: str, type_: str,
                  current: RemoteParameter | None, replace_type: bool,
                  plan: ParamsPlan, source_note: str | None = None) -> PlanItem:
    secret = type_ == SECURE or bool(current and current.secret)
    tier, too_large = _check_size(value)
    item = PlanItem(action=Action.ADD, key=key, name=relative(path, stage), path=path,
                    type=type_, current_type=current.type if current else None,
                    secret=secret, new=_display(value, secret),
                    version=current.version if current else None, tier=tier,
                    note=source_note)
    notes = [source_note] if source_note else []
    if tier:
        notes.append("over 4 KB: Advanced tier")
    if current is not None:
        item.old = _display(current.value, secret)
        if current.type != type_:
            if replace_type:
                item.action = Action.CHANGE
                notes.append(f"type {current.type} -> {type_} (--replace-type): where AWS "
                             "refuses it in place, deleted and created again, so its "
                             "history restarts at version 1")
            else:
                item.action = Action.BLOCKED
                notes.append(f"type change {current.type} -> {type_}: refused without "
                             "--replace-type")
        elif current.value == value:
            item.action = Action.UNCHANGED
            item.new = None
            item.tier = None
            notes = [n for n in notes if n == source_note]
        else:
            item.action = Action.CHANGE
            if secret:
                notes.append("secret changed")
    if too_large and item.action is not Action.UNCHANGED:
        item.action = Action.BLOCKED
        notes.append(too_large)
    item.note = "; ".join(notes) or None
    if item.action in (Action.ADD, Action.CHANGE):
        plan._values[path] = value
    return item


def keep_tiers(client: Any, plan: ParamsPlan) -> ParamsPlan:
    """An Advanced parameter stays Advanced, whatever the size of its new value.

    A write without ``Tier`` gets the account's default tier (Standard), and AWS refuses to
    downgrade an Advanced parameter (``ValidationException``). So every change that does not
    already need the Advanced tier looks up the parameter's tier: one ``DescribeParameters``
    pass over the tree (⌈N/50⌉ calls), and none when the plan changes nothing.
    """
    candidates = [i for i in plan.by_action(Action.CHANGE) if i.tier is None]
    if not candidates:
        return plan
    tiers = read_tiers(client, plan.stage)
    for item in candidates:
        if tiers.get(item.path) == ADVANCED:
            item.tier = ADVANCED
            item.note = "; ".join(n for n in (item.note, "Advanced tier kept (AWS cannot "
                                              "move a parameter back to Standard)") if n)
    return plan


def _extra_item(current: RemoteParameter, stage: str, key: str | None, prune: bool,
                note: str) -> PlanItem:
    return PlanItem(action=Action.DELETE if prune else Action.EXTRA, key=key,
                    name=relative(current.path, stage), path=current.path, type=current.type,
                    current_type=current.type, secret=current.secret,
                    old=_display(current.value, current.secret), version=current.version,
                    note=note + ("; --prune deletes it" if prune else ""))


def build_plan(env: EnvFile, remote: dict[str, RemoteParameter], stage: str, *,
               prune: bool = False, replace_type: bool = False) -> ParamsPlan:
    """Compare the ``.env`` file's values (the file alone) with the stage's tree."""
    plan = ParamsPlan(stage=stage, prefix=contract.params_prefix(stage), prune=prune,
                      source=str(env.path))
    remaining = dict(remote)
    for spec in contract.PARAMETERS:
        path = _guard(spec.full_path(stage), stage)
        current = remaining.pop(path, None)
        raw = env.values.get(spec.env_key)
        if raw is None:
            if current is not None:
                plan.items.append(_extra_item(current, stage, spec.env_key, prune,
                                              f"{spec.env_key} is not in {env.path.name}"))
            continue
        if contract.is_placeholder(raw):
            secret = spec.secret or bool(current and current.secret)
            plan.items.append(PlanItem(
                action=Action.SKIPPED, key=spec.env_key, name=spec.path, path=path,
                type=spec.kind.value, current_type=current.type if current else None,
                secret=secret,
                old=_display(current.value, secret) if current else None,
                version=current.version if current else None,
                note="empty: never written" if not raw.strip()
                else "placeholder: never written"))
            continue
        plan.items.append(_desired_item(key=spec.env_key, path=path, stage=stage, value=raw,
                                        type_=spec.kind.value, current=current,
                                        replace_type=replace_type, plan=plan))
    for path in sorted(remaining):
        plan.items.append(_extra_item(remaining[path], stage, None, prune,
                                      "not in the mapping (contract.PARAMETERS)"))
    plan.ignored_keys = [k for k in env.values if k not in contract.PARAMS_BY_ENV_KEY]
    return plan


def check_pushable(plan: ParamsPlan) -> None:
    """A plan with blocked items is refused as a whole (exit 2): nothing is written."""
    blocked = plan.by_action(Action.BLOCKED)
    if not blocked:
        return
    names = ", ".join(i.key or i.name for i in blocked)
    type_changes = [i for i in blocked if i.current_type and i.type != i.current_type]
    hint = "pass --replace-type to change a parameter's type" if type_changes else \
        "shorten the value (Parameter Store's limit is 8 KB)"
    raise UsageError(f"refusing to write: {len(blocked)} blocked parameter(s): {names}",
                     code="blocked", hint=hint,
                     data={"blocked": [{"key": i.key, "name": i.name, "note": i.note}
                                       for i in blocked]})


def plan_from_env(target: StageTarget, env: EnvFile, *, prune: bool = False,
                  replace_type: bool = False) -> ParamsPlan:
    from garmaxctl.shared.errors import ConfigError

    stage = target.name
    if not env.exists:
        raise ConfigError(f"{env.path} not found",
                          hint="create it from .env.example, or pass --env-file")
    client = connect(target)
    return keep_tiers(client, build_plan(env, read_tree(client, stage), stage, prune=prune,
                                         replace_type=replace_type))
