"""``garmaxctl config show | validate``."""

from __future__ import annotations

import typer

from garmaxctl import output
from garmaxctl.cli import options
from garmaxctl.shared.errors import ConfigError


def _flatten(values: dict, prefix: str = "") -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = []
    for key, value in values.items():
        if isinstance(value, dict):
            rows += _flatten(value, f"{prefix}{key}.")
        elif isinstance(value, (list, tuple)):
            rows.append((prefix + key, ", ".join(map(str, value)) or None))
        else:
            rows.append((prefix + key, value))
    return rows


def show(ctx: typer.Context) -> output.Outcome:
    """The stage's resolved config and the .env settings (secrets masked)."""
    from garmaxctl.services.config import describe

    opts = options(ctx)
    view = describe(opts.stage_config, opts.env())
    stage_rows = list(_flatten(view.stage_config))
    env_rows = [(e.key, e.state, e.value, e.path) for e in view.entries]
    tables = [
        output.Table(columns=("setting", "value"), rows=stage_rows,
                     title=f"stage {view.stage}"),
        output.Table(columns=("key", "state", "value", "parameter"), rows=env_rows,
                     title=f"{view.env_file}" + ("" if view.env_file_exists else " (missing)")),
    ]
    lines = [f"{len(view.problems)} problem(s): run `garmaxctl config validate`"] \
        if view.problems else []
    return output.Outcome(data=view, tables=tables, lines=lines)


def validate(ctx: typer.Context) -> output.Outcome:
    """Validate the .env file: exit 2 with each problem on its own row."""
    opts = options(ctx)
    env = opts.env()
    problems = [{"key": p.key, "line": p.line, "message": p.message} for p in env.problems]
    data = {"env_file": str(env.path), "exists": env.exists, "valid": env.valid,
            "problems": problems}
    if not env.exists:
        data["valid"] = False
        message = f"{env.path} not found: create it from .env.example, or pass --env-file"
        return output.Outcome(data=data, lines=[message],
                              failure=ConfigError(message, code="env_missing"))
    if env.problems:
        table = output.Table(columns=("line", "key", "problem"),
                             rows=[(p.line, p.key, p.message) for p in env.problems],
                             title=f"{env.path}: {len(env.problems)} problem(s)")
        message = f"{env.path} is invalid: {len(env.problems)} problem(s)"
        return output.Outcome(data=data, tables=[table],
                              failure=ConfigError(message, code="invalid_config"))
    return output.Outcome(data=data, lines=[f"{env.path} is valid"])
