"""Replacing a parameter whose type AWS will not change in place, without losing it.

AWS answers a type change (String <-> SecureString) with ``HierarchyTypeMismatchException``;
the only way through is to delete the parameter and create it again. :func:`replace_type`
does that so that nothing is half-written:

1. it reads what the delete would lose: the value (decrypted, in memory only), type,
   version, tier, KMS key, description and tags, and refuses if the parameter changed since
   the plan read it;
2. it deletes the parameter and creates it with the new type, keeping its tier,
   description and tags;
3. if the create fails (a KMS permission, throttling past the retries, a validation), it
   puts the old value back with its own type, tier and KMS key, and says so; if even that
   fails, it says exactly what is gone and how to recover it (never the value itself).

Either way the parameter's history restarts at version 1. garmaxctl marks that in the
new version 1's ``Description``, written atomically with it and returned by
``GetParameterHistory``: "garmaxctl: history restarted at TIME: WHY" (appended in
brackets to a description the parameter already had). ``restore --as-of`` reads the mark
(:func:`history_restarted`) and treats such a parameter as "history restarted at T", never
as "created after T" to delete with ``--prune``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from garmaxctl import redact
from garmaxctl.aws import describe_error, error_code
from garmaxctl.services.params.tree import ADVANCED, SECURE, is_secret, short_hash

if TYPE_CHECKING:
    from garmaxctl.services.params.plan import PlanItem

HISTORY_RESTARTED = "garmaxctl: history restarted at"
DESCRIPTION_LIMIT = 1024  # PutParameter's Description (service model: max 1024)
_OLD_MARK = re.compile(r"\s*\[" + re.escape(HISTORY_RESTARTED) + r"[^\]]*\]")


def history_restarted(description: str | None) -> bool:
    """Whether a version's description carries garmaxctl's "history restarted" mark."""
    return HISTORY_RESTARTED in (description or "")


def marked_description(previous: str | None, mark: str) -> str:
    """The parameter's own description (an earlier mark removed) with ``mark`` appended."""
    own = _OLD_MARK.sub("", previous or "").strip()
    if own.startswith(HISTORY_RESTARTED):
        own = ""
    room = DESCRIPTION_LIMIT - len(mark) - 3
    if not own or room <= 0:
        return mark[:DESCRIPTION_LIMIT]
    return f"{own[:room]} [{mark}]"


class ReplaceFailedError(Exception):
    """The replacement did not happen; ``message`` says what the parameter holds now."""

    def __init__(self, code: str, message: str, note: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.note = code, message, note


@dataclass
class _Previous:
    """What a delete loses, read just before it. ``value`` stays in memory only."""

    type: str
    version: int
    tier: str
    key_id: str | None
    description: str | None
    tags: list[dict[str, str]]
    policies: int
    value: str = field(repr=False)


def _read_previous(client: Any, path: str) -> _Previous:
    param = client.get_parameter(Name=path, WithDecryption=True)["Parameter"]
    meta: dict[str, Any] = {}
    pages = client.get_paginator("describe_parameters").paginate(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [path]}])
    for page in pages:
        meta.update(next((p for p in page.get("Parameters", []) if p["Name"] == path), {}))
    tags = client.list_tags_for_resource(ResourceType="Parameter",
                                         ResourceId=path).get("TagList", [])
    previous = _Previous(type=param["Type"], version=int(param["Version"]),
                         tier=meta.get("Tier", "Standard"), key_id=meta.get("KeyId"),
                         description=meta.get("Description"), tags=list(tags),
                         policies=len(meta.get("Policies") or []),
                         value=param.get("Value", ""))
    if is_secret(path, previous.type):
        redact.register(previous.value)
    return previous


def _mark(when: dt.datetime, why: str) -> str:
    return f"{HISTORY_RESTARTED} {when.strftime('%Y-%m-%dT%H:%M:%SZ')}: {why}"


def replace_type(client: Any, item: PlanItem, put: dict[str, Any]) -> tuple[int, str]:
    """Delete + create ``put`` (a PutParameter request); on failure, put the old one back.

    Returns (new version, note). Raises :class:`ReplaceFailedError` when the new value is
    not in place, saying whether the old one was put back or is gone.
    """
    path = put["Name"]
    old = _read_previous(client, path)  # a failure here has deleted nothing
    if item.version is not None and old.version != item.version:
        raise ReplaceFailedError(
            "changed_since_plan",
            f"{path} changed since the plan was read (now version {old.version}, the plan "
            f"read version {item.version}): not replaced, nothing deleted; run the command "
            "again to plan from what it holds now")
    when = dt.datetime.now(dt.UTC)
    change = f"type {old.type} -> {put['Type']}"
    kept: dict[str, Any] = {"Tags": old.tags} if old.tags else {}
    if old.tier == ADVANCED:
        kept["Tier"] = ADVANCED  # the Advanced tier is kept, like any write
    not_carried = "; its parameter policies were not carried over" if old.policies else ""
    new = {**put, **kept, "Overwrite": False,
           "Description": marked_description(old.description,
                                             _mark(when, f"{change} by delete + create"))}
    try:
        client.delete_parameter(Name=path)
    except Exception as exc:
        if error_code(exc) != "ParameterNotFound":
            raise  # not deleted: the old parameter is still in place
    try:
        version = int(client.put_parameter(**new)["Version"])
    except Exception as exc:
        recreate = describe_error(exc)
    else:
        return version, ("type replaced by delete + create: its history restarts at "
                         f"version 1{not_carried}")
    failed = f"recreate failed: {recreate.code}: {recreate.message}"
    back = {"Name": path, "Value": old.value, "Type": old.type, "Overwrite": False, **kept,
            "Description": marked_description(
                old.description, _mark(when, f"{change} failed, the old value put back"))}
    if old.type == SECURE and old.key_id:
        back["KeyId"] = old.key_id
    try:
        client.put_parameter(**back)
    except Exception as exc:
        lost = describe_error(exc)
        command = (f"aws ssm put-parameter --name {path} --type {old.type}"
                   + (f" --key-id {old.key_id}" if back.get("KeyId") else "")
                   + (f" --tier {ADVANCED}" if old.tier == ADVANCED else "")
                   + " --value <the old value>")
        raise ReplaceFailedError(
            recreate.code,
            f"{failed}; putting the old value back failed too: {lost.code}: {lost.message}. "
            f"{path} no longer exists: its old value ({old.type}, {old.tier} tier, version "
            f"{old.version}, {short_hash(old.value)}), its tags and its whole history are "
            f"gone. To recover, put the old value back from your own copy (`{command}`), or "
            "run this command again once the cause is fixed to create it with the new value",
            note="deleted: the old value and its history are lost") from None
    raise ReplaceFailedError(
        recreate.code,
        f"{failed}; the old value was put back as version 1 (history restarted)",
        note=f"old value put back as version 1: its history restarts{not_carried}")
