"""``garmaxctl config show | validate``: the resolved stage config and the ``.env``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from garmaxctl.settings import ALL_KEYS, EnvFile, Problem
from garmaxctl.shared import contract
from garmaxctl.shared.stages import StageConfig

SECRET_SET = "<secret: set>"


@dataclass
class EnvEntry:
    key: str
    state: str  # set | placeholder | unset | unknown-key
    value: str | None  # masked for secrets; None when unset
    secret: bool
    path: str | None  # Parameter Store path, when the key has one


@dataclass
class ConfigView:
    stage: str
    stage_config: dict[str, Any]
    env_file: str
    env_file_exists: bool
    entries: list[EnvEntry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def stage_config_dict(config: StageConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def describe(config: StageConfig, env: EnvFile) -> ConfigView:
    stage = str(config.stage)
    view = ConfigView(stage=stage, stage_config=stage_config_dict(config),
                      env_file=str(env.path), env_file_exists=env.exists,
                      problems=list(env.problems))
    keys = list(ALL_KEYS) + sorted(k for k in env.values if k not in ALL_KEYS)
    for key in keys:
        spec = contract.PARAMS_BY_ENV_KEY.get(key)
        secret = key in contract.SECRET_ENV_KEYS
        raw = env.values.get(key)
        if key not in ALL_KEYS:
            state = "unknown-key"
        elif raw is None or not raw.strip():
            state = "unset"
        elif contract.is_placeholder(raw):
            state = "placeholder"
        else:
            state = "set"
        if raw is None or state in ("unset",):
            shown = None
        elif state == "unknown-key":
            shown = "<set: not a key garmaxctl knows, value not shown>"
        elif secret:
            shown = SECRET_SET if state == "set" else "<secret: placeholder>"
        else:
            shown = raw
        view.entries.append(EnvEntry(key=key, state=state, value=shown, secret=secret,
                                     path=spec.full_path(stage) if spec else None))
    return view
