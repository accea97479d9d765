"""Render garmaxctl's JSON documents (``-o json``) as Markdown for a GitHub job summary.

    python scripts/ci_summary.py FILE...            Markdown on stdout (>> $GITHUB_STEP_SUMMARY)
    python scripts/ci_summary.py --gate-no-alarms FILE
                                                    exit 1 when an alarm is in ALARM
                                                    (one whose actions are off: not)
    python scripts/ci_summary.py --stage-outputs FILE
                                                    account= and region= of `config show`

Each FILE holds one document of the envelope in docs/exit-codes.md (``schema``, ``ok``,
``exit_code``, ``command``, ``stage``, ``data``, ``error``). A FILE that is missing, empty
or not such a document (its step never ran, or failed before printing) is reported as
such, never fatal: the summary step runs after failures too. Standard library only: it
runs with the runner's Python before or without the virtualenv. docs/ci.md shows what it
prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

Document = dict[str, Any]


def load(path: Path) -> Document | None:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or "command" not in document:
        return None
    return document


def cell(value: Any) -> str:
    text = "-" if value is None or value == "" else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def table(columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    columns = list(columns)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def _deploy(data: dict[str, Any]) -> list[str]:
    lines = [f"Stack `{data.get('stack')}`: {data.get('status')}"
             f" ({'changed' if data.get('changed') else 'no change'})."]
    outputs = data.get("outputs") or {}
    if outputs:
        lines += ["", *table(("output", "value"), sorted(outputs.items()))]
    return lines


def _params(data: dict[str, Any]) -> list[str]:
    counts = data.get("counts") or {}
    lines = [", ".join(f"{k} {v}" for k, v in counts.items() if v) or "nothing to do", ""]
    results = (data.get("report") or {}).get("results") or []
    if results:
        lines += table(("action", "key", "parameter", "status", "version"),
                       ((r.get("action"), r.get("key"), r.get("path"), r.get("status"),
                         r.get("version")) for r in results))
    return lines


def _rows(data: dict[str, Any]) -> list[str]:
    rows = data.get("rows") or []
    return table(("item", "section", "status", "detail"),
                 ((r.get("item"), r.get("section"), r.get("status"), r.get("detail"))
                  for r in rows))


def _smoke(data: dict[str, Any]) -> list[str]:
    steps = data.get("steps") or []
    lines = table(("step", "status", "ms", "detail"),
                  ((s.get("name"), s.get("status"), s.get("latency_ms"), s.get("detail"))
                   for s in steps))
    left = data.get("left_behind") or []
    if left:
        lines += ["", "Left behind: " + ", ".join(f"`{x}`" for x in left)]
    return lines


def _alarms(data: dict[str, Any]) -> list[str]:
    alarms = data.get("alarms") or []
    if not alarms:
        state = data.get("state")
        return [f"No alarm{f' in {state}' if state else ''}."]
    return table(("alarm", "state", "since", "reason"),
                 ((a.get("name"), a.get("state"), a.get("since"), a.get("reason"))
                  for a in alarms))


# A job summary holds at most 1 MiB per step: a diff past this many lines is cut, with
# the command that shows it whole.
MAX_DIFF_LINES = 300


def _diff(data: dict[str, Any]) -> list[str]:
    head = (f"`{data.get('stack')}` would change." if data.get("has_changes")
            else f"`{data.get('stack')}`: no change.")
    body = [line.replace("```", "'''") for line in data.get("lines") or []]
    if len(body) > MAX_DIFF_LINES:
        more = len(body) - MAX_DIFF_LINES
        body = [*body[:MAX_DIFF_LINES],
                f"... {more} more line(s): garmaxctl -s {data.get('stage')} diff"]
    return [head, "", "<details><summary>cdk diff</summary>", "", "```", *body, "```", "",
            "</details>"] if body else [head]


def _synth(data: dict[str, Any]) -> list[str]:
    lint = data.get("lint") or []
    done = "skipped (unchanged)" if data.get("skipped") else "synthesized"
    head = f"`{data.get('stack')}`: {done}, cfn-lint: {len(lint)} finding(s)."
    return [head, *(f"- {cell(item)}" for item in lint)]


RENDERERS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "deploy": _deploy,
    "params push": _params,
    "params restore": _params,
    "params rollback": _params,
    "verify": _rows,
    "smoke": _smoke,
    "alarms list": _alarms,
    "diff": _diff,
    "synth": _synth,
}


def render(document: Document) -> list[str]:
    ok = document.get("ok")
    mark = "✅" if ok else "❌"
    lines = [f"### {mark} `garmaxctl {document.get('command')}` — {document.get('stage')} "
             f"(exit {document.get('exit_code')})", ""]
    error = document.get("error")
    if error:
        lines += [f"> **{cell(error.get('code'))}**: {cell(error.get('message'))}", ""]
    data = document.get("data")
    renderer = RENDERERS.get(str(document.get("command")))
    if renderer and isinstance(data, dict) and data:
        lines += renderer(data)
    elif data:
        lines += ["<details><summary>data</summary>", "", "```json",
                  json.dumps(data, indent=2), "```", "", "</details>"]
    return [*lines, ""]


def summary(paths: Iterable[Path]) -> str:
    out: list[str] = []
    for path in paths:
        document = load(path)
        if document is None:
            out += [f"### ⚠️ `{path.name}`: no garmaxctl JSON document (the step did not run "
                    "or failed before printing one)", ""]
        else:
            out += render(document)
    return "\n".join(out)


def gate_no_alarms(path: Path) -> int:
    document = load(path)
    if document is None or not document.get("ok"):
        print(f"alarms gate: no successful `alarms list` document in {path}", file=sys.stderr)
        return 1
    firing = [a for a in (document.get("data") or {}).get("alarms") or []
              if a.get("state") == "ALARM"]
    # An alarm whose actions are off pages no one: the idle activity alarm outside idle
    # (it is in ALARM whenever the API had traffic: a wake-up signal, not a fault), or an
    # alarm switched off by hand. A muted alarm (idle or a mute rule) still fails the gate.
    alarms = [a for a in firing if (a.get("actions") or {}).get("status") != "off"]
    for alarm in firing:
        paging = alarm in alarms
        print(f"in {alarm.get('state')}: {alarm.get('name')} ({alarm.get('reason')})"
              + ("" if paging else " [actions off: not gated]"), file=sys.stderr)
    if alarms:
        print(f"alarms gate: {len(alarms)} alarm(s) in ALARM", file=sys.stderr)
        return 1
    return 0


def stage_outputs(path: Path) -> int:
    """``account=`` and ``region=`` lines (for $GITHUB_OUTPUT) from a `config show`
    document: the role to assume is named after the stage in its account (docs/ci.md)."""
    document = load(path)
    config = (((document or {}).get("data") or {}).get("stage_config") or {})
    if not config.get("region"):
        print(f"no stage configuration in {path}", file=sys.stderr)
        return 1
    # LOCAL has no account (the emulator): an empty value, as no role is assumed there.
    print(f"account={config.get('account') or ''}")
    print(f"region={config['region']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gate-no-alarms", action="store_true",
                        help="exit 1 when the `alarms list` document holds an alarm in ALARM")
    parser.add_argument("--stage-outputs", action="store_true",
                        help="print account= and region= from a `config show` document")
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    if args.gate_no_alarms:
        return gate_no_alarms(args.files[0])
    if args.stage_outputs:
        return stage_outputs(args.files[0])
    sys.stdout.write(summary(args.files))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
