"""Command modules: thin — parse options, call one service, render the result.

This package holds what every command shares: the run's global options
(:class:`GlobalOptions`, on ``ctx.obj``), the Typer factory, and the confirmation rule.
Nothing here imports boto3, pydantic or aws_cdk at import time.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from garmaxctl import output
from garmaxctl.errors import ConfirmationDeclined, ConfirmationRequired
from garmaxctl.stages import Stage, StageConfig, get_stage_config, normalize_stage

if TYPE_CHECKING:
    from garmaxctl.aws import AwsTarget
    from garmaxctl.settings import EnvFile


@dataclass
class GlobalOptions:
    stage: Stage
    profile: str | None
    region: str | None
    endpoint_url: str | None
    output: str
    yes: bool
    verbose: bool
    no_color: bool
    env_file: Path
    _aws: Any = field(default=None, repr=False)
    _env: Any = field(default=None, repr=False)

    @classmethod
    def create(cls, *, stage: str, **kwargs: Any) -> GlobalOptions:
        return cls(stage=normalize_stage(stage), **kwargs)

    @property
    def stage_config(self) -> StageConfig:
        return get_stage_config(self.stage)

    @property
    def aws(self) -> AwsTarget:
        """The run's one AWS target (one boto3 session per run)."""
        if self._aws is None:
            from garmaxctl.aws import AwsTarget

            self._aws = AwsTarget(stage=self.stage_config, profile=self.profile,
                                  region=self.region, endpoint_url=self.endpoint_url)
            for warning in self._aws.warnings:
                output.warn(warning)
        return self._aws

    def env(self) -> EnvFile:
        """The ``.env`` file, parsed once; its secrets are registered for redaction."""
        if self._env is None:
            from garmaxctl import redact
            from garmaxctl.settings import load_env_file

            self._env = load_env_file(self.env_file)
            redact.register(*self._env.secret_values())
        return self._env


def options(ctx: typer.Context) -> GlobalOptions:
    obj = ctx.find_root().obj
    if not isinstance(obj, GlobalOptions):  # pragma: no cover - the root callback sets it
        raise RuntimeError("global options are not set")
    return obj


def new_typer(help_text: str) -> typer.Typer:
    from garmaxctl.app import GarmaxGroup

    return typer.Typer(cls=GarmaxGroup, help=help_text, no_args_is_help=True,
                       add_completion=False, pretty_exceptions_enable=False)


def stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def confirm(opts: GlobalOptions, action: str, *, always: bool = False,
            type_stage_name: bool = False) -> None:
    """DESIGN.md "Confirmation": PROD changes (or ``always``) need a yes.

    ``--yes`` approves. Without it, a terminal is asked; without a terminal the change is
    refused (exit 2) — nothing ever waits for input in CI.
    """
    needed = always or opts.stage is Stage.PROD
    if not needed or opts.yes:
        return
    if not stdin_is_tty():
        raise ConfirmationRequired(
            f"refusing to {action} on {opts.stage} without confirmation: no terminal to ask",
            hint="pass --yes to approve",
        )
    if type_stage_name:
        answer = typer.prompt(f"{action} on {opts.stage}: type the stage name to confirm",
                              default="", show_default=False, err=True)
        if answer.strip() != opts.stage.value:
            raise ConfirmationDeclined("confirmation declined: the stage name did not match")
        return
    if not typer.confirm(f"{action} on {opts.stage}?", default=False, err=True):
        raise ConfirmationDeclined("confirmation declined")
