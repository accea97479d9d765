"""Logs Insights presets: the repository's file, extended by the project's.

The built-in presets live in ONE file, ``garmaxctl/data/log-queries.toml`` (package data);
a project adds or replaces presets in ``garmaxctl.log-queries.toml`` next to its ``.env``
(same format; a preset there with a built-in's name replaces it). docs/logs.md,
"Logs Insights", describes the format.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from garmaxctl.shared.errors import ConfigError, UsageError

PROJECT_FILE = "garmaxctl.log-queries.toml"
BUILT_IN = "built-in"
ERRORS_PRESET = "errors-by-function"  # what `logs errors` runs
_BIN = re.compile(r"^[1-9]\d*(s|m|h|d)$")
_KEYS = {"description", "query", "since", "functions", "bin"}


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    query: str  # may hold ``{bin}``
    since: str = "1h"
    functions: tuple[str, ...] = ()  # short names; all five when empty
    bin: str | None = None  # the default for ``{bin}``
    source: str = BUILT_IN  # "built-in" or the project file's path

    def query_text(self, bin: str | None = None) -> str:
        """The query with ``{bin}`` filled (``bin`` or the preset's default)."""
        period = bin or self.bin
        if "{bin}" in self.query:
            if period is None:
                raise ConfigError(f"preset {self.name!r} uses {{bin}} but sets no `bin`")
            return self.query.replace("{bin}", period)
        return self.query

    @property
    def one_line(self) -> str:
        return " ".join(self.query.split())


def check_bin(period: str) -> str:
    """A bin period as Insights' ``bin()`` takes it (``5m``, ``1h``, ``1d``, ``30s``)."""
    if not _BIN.match(period.strip()):
        raise UsageError(f"cannot use {period!r} as a bin", code="usage",
                         hint="give a period such as 30s, 5m, 1h or 1d")
    return period.strip()


def _presets(document: dict[str, Any], source: str) -> dict[str, Preset]:
    found: dict[str, Preset] = {}
    for name, table in document.items():
        where = f"preset {name!r} in {source}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where} is not a table", hint="see docs/logs.md")
        unknown = set(table) - _KEYS
        if unknown:
            raise ConfigError(f"{where} has unknown keys: {', '.join(sorted(unknown))}",
                              hint=f"use {', '.join(sorted(_KEYS))}")
        query, description = table.get("query"), table.get("description", "")
        functions = table.get("functions", [])
        if not isinstance(query, str) or not query.strip():
            raise ConfigError(f"{where} has no `query`")
        if not isinstance(description, str) or not isinstance(table.get("since", ""), str):
            raise ConfigError(f"{where}: `description` and `since` are strings")
        if not isinstance(functions, list) or not all(isinstance(f, str) for f in functions):
            raise ConfigError(f"{where}: `functions` is a list of short names")
        period = table.get("bin")
        if period is not None and (not isinstance(period, str) or not _BIN.match(period)):
            raise ConfigError(f"{where}: `bin` is a period such as 5m or 1h")
        found[name] = Preset(name=name, description=description, query=query.strip(),
                             since=table.get("since", "1h"), functions=tuple(functions),
                             bin=period, source=source)
    return found


def built_in() -> dict[str, Preset]:
    text = (resources.files("garmaxctl") / "data" / "log-queries.toml").read_text()
    return _presets(tomllib.loads(text), BUILT_IN)


def project_file(env_file: Path) -> Path:
    """Where a project keeps its own presets: beside its ``.env``."""
    return env_file.parent / PROJECT_FILE


def load(project: Path | None = None) -> dict[str, Preset]:
    """The built-in presets, extended (and overridden by name) by ``project`` if it exists."""
    presets = built_in()
    if project is not None and project.is_file():
        try:
            document = tomllib.loads(project.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{project} is not valid TOML: {exc}") from None
        presets |= _presets(document, str(project))
    return presets


def find(presets: dict[str, Preset], name: str) -> Preset:
    if name not in presets:
        raise UsageError(f"no preset {name!r}", code="usage",
                         hint=f"use one of {', '.join(sorted(presets))} "
                              "(`garmaxctl logs query --list`)")
    return presets[name]
