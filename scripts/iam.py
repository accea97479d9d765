"""Generate the IAM policies in docs/iam/ from the command registry (`make iam`), or make
one for a stage: ``python scripts/iam.py --stage DEV --account 123456789012 --region
eu-west-1 readonly`` prints docs/iam/readonly.json with every placeholder replaced.

The policies are data of garmaxctl (``garmaxctl.permissions``, the registry's ``actions``);
tests/iam/test_policies.py fails when a file here is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from garmaxctl import permissions, registry

DOCS = Path(__file__).resolve().parents[1] / "docs" / "iam"


def role_policy(role: str) -> dict[str, object]:
    known = {e.path: e for e in registry.commands()}
    commands = permissions.role_commands(role, known)
    return permissions.policy_document(
        permissions.union(*(known[c].actions for c in commands)))


def documents() -> dict[str, str]:
    """Every generated file of docs/iam/: name -> text."""
    files = {f"{role}.json": role_policy(role) for role in permissions.ROLES}
    files["cfn-execution.json"] = permissions.cfn_execution_policy()
    return {name: json.dumps(doc, indent=2) + "\n" for name, doc in sorted(files.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("role", nargs="?", help="print this policy for one stage")
    parser.add_argument("--stage")
    parser.add_argument("--account")
    parser.add_argument("--region")
    args = parser.parse_args(argv)
    if args.role:
        if not (args.stage and args.account and args.region):
            parser.error("a role's policy needs --stage, --account and --region")
        text = documents()[f"{args.role}.json"]
        sys.stdout.write(permissions.instantiate(text, stage=args.stage, account=args.account,
                                                 region=args.region))
        return 0
    DOCS.mkdir(parents=True, exist_ok=True)
    for name, text in documents().items():
        (DOCS / name).write_text(text)
        print(f"wrote docs/iam/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
