from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.conftest import cli, project, write_env  # noqa: F401  (fixtures)


def chain_file(stage: str) -> Path:
    from garmaxctl.services import audit

    return audit.chain_path(stage)


def chain(stage: str) -> list[dict[str, Any]]:
    path = chain_file(stage)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() \
        else []
