"""Shell completion: Typer's (``--install-completion``, ``--show-completion``), taught
garmaxctl's values (README, "Shell completion").

The shell runs ``garmaxctl`` with ``_GARMAXCTL_COMPLETE=complete_{bash,zsh,fish,...}`` and
the words typed so far; Click walks the command tree as far as those words go (a
command's module is imported only when the words name that command) and asks the
parameter under the cursor for its values:

- ``--stage/-s``: LOCAL, DEV, QA, PROD, by a prefix in any case (``-s d`` -> ``DEV``);
  ``--output/-o``: table, json;
- a function (``logs tail``, ``logs query``, ``logs errors``): the short names of
  ``contract.FUNCTION_SHORT_NAMES`` not given yet;
- an alarm (``alarms show/history/test/mute/unmute``): the names the last ``alarms
  list`` saw on the stage given on the line (else ``GARMAX_STAGE``, else LOCAL), read
  from its cache (``garmaxctl.stage.alarms.cached_names``). No cache, no names.

Completing never calls AWS (nothing here imports boto3), never prompts, prints nothing
but the completions and never fails: a completer that raises offers nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from typer import _click as click  # Typer 0.29 vendors Click
from typer._click.shell_completion import CompletionItem, ShellComplete

# --------------------------------------------------------------------------- root options

def complete_stage(ctx: click.Context, param: click.Parameter,
                   incomplete: str) -> list[CompletionItem]:
    """``--stage``: the four stages, a prefix in any case (Click's ``shell_complete``)."""
    from garmaxctl.shared.stages import STAGE_ORDER

    wanted = incomplete.strip().upper()
    return [CompletionItem(s.value) for s in STAGE_ORDER if s.value.startswith(wanted)]


def complete_output(ctx: click.Context, param: click.Parameter,
                    incomplete: str) -> list[CompletionItem]:
    """``--output``: table or json, a prefix in any case."""
    return [CompletionItem(m) for m in ("table", "json") if m.startswith(incomplete.lower())]


def teach_root_options(group: click.Command) -> None:
    """Give the root's ``--stage`` and ``--output`` their values. Typer's ``autocompletion``
    keeps only values that start with the typed text in its case (``d`` would not offer
    ``DEV``), so these are Click's own per-parameter completers."""
    completers = {"stage": complete_stage, "output_mode": complete_output}
    for param in group.params:
        if param.name in completers:
            param._custom_shell_complete = completers[param.name]


# --------------------------------------------------------------------------- commands

def functions(ctx: click.Context, incomplete: str) -> list[tuple[str, str]]:
    """A function argument (Typer ``autocompletion``): the short names not given yet, each
    with its function's name."""
    from garmaxctl.shared.contract import FUNCTION_SHORT_NAMES

    given = set(ctx.params.get("functions") or ())
    return [(short, function.value) for short, function in FUNCTION_SHORT_NAMES.items()
            if short not in given]


def line_stage(ctx: click.Context) -> str | None:
    """The stage of the line being completed: ``--stage`` wherever it was typed (the root
    hoists it), else ``GARMAX_STAGE``, else LOCAL (Click resolved both as it parsed);
    None for a name that is no stage."""
    from garmaxctl.shared.stages import normalize_stage

    value = ctx.find_root().params.get("stage") or os.environ.get("GARMAX_STAGE") or "LOCAL"
    try:
        return normalize_stage(str(value)).value
    except Exception:
        return None


def alarms(ctx: click.Context, incomplete: str) -> list[str]:
    """An alarm argument (Typer ``autocompletion``): the stage's alarm names from the cache
    ``alarms list`` writes (short names; full names once the text starts like one)."""
    from garmaxctl.shared.contract import ALARM_PREFIX
    from garmaxctl.stage import alarms as stage_alarms

    stage = line_stage(ctx)
    if stage is None:
        return []
    typed, prefix = incomplete.lower(), ALARM_PREFIX.lower()  # "garmaxai-"
    full = len(typed) >= 3 and (typed.startswith(prefix) or prefix.startswith(typed))
    return stage_alarms.cached_names(stage, short=not full)


# --------------------------------------------------------------------------- the shells

# garmaxctl.app's split of a command line: (global options with their values, the rest).
Split = Callable[[Sequence[str]], tuple[list[str], list[str]]]


def completion_args(args: list[str], split: Split, takes_value: Callable[[str], bool]
                    ) -> list[str]:
    """The typed words as the root parses them: global options in front, as it hoists them
    for a run (``alarms show -s dev <TAB>`` completes DEV's alarms). With the cursor on a
    global option's value (``alarms show -s <TAB>``) only the global options are kept, so
    that the root's option answers rather than the command's argument."""
    # bash splits ``--stage=dev`` into ``--stage``, ``=``, ``dev``
    args = [t for i, t in enumerate(args) if not (t == "=" and i and takes_value(args[i - 1]))]
    if args and takes_value(args[-1]) and "--" not in args:
        front, _ = split(args[:-1])
        return [*front, args[-1]]
    front, rest = split(args)
    return front + rest


class _GarmaxShell(ShellComplete):
    """Mixed into each of Typer's shell classes (see :func:`shell_class`)."""

    split: Split
    takes_value: Callable[[str], bool]

    def get_completions(self, args: list[str], incomplete: str) -> list[CompletionItem]:
        try:
            words = completion_args(list(args), type(self).split, type(self).takes_value)
            return super().get_completions(words, incomplete)
        except Exception:  # never a traceback in the user's shell: no completions
            return []

    def format_completion(self, item: CompletionItem) -> str:
        if item.help and self.name != "bash":  # Typer renders help with rich_utils: lean
            from garmaxctl.cli import import_rich_utils

            import_rich_utils()
        return super().format_completion(item)  # type: ignore[safe-super]  # the shell's


def shell_class(base: type[ShellComplete], split: Split,
                takes_value: Callable[[str], bool]) -> type[ShellComplete]:
    """Typer's class for one shell, completing the command line as garmaxctl parses it."""
    return type(f"Garmax{base.__name__}", (_GarmaxShell, base),
                {"split": staticmethod(split), "takes_value": staticmethod(takes_value)})


def use_garmax_shells(split: Split, takes_value: Callable[[str], bool]) -> None:
    """Register garmaxctl's shell classes over Typer's (which Typer registers when it
    builds a command with ``add_completion``): called only when completing."""
    from typer._click import shell_completion
    from typer._completion_classes import completion_init

    completion_init()
    for name in ("bash", "zsh", "fish", "powershell", "pwsh"):
        base = shell_completion.get_completion_class(name)
        if base is not None and not issubclass(base, _GarmaxShell):
            shell_completion.add_completion_class(shell_class(base, split, takes_value), name)
