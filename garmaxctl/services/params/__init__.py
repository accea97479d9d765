"""``garmaxctl params``: Parameter Store as a reviewed, reversible copy of ``.env``.

The mapping is ``contract.PARAMETERS`` (``.env`` key -> path under ``/garmaxai/{STAGE}/`` ->
String or SecureString). Everything here works on typed results and never prints:

- :mod:`.tree`: names, reading the stage's tree with ``GetParametersByPath`` (recursive,
  paginated 10 at a time, decrypted in memory) — ⌈N/10⌉ read calls —, list and get;
- :mod:`.plan`: :func:`build_plan` compares the ``.env`` file's own values with it: add /
  change / unchanged / skipped / extra, plus ``blocked`` (a type change without
  ``--replace-type``, or a value larger than Parameter Store allows);
- :mod:`.push`: :func:`apply_plan` writes only the differences, in parallel with bounded
  concurrency (the client's adaptive retry mode absorbs throttling) and reports each write;
- :mod:`.replace`: a type AWS will not change in place is replaced by delete + create,
  the old value put back if the create fails; the restarted history is marked;
- :mod:`.versions`: history, rollback (one parameter to an old version's value) and
  restore (the whole tree as it was at a point in time) build the same kind of plan from
  ``GetParameterHistory``, so they share the writer and its report;
- :mod:`.files`: pull, ``.env`` quoting and the 0600 file it writes;
- :mod:`.export`: export (the whole tree, age-encrypted in memory, to a 0600 file) and
  import (decrypt, then the same kind of plan, written by the same writer).

A secret's value never leaves this package except through :func:`get_parameter` with
``decrypt=True`` and :func:`pull` (asked for by the user): plans, reports and lists carry a
short hash (``sha256:`` + 8 hex digits) instead. The reserved ``/garmaxai/ops/{STAGE}/``
tree is never read or written.

This module re-exports what the rest of garmaxctl uses; the other names live in the
modules above.
"""

from __future__ import annotations

from garmaxctl.services.params.export import (
    Sealing,
    export_parameters,
    import_plan,
    open_export,
    read_sealed,
    sealed_with,
)
from garmaxctl.services.params.files import dotenv_quote, pull, to_dotenv
from garmaxctl.services.params.plan import ParamsPlan, check_pushable, plan_from_env
from garmaxctl.services.params.push import PushReport, push_plan
from garmaxctl.services.params.tree import get_parameter, list_parameters, resolve_name
from garmaxctl.services.params.versions import history, restore_plan, rollback_plan

__all__ = [
    "ParamsPlan",
    "PushReport",
    "Sealing",
    "check_pushable",
    "dotenv_quote",
    "export_parameters",
    "get_parameter",
    "history",
    "import_plan",
    "list_parameters",
    "open_export",
    "plan_from_env",
    "pull",
    "push_plan",
    "read_sealed",
    "resolve_name",
    "restore_plan",
    "rollback_plan",
    "sealed_with",
    "to_dotenv",
]
