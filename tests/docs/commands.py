"""The `garmaxctl …` command lines of the docs, and a check of each against the real command
tree (tests/docs/test_docs_commands.py; docs/cli.md's examples go through it too).

What counts as a command line (the rules; nothing is skipped by name):

1. In a fenced code block (```` ``` ```` or ``~~~``) of a shell language — ``bash``, ``sh``,
   ``shell``, ``console``, ``zsh`` or no language at all — every line, after joining lines
   continued with ``\\`` and dropping a leading prompt (``$ ``): the line is split into
   shell commands at ``&&``, ``||``, ``|``, ``;`` and ``$(…)``, and each command whose first
   word (after ``VAR=value`` assignments) is ``garmaxctl`` is one. In a ``yaml``/``yml``
   block the same holds for the value of a ``run:`` key (a workflow step). Blocks of other
   languages (``json``, ``python``, ``text``, ``mermaid``, …) hold output and code, not
   command lines: quote an old or made-up command in a ``text`` block.
2. In prose (outside fenced blocks), every inline code span that starts with
   ``garmaxctl `` (or is exactly ``garmaxctl``), after a prompt or ``VAR=value``
   assignments (``COLUMNS=80 garmaxctl verify | less``).
3. A usage synopsis is a command line too: ``[…]`` marks what is optional, ``a|b`` inside
   brackets the alternatives, ``...`` a repetition, a closing
   ``(alias: NAME)`` another name of the command (checked to exist), and in a fenced block
   an indented line that starts with ``[`` continues the synopsis above it.

A command is checked through Click, as the CLI parses it: global options are hoisted with
the real ``garmaxctl.app.hoist_global_options`` (so ``-s DEV`` and ``-o json`` anywhere are
fine), each word below the root is resolved with the group's ``get_command`` (aliases are
commands of their own), each option must be one of the resolved command's (``--opt=value``
and ``-ojson`` forms included; a flag takes no value; an option that takes one gets one),
and a command takes no more arguments than it declares. Values and arguments are not
checked, so placeholders (``<stage>``, ``{STAGE}``, ``RUN``, ``$VAR``) are fine there; a
placeholder is never a command or an option.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import typer
from typer import _click as click
from typer.core import TyperArgument, TyperGroup, TyperOption

from garmaxctl import app as app_module
from garmaxctl import cli

REPO = Path(__file__).resolve().parents[2]
SHELL_LANGUAGES = {"", "bash", "sh", "shell", "console", "zsh"}
YAML_LANGUAGES = {"yaml", "yml"}
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# A redirection (``> out.txt``, ``2>&1``, ``<in``) ends a command's words; ``<stage>`` does not.
REDIRECTION = re.compile(r"^\d*(>>?|<)(?![A-Za-z_ -]+>$)")


@dataclass(frozen=True)
class DocCommand:
    """One command line of a doc: where it is and its words (``garmaxctl`` first)."""

    file: str  # relative to the repository
    line: int  # 1-based, where the (first line of the) command is
    text: str  # the command as written (one line)
    words: tuple[str, ...]
    synopsis: bool = False  # usage notation (rule 3)

    def where(self) -> str:
        return f"{self.file}:{self.line}"


# --------------------------------------------------------------------------- extraction

def doc_files() -> list[Path]:
    """README.md and every Markdown file under docs/, in a stable order."""
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def extract(text: str, file: str) -> list[DocCommand]:
    """Every ``garmaxctl`` command line of one Markdown document (the rules above)."""
    found: list[DocCommand] = []
    lines = text.splitlines()
    fence: tuple[str, str] | None = None  # (marker, language) of the open block
    pending: list[str] = []  # a shell line continued with a backslash
    pending_at = last_at = 0
    for number, line in enumerate(lines, start=1):
        opening = FENCE.match(line)
        if fence is None:
            if opening:
                fence = (opening.group(2), opening.group(3).lower())
                continue
            found += _spans(line, file, number)
            continue
        marker, language = fence
        if line.strip().startswith(marker[0] * len(marker)) and not line.strip().strip(
                marker[0]):
            fence = None
            pending = []
            continue
        if language in YAML_LANGUAGES:
            match = re.match(r"^\s*(?:-\s+)?run:\s*(.*)$", line)
            if match and match.group(1) not in ("|", ">", ""):
                found += _commands(match.group(1), file, number)
            continue
        if language not in SHELL_LANGUAGES:
            continue
        if re.match(r"^\s+\[", line) and found and found[-1].line == last_at \
                and found[-1].synopsis:
            last = found.pop()  # a synopsis continued (rule 3)
            found += _commands(last.text + " " + line.strip(), file, last.line)
            last_at = number
            continue
        if not pending:
            pending_at = number
        stripped = line.rstrip()
        if stripped.endswith("\\") and not stripped.endswith("\\\\"):
            pending.append(stripped[:-1])
            continue
        whole = " ".join([*pending, stripped])
        pending = []
        found += _commands(whole, file, pending_at)
        last_at = pending_at
    return found


def _spans(line: str, file: str, number: int) -> list[DocCommand]:
    out = []
    for match in CODE_SPAN.finditer(line):
        code = match.group(2).strip().replace("\\|", "|")  # a `|` escaped in a table cell
        first = re.sub(r"^(\$\s+)?([A-Za-z_][A-Za-z0-9_]*=\S*\s+)*", "", code)
        if first == "garmaxctl" or first.startswith("garmaxctl "):
            out += _commands(code, file, number)
    return out


ALIAS_NOTE = re.compile(r"\s*\(alias(?:es)?:\s*([^)]*)\)\s*$")


def _commands(shell_line: str, file: str, number: int) -> list[DocCommand]:
    line = re.sub(r"^\s*(\$|%|>)\s+", "", shell_line)  # a prompt
    out = []
    for segment in split_shell(line):
        note = ALIAS_NOTE.search(segment)
        aliases = re.split(r"[\s,|]+", note.group(1).strip()) if note else []
        code = segment[:note.start()] if note else segment
        try:
            words = shlex.split(code, comments=True)
        except ValueError:  # an unclosed quote: take the words as they are
            words = code.split()
        synopsis = any(w.startswith("[") for w in words)
        if synopsis:
            words = [w for w in (_unbracket(w) for w in words) if w]
        while words and ASSIGNMENT.match(words[0]):
            words = words[1:]
        for cut, word in enumerate(words):  # a redirection ends the command's words
            if REDIRECTION.match(word):
                words = words[:cut]
                break
        if words and words[0] == "garmaxctl":
            out.append(DocCommand(file, number, segment.strip(), tuple(words),
                                  synopsis or bool(note)))
            path = [w for w in words[1:] if not w.startswith("-")][:2]
            for alias in filter(None, aliases):  # the alias's own path must exist
                named = (*words[:1], *path[:-1], alias) if path else ()
                if named:
                    out.append(DocCommand(file, number, " ".join(named), named, False))
    return out


def _unbracket(word: str) -> str:
    """A synopsis word without its optional-part brackets and repetition marks."""
    word = word.lstrip("[")
    while word.endswith(("]", "...", "…")):
        word = word.removesuffix("]").removesuffix("...").removesuffix("…")
    return word


def split_shell(line: str) -> list[str]:
    """A shell line's commands: split at ``&&``, ``||``, ``|``, ``;``, ``$(`` and ``)``
    outside quotes; a ``#`` comment (at a word's start, outside quotes) ends the line."""
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    brackets = substitutions = 0
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
            i += 1
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            break
        elif ch == "[":
            brackets += 1
        elif ch == "]":
            brackets = max(brackets - 1, 0)
        elif ch == "|" and brackets:  # alternatives in a synopsis (rule 3)
            pass
        elif line.startswith(("&&", "||", "$("), i):
            substitutions += line.startswith("$(", i)
            parts.append("".join(current))
            current = []
            i += 2
            continue
        elif ch == ")" and not substitutions:  # a ")" that closes no "$(": part of a word
            pass
        elif ch in "|;)`":
            substitutions -= ch == ")"
            parts.append("".join(current))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def doc_commands() -> list[DocCommand]:
    """Every command line of README.md and docs/."""
    found: list[DocCommand] = []
    for path in doc_files():
        found += extract(path.read_text(), str(path.relative_to(REPO)))
    return found


# --------------------------------------------------------------------------- the tree

@cache
def root() -> TyperGroup:
    """The real root group (the registry's tree, as ``garmaxctl`` builds it)."""
    command = typer.main.get_command(app_module.app)
    assert isinstance(command, TyperGroup)
    return command


def root_context() -> click.Context:
    return click.Context(root(), info_name="garmaxctl", **root().context_settings)


def subcommand(ctx: click.Context, name: str) -> click.Context | None:
    """The context of ``name`` below ``ctx``'s group, resolved as the CLI resolves it (its
    module imported); None if there is no such command."""
    group = ctx.command
    assert isinstance(group, TyperGroup)
    command = group.get_command(ctx, name)
    if isinstance(command, cli.Placeholder):
        command = loaded(command.entry.path)
    if command is None:
        return None
    return click.Context(command, parent=ctx, info_name=name, **command.context_settings)


@cache
def loaded(path: str) -> click.Command:
    """A registered command's Click command, its module imported."""
    from garmaxctl import registry

    entry = registry.find(path)
    assert entry is not None, path
    return cli.load_command(entry)


def check(words: tuple[str, ...]) -> list[str]:
    """What in ``garmaxctl WORDS…`` does not exist in the command tree ([] if all does)."""
    return walk(words)[1]


def walk(words: tuple[str, ...]) -> tuple[click.Context, list[str]]:
    """The context of the command ``garmaxctl WORDS…`` runs (as far as it resolves), and
    what in the line does not exist."""
    assert words and words[0] == "garmaxctl"
    args = app_module.hoist_global_options(list(words[1:]))
    ctx = root_context()
    positional = 0
    problems: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        where = f"`{ctx.command_path}`"
        if word == "--":
            positional += len(args) - i
            break
        if word.startswith("-") and len(word) > 1 and not re.match(r"^-\d", word):
            option, value, problem = _option(ctx, word)
            if problem:
                problems.append(problem.replace("{where}", where))
                continue
            assert option is not None
            if option.is_flag or option.count:
                if value is not None:
                    problems.append(f"option {word.split('=')[0]} of {where} takes no value")
                continue
            if value is None:
                if i >= len(args):
                    problems.append(f"option {word} of {where} needs a value")
                    break
                i += 1  # its value: any word (garmaxctl's options take free values)
            continue
        if isinstance(ctx.command, TyperGroup):
            child = subcommand(ctx, word)
            if child is None:
                known = ", ".join(ctx.command.list_commands(ctx))
                problems.append(f"no command `{word}` in {where} (it has: {known})")
                return ctx, problems
            ctx = child
            continue
        positional += 1
    return ctx, problems + _arguments(ctx, positional)


def options_of(ctx: click.Context) -> list[TyperOption]:
    """The command's options, its help option included."""
    return [p for p in ctx.command.get_params(ctx) if isinstance(p, TyperOption)]


def _option(ctx: click.Context, word: str
            ) -> tuple[TyperOption | None, str | None, str | None]:
    """The option ``word`` names (and a value attached to it), or what is wrong."""
    names = {n: o for o in options_of(ctx) for n in [*o.opts, *o.secondary_opts]}
    if word.startswith("--"):
        name, eq, value = word.partition("=")
        if name in names:
            return names[name], value if eq else None, None
    else:
        if word in names:
            return names[word], None, None
        if word[:2] in names and not names[word[:2]].is_flag:  # -ojson
            return names[word[:2]], word[2:], None
    name = word.split("=")[0]
    close = difflib.get_close_matches(name, list(names), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return None, None, f"no option {name} in {{where}}{hint}"


def _arguments(ctx: click.Context, given: int) -> list[str]:
    if isinstance(ctx.command, TyperGroup):
        return []
    arguments = [p for p in ctx.command.params if isinstance(p, TyperArgument)]
    if any(a.nargs < 0 for a in arguments):
        return []
    takes = sum(a.nargs for a in arguments)
    if given <= takes:
        return []
    return [f"`{ctx.command_path}` takes {takes} argument(s), the line gives {given} "
            "(an unknown subcommand?)"]


def problems_of(commands: list[DocCommand]) -> Iterator[str]:
    """One message per wrong command line: file:line, the line, what does not exist."""
    for doc in commands:
        wrong = check(doc.words)
        if wrong:
            yield f"{doc.where()}: `{doc.text}`: " + "; ".join(wrong)
