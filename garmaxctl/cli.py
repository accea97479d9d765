"""What every command shares, below both ``garmaxctl.app`` and ``garmaxctl.commands``.

- :class:`GlobalOptions`: the run's global options (on ``ctx.obj``), with the run's one
  AWS target and stage target, and the parsed ``.env``;
- :func:`confirm`: DESIGN.md's confirmation rule;
- :class:`GarmaxGroup`: the Typer group class. It builds the command tree lazily from
  ``garmaxctl.registry``: listing commands (``--help``) imports no command module; a
  command's module is imported when that command is resolved to run.

Nothing here imports boto3, pydantic or aws_cdk at import time.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer import _click as click  # Typer 0.29 vendors Click
from typer.core import TyperCommand, TyperGroup

from garmaxctl import output, registry
from garmaxctl.shared.errors import ConfirmationDeclined, ConfirmationRequired

if TYPE_CHECKING:
    from garmaxctl.aws import AwsTarget
    from garmaxctl.settings import EnvFile
    from garmaxctl.shared.stages import Stage, StageConfig
    from garmaxctl.stage.target import StageTarget


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
    _target: Any = field(default=None, repr=False)
    _env: Any = field(default=None, repr=False)

    @classmethod
    def create(cls, *, stage: str, **kwargs: Any) -> GlobalOptions:
        from garmaxctl.shared.stages import normalize_stage  # not on --help's path

        return cls(stage=normalize_stage(stage), **kwargs)

    @property
    def stage_config(self) -> StageConfig:
        from garmaxctl.shared.stages import get_stage_config

        return get_stage_config(self.stage)

    @property
    def aws(self) -> AwsTarget:
        """The run's one AWS target (one boto3 session per run)."""
        if self._aws is None:
            from garmaxctl.aws import AwsTarget

            self._aws = AwsTarget(stage=self.stage_config, profile=self.profile,
                                  region=self.region, endpoint_url=self.endpoint_url,
                                  command=output.options().command)
            for warning in self._aws.warnings:
                output.warn(warning)
        return self._aws

    @property
    def target(self) -> StageTarget:
        """The run's stage target (the stage layer every service receives)."""
        if self._target is None:
            from garmaxctl.stage.target import StageTarget

            self._target = StageTarget(self.aws)
        return self._target

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


def stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def confirm(opts: GlobalOptions, action: str, *, always: bool = False,
            type_stage_name: bool = False) -> None:
    """DESIGN.md "Confirmation": PROD changes (or ``always``) need a yes.

    ``--yes`` approves. Without it, a terminal is asked; without a terminal the change is
    refused (exit 2) — nothing ever waits for input in CI.
    """
    needed = always or opts.stage.value == "PROD"
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


# --------------------------------------------------------------------------- the tree

@contextlib.contextmanager
def until_ctrl_c() -> Iterator[None]:
    """A follower or watcher runs inside this: Ctrl-C ends it normally (exit 0, and under
    ``-o json`` the closing line of the stream), as docs/exit-codes.md says."""
    try:
        yield
    except KeyboardInterrupt:
        output.note("stopped (Ctrl-C)")


def load_command(entry: registry.Entry) -> click.Command:
    """Import the command's module and make its Click command (Typer does the options)."""
    module = importlib.import_module(entry.import_path)
    function = getattr(module, entry.function or entry.name)
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    text = entry.help if entry.alias else (function.__doc__ or entry.help)
    holder.command(entry.name, help=text, hidden=entry.hidden)(function)
    return typer.main.get_command(holder)


class Placeholder(TyperCommand):
    """A registered command before its module is imported: enough for listings."""

    def __init__(self, entry: registry.Entry) -> None:
        super().__init__(name=entry.name, help=entry.help, short_help=entry.help,
                         hidden=entry.hidden)
        self.entry = entry


class GarmaxGroup(TyperGroup):
    """A group whose children come from ``garmaxctl.registry``, loaded when resolved.

    Records the full command path for the JSON envelope and turns Ctrl-C into
    :class:`Interrupted` so JSON mode still prints its document.
    """

    def __init__(self, *, path: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        extra = dict(self.commands)  # commands added in code (tests' scaffolds)
        self.commands = {}
        for entry in registry.children(path):
            self.commands[entry.name] = (
                GarmaxGroup(name=entry.name, help=entry.help, path=entry.words,
                            no_args_is_help=True) if entry.is_group else Placeholder(entry))
        self.commands.update(extra)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, Placeholder):
            command = load_command(command.entry)
        if command is not None:
            words = [*ctx.command_path.split()[1:], command.name or name or ""]
            output.configure(command=" ".join(words))
        return name, command, rest

    def invoke(self, ctx: click.Context) -> Any:
        from garmaxctl.shared.errors import Interrupted

        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, typer.Abort):
            # Typer would turn these into a silent Exit(130); JSON mode needs its document.
            raise Interrupted("interrupted") from None
