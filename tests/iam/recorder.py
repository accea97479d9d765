"""The recorded AWS calls of the test suite, checked against the registry's permissions.

Every test runs with ``GARMAX_RECORD_CALLS`` naming one file of the session
(tests/conftest.py); ``garmaxctl/aws.py`` then appends ``{"command", "service",
"operation"}`` for every AWS call a command makes, in the test's process or in a
``garmaxctl`` subprocess. At the session's end (``pytest_sessionfinish``):

1. **subset**: every recorded call of a command maps to an IAM action in that command's
   ``actions`` (garmaxctl/permissions.py) — on any run, of any part of the suite;
2. **coverage**: every action in the tables was called by some test (of a command that
   declares it, or of a service driven directly), or is exempted with its reason
   (``not_recordable``, ``NOT_EXERCISED``) — on a run of the whole suite (or with
   ``--iam-coverage``), since a part of the suite exercises a part of the table.

A failed check fails the session (exit 1) and lists what is missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from garmaxctl import permissions as P
from garmaxctl import registry

# How a call maps to its IAM action: one table, garmaxctl/permissions.py (the access-denied
# message uses it too).
SERVICE_PREFIX = P.SERVICE_PREFIX
OPERATION_ACTIONS = P.OPERATION_ACTIONS

# Commands whose calls are not checked: they target only the embedded emulator.
LOCAL_ONLY = frozenset(e.path for e in registry.commands() if e.words[0] == "local")


def action_of(service: str, operation: str) -> str | None:
    """The IAM action a recorded call needs (None: none)."""
    return P.iam_action(service, operation)


def not_recordable(permission: P.Permission) -> str | None:
    """Why a table action can never appear in the recording, or None."""
    if permission.resource in (P.CDK_DEPLOY_ROLE, P.CDK_FILE_PUBLISHING_ROLE,
                               P.CDK_LOOKUP_ROLE):
        return "the CDK CLI (a Node.js subprocess) assumes the bootstrap roles"
    if permission in P.BOOTSTRAP:
        return "`cdk bootstrap` (the CDK CLI) creates the toolkit stack with these"
    if permission.service == "kms":
        return "Parameter Store calls KMS on the caller's behalf (SecureString)"
    service, _, operation = permission.action.partition(":")
    if (service, operation) in P.OPERATION_ACTIONS and \
            P.OPERATION_ACTIONS[(service, operation)] is None:
        return "AWS requires no permission for it: a call of it is recorded as no action"
    if permission.action == "ssm:AddTagsToResource":
        return "authorised as part of PutParameter with Tags, not a call of its own"
    if permission.action == "rds:AddTagsToResource":
        return ("authorised as part of RestoreDBClusterToPointInTime/CreateDBInstance with "
                "Tags, not a call of its own")
    return NOT_EXERCISED.get((permission.action, permission.resource))


# Actions garmaxctl calls that no test can record here, each with its reason.
_NO_PROVISIONED = ("moto has no provisioned concurrency API ('Not yet implemented'): "
                   "tests/idle/test_provisioned.py answers it from an in-memory stand-in "
                   "for the Lambda client, which botocore never sees")
NOT_EXERCISED: dict[tuple[str, str], str] = {
    (f"lambda:{verb}ProvisionedConcurrencyConfig", P.FUNCTION_QUALIFIERS): _NO_PROVISIONED
    for verb in ("Get", "Put", "Delete")
} | {
    ("dynamodb:UpdateItem", P.TABLES):
        "smoke gives a real user's quota slot back only on a real stage whose stack has a "
        "Quotas table; the DEV fixture's stack (tests/health) has none, and on LOCAL smoke "
        "deletes its synthetic user's counters instead",
}


@dataclass(frozen=True)
class Call:
    command: str
    service: str
    operation: str

    @property
    def action(self) -> str | None:
        return action_of(self.service, self.operation)


def read_calls(path: Path) -> list[Call]:
    if not path.exists():
        return []
    calls = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            calls.add(Call(d["command"], d["service"], d["operation"]))
    return sorted(calls, key=lambda c: (c.command, c.service, c.operation))


def outside_tables(calls: Iterable[Call],
                   entries: Iterable[registry.Entry] | None = None) -> list[str]:
    """Each recorded call whose action is not in its command's table."""
    tables = {e.path: {p.action for p in e.actions} for e in (entries or registry.commands())}
    problems = []
    for call in calls:
        if call.command not in tables or call.command in LOCAL_ONLY or call.action is None:
            continue
        if call.action not in tables[call.command]:
            problems.append(f"`{call.command}` called {call.service}.{call.operation}: "
                            f"{call.action} is not in its actions (garmaxctl/permissions.py)")
    return problems


def never_called(calls: Iterable[Call],
                 entries: Iterable[registry.Entry] | None = None) -> list[str]:
    """Each table action that no test called (and that is not exempted as unrecordable).

    A call counts for an action when a command that declares it made it, or when a test
    drove a service directly (no command: ``idle``'s engine tests, for example)."""
    entries = list(entries or registry.commands())
    tables = {e.path: {p.action for p in e.actions} for e in entries}
    used = {c.action for c in calls
            if c.action and (not c.command or c.action in tables.get(c.command, ()))}
    missing: dict[str, str] = {}
    for entry in entries:
        for permission in entry.actions:
            if permission.action not in used and not not_recordable(permission):
                missing.setdefault(permission.action, entry.path)
    return [f"{action} (declared by `{path}`...) was never called by a test"
            for action, path in sorted(missing.items())]


def _whole_suite(session: Any) -> bool:
    config = session.config
    if config.getoption("iam_coverage"):
        return True
    if config.getoption("keyword") or config.getoption("markexpr") or session.shouldstop:
        return False
    tests = Path(config.rootpath) / "tests"
    return [Path(a).resolve() for a in config.args] in ([], [tests.resolve()])


def check_session(session: Any, exitstatus: int) -> None:
    from tests.conftest import recorded_calls_file

    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    calls = read_calls(recorded_calls_file(factory))
    problems = outside_tables(calls)
    if _whole_suite(session) and exitstatus == 0:
        problems += never_called(calls)
    if not problems:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["", "IAM permissions check failed (docs/iam/README.md):", *problems]
    if reporter is not None:
        for line in lines:
            reporter.write_line(line, red=True)
    session.exitstatus = 1


def commands_recorded(calls: Iterable[Call]) -> Iterator[str]:
    return iter(sorted({c.command for c in calls if c.command}))
