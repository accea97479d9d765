"""What every command shares, below both ``garmaxctl.app`` and ``garmaxctl.commands``.

- :class:`GlobalOptions`: the run's global options (on ``ctx.obj``), with the run's one
  AWS target and stage target, and the parsed ``.env``;
- :func:`confirm`: DESIGN.md's confirmation rule;
- :class:`GarmaxGroup`: the Typer group class. It builds the command tree lazily from
  ``garmaxctl.registry``: listing commands (``--help``) imports no command module; a
  command's module is imported when that command is resolved to run;
- :func:`import_rich_utils`: Typer's rich help without the ~30 ms of imports it makes for
  two features garmaxctl turns off (docs/architecture.md, "Start-up").

Nothing here imports boto3, pydantic or aws_cdk at import time.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer import _click as click  # Typer 0.29 vendors Click
from typer import core as typer_core
from typer.core import TyperCommand, TyperGroup

from garmaxctl import output, registry, run
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

    @property
    def reached_target(self) -> StageTarget | None:
        """The stage target if this run built it and reached the stage, else None."""
        target = self._target
        return target if target is not None and target.connected else None

    def known_caller(self) -> str | None:
        """The caller's ARN if this run already asked for it; on LOCAL, the emulator's
        identity when the run reached the emulator (a local call). Never a new AWS call
        on a real stage (the audit record's ``caller``)."""
        if self._aws is None:
            return None
        if self._aws.identity is None and self._aws.is_local \
                and self.reached_target is not None:
            try:
                self._aws.caller_identity()
            except Exception:  # the emulator went away: the record says null
                return None
        return (self._aws.identity or {}).get("arn")

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


# --------------------------------------------------------------------------- help

# typer.rich_utils imports these at module level for two features garmaxctl turns off:
# the "markdown" markup mode (garmaxctl's help uses Typer's default, "rich") and pretty
# tracebacks (``pretty_exceptions_enable=False``). With markdown_it, pygments, rich.pretty
# and attrs behind them they are ~30 ms of every ``--help``, the most of anything beyond
# Python + Typer + rich. So rich_utils is imported with stand-ins for them, which import
# the real module when first used; the help it renders is the same, byte for byte
# (tests/cli/test_help_and_imports.py).
RICH_UTILS_DEFERRED: dict[str, tuple[str, ...]] = {
    "rich.markdown": ("Markdown",),
    "rich.traceback": ("Traceback",),
}


class _Deferred(type):
    """The class of a stand-in: attribute look-ups (``Traceback.from_exception``) go to the
    real class, imported then."""

    def __getattr__(cls, attribute: str) -> Any:
        return getattr(cls.real(), attribute)

    def __repr__(cls) -> str:
        return f"<garmaxctl's stand-in for {cls.__module__}.{cls.__qualname__}>"


def _deferred(module_name: str, name: str) -> type:
    """A stand-in for ``module_name.name``: calling it makes an instance of the real one."""

    def real() -> Any:
        return getattr(importlib.import_module(module_name), name)

    def new(cls: type, *args: Any, **kwargs: Any) -> Any:
        return real()(*args, **kwargs)

    return _Deferred(name, (), {"__new__": new, "real": staticmethod(real),
                                "__module__": module_name, "__qualname__": name})


def _stand_in(module_name: str, names: tuple[str, ...]) -> types.ModuleType:
    module = types.ModuleType(module_name, "garmaxctl.cli's stand-in (import_rich_utils)")
    for name in names:
        setattr(module, name, _deferred(module_name, name))
    return module


def import_rich_utils() -> None:
    """Import ``typer.rich_utils`` with the modules of :data:`RICH_UTILS_DEFERRED` deferred.

    The stand-ins live in ``sys.modules`` only while rich_utils is imported: anything that
    imports ``rich.markdown`` later gets the real module. A Typer that imports more from
    them than the names above falls back to the plain import.
    """
    if "typer.rich_utils" in sys.modules:
        return
    stand_ins = {name: _stand_in(name, names) for name, names in RICH_UTILS_DEFERRED.items()
                 if name not in sys.modules}
    sys.modules.update(stand_ins)
    try:
        importlib.import_module("typer.rich_utils")
    except ImportError:
        pass  # the plain import below
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
    importlib.import_module("typer.rich_utils")


def _uses_rich_help(command: TyperCommand | TyperGroup) -> bool:
    return bool(typer_core.HAS_RICH and command.rich_markup_mode is not None)


class Command(TyperCommand):
    """A command's Click command: Typer's, with its help rendered as the groups' is."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if _uses_rich_help(self):
            import_rich_utils()
        super().format_help(ctx, formatter)

    def invoke(self, ctx: click.Context) -> Any:
        # The command runs: from here its end is audited (if it mutates) with what it was
        # given; a command line that did not parse ran nothing and is not recorded.
        current = run.current()
        current.invoked = True
        current.params = dict(ctx.params)
        current.options = ctx.find_root().obj
        return super().invoke(ctx)


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
    holder.command(entry.name, cls=Command, help=text, hidden=entry.hidden)(function)
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

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if _uses_rich_help(self):
            import_rich_utils()
        super().format_help(ctx, formatter)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, Placeholder):
            command = load_command(command.entry)
        if command is not None:
            words = [*ctx.command_path.split()[1:], command.name or name or ""]
            output.configure(command=" ".join(words))
            run.current().command = " ".join(words)
        return name, command, rest

    def invoke(self, ctx: click.Context) -> Any:
        from garmaxctl.shared.errors import Interrupted

        try:
            return super().invoke(ctx)
        except (KeyboardInterrupt, typer.Abort):
            # Typer would turn these into a silent Exit(130); JSON mode needs its document.
            raise Interrupted("interrupted") from None
