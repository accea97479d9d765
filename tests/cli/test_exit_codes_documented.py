"""docs/exit-codes.md's "Symbolic error codes" table names every code garmaxctl can emit.

A code reaches the JSON ``error.code`` in exactly these ways (``app.classify``):

1. a ``GarmaxError`` (raised, or an ``Outcome.failure``) built with ``code="..."``;
2. a ``GarmaxError`` built without ``code=``: its class's ``default_code`` (inherited
   from the nearest class that sets one);
3. a botocore/boto3 exception: ``aws.translate_error`` builds a ``GarmaxError`` — ways 1
   and 2 again, read from aws.py like every other module;
4. any other exception: the literal code in one of ``app.py``'s returned
   ``(exit code, code, message, data)`` tuples (``usage``, ``interrupted``,
   ``broken_pipe``, ``file_error``, ``internal_error``).

This test reads them from the source (no import of the command modules, nothing run):
every call of a ``GarmaxError`` class (found through the class definitions' bases, in
errors.py and anywhere else) under garmaxctl/, and app.py's return tuples. It fails
naming each emitted code the table lacks, each code in the table nothing emits, and each
code whose documented exit code is not the one its exception class carries.

A class default counts only when some call builds the class without ``code=``: a class
whose every call passes a code (``ToolMissingError``) does not emit its default. A class
called through a variable (``cls(...)``) would not be seen: call the class by name.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from garmaxctl.shared.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "garmaxctl"
DOC = REPO / "docs" / "exit-codes.md"
SECTION = "## Symbolic error codes"

# Codes composed at run time (``code=f"..."`` or ``code=variable``), which this test
# cannot read: "path: expression" -> every code it can take, each documented in the table.
# Empty today; a non-literal ``code=`` fails the test until it is listed here.
RUNTIME_CODES: dict[str, frozenset[str]] = {}


@dataclass
class ErrorClass:
    bases: list[str]
    default_code: str | None = None
    exit_code: int | None = None


@dataclass
class Emitted:
    sites: dict[str, list[str]] = field(default_factory=dict)  # code -> "path:line"
    exits: dict[str, set[int]] = field(default_factory=dict)  # code -> exit codes seen
    non_literal: list[str] = field(default_factory=list)

    def add(self, code: str, site: str, exit_code: int | None) -> None:
        self.sites.setdefault(code, []).append(site)
        exits = self.exits.setdefault(code, set())
        if exit_code is not None:
            exits.add(exit_code)


def _modules(root: Path) -> list[tuple[str, ast.Module]]:
    return [(str(path.relative_to(root.parent)), ast.parse(path.read_text(encoding="utf-8")))
            for path in sorted(root.rglob("*.py"))]


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _exit_value(node: ast.expr) -> int | None:
    """``ExitCode.USAGE`` -> 2; anything else (``exc.exit_code``) -> None."""
    if isinstance(node, ast.Attribute) and _last_name(node.value) == "ExitCode":
        return int(ExitCode[node.attr])
    return None


def error_classes(modules: list[tuple[str, ast.Module]]) -> dict[str, ErrorClass]:
    """Every class deriving from GarmaxError, with its own default_code and exit_code."""
    defined: dict[str, list[ErrorClass]] = {}
    for _, tree in modules:
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            cls = ErrorClass(bases=[b for b in map(_last_name, node.bases) if b])
            for statement in node.body:
                if isinstance(statement, ast.Assign | ast.AnnAssign) and statement.value:
                    targets = statement.targets if isinstance(statement, ast.Assign) \
                        else [statement.target]
                    names = {_last_name(t) for t in targets}
                    if "default_code" in names:
                        assert isinstance(statement.value, ast.Constant)
                        cls.default_code = statement.value.value
                    if "exit_code" in names:
                        cls.exit_code = _exit_value(statement.value)
            defined.setdefault(node.name, []).append(cls)
    errors = {"GarmaxError"}
    while True:  # the subclasses, to a fixed point
        more = {name for name, found in defined.items() if name not in errors and
                any(errors.intersection(cls.bases) for cls in found)}
        if not more:
            break
        errors |= more
    twice = sorted(name for name in errors if len(defined[name]) > 1)
    assert not twice, f"error classes defined twice (this test resolves them by name): {twice}"
    return {name: defined[name][0] for name in errors}


def _inherited(classes: dict[str, ErrorClass], name: str, attribute: str) -> object:
    while True:
        cls = classes[name]
        value = getattr(cls, attribute)
        if value is not None:
            return value
        name = next(b for b in cls.bases if b in classes)


def emitted_codes(root: Path = SOURCE) -> Emitted:
    modules = _modules(root)
    classes = error_classes(modules)
    found = Emitted()
    for path, tree in modules:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _last_name(node.func) in classes:
                name = _last_name(node.func)
                assert name is not None
                site = f"{path}:{node.lineno}"
                exit_code = _inherited(classes, name, "exit_code")
                assert isinstance(exit_code, int)
                given = [k for k in node.keywords if k.arg in ("code", None)]
                if not given:
                    default = _inherited(classes, name, "default_code")
                    assert isinstance(default, str)
                    found.add(default, site, exit_code)
                elif isinstance(given[0].value, ast.Constant) and given[0].arg == "code":
                    found.add(given[0].value.value, site, exit_code)
                else:
                    key = f"{path}: {ast.unparse(given[0])}"
                    if key not in RUNTIME_CODES:
                        found.non_literal.append(f"{site}: {ast.unparse(given[0])}")
                    for code in RUNTIME_CODES.get(key, ()):
                        found.add(code, site, None)
            # app.py's classification: return (exit code, "code", message, data)
            if path == f"{root.name}/app.py" and isinstance(node, ast.Return) and \
                    isinstance(node.value, ast.Tuple) and len(node.value.elts) == 4:
                exit_node, code_node = node.value.elts[:2]
                if isinstance(code_node, ast.Constant) and isinstance(code_node.value, str):
                    exits = [_exit_value(n) for n in ast.walk(exit_node)
                             if isinstance(n, ast.Attribute)]
                    known = [e for e in exits if e is not None]
                    for exit_code in known or [None]:
                        found.add(code_node.value, f"{path}:{node.lineno}", exit_code)
    return found


def documented_codes(text: str) -> dict[str, set[int]]:
    """error.code -> the exit codes its row of the table names."""
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[int]] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        codes_cell, exit_cell = line.split(" | ")[:2]
        exits = {int(n) for n in re.findall(r"\d+", exit_cell)}
        assert exits, f"a row without an exit code: {line[:80]}"
        for code in re.findall(r"`([a-z_]+)`", codes_cell):
            assert code not in rows, f"{code} has two rows"
            rows[code] = exits
    return rows


def test_the_collector_sees_every_way_a_code_is_made() -> None:
    """Guard against a collector that silently finds nothing: one code of each way."""
    found = emitted_codes()
    assert "access_denied" in found.sites  # 1: code="..." (in aws.translate_error)
    assert "parameter_not_found" in found.sites  # 2: a default_code outside errors.py
    assert "stack_not_found" in found.sites  # 2: a default_code in errors.py
    assert "broken_pipe" in found.sites and found.exits["file_error"] == {1, 2}  # 4
    assert len(found.sites) > 80


def test_a_default_counts_only_when_a_call_gives_no_code(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "errors.py").write_text(
        "class GarmaxError(Exception):\n    exit_code = ExitCode.FAILURE\n"
        "    default_code = 'failed'\n"
        "class Refused(GarmaxError):\n    exit_code = ExitCode.USAGE\n"
        "    default_code = 'refused'\n"
        "class Named(Refused):\n    default_code = 'never_emitted'\n")
    (root / "mod.py").write_text(
        "def f():\n    raise Refused('x')\n"
        "def g():\n    return errors.Named('x', code='named', hint='h')\n")
    (root / "app.py").write_text(
        "def classify(exc):\n    return ExitCode.INTERRUPTED, 'stopped', 'm', None\n")
    found = emitted_codes(root)
    assert found.exits == {"refused": {2}, "named": {2}, "stopped": {130}}
    assert found.sites["named"] == ["pkg/mod.py:4"]


def test_every_emitted_code_is_in_the_table_and_every_row_is_emitted() -> None:
    found = emitted_codes()
    assert not found.non_literal, (
        "a code composed at run time cannot be checked: use a literal, or list every code "
        f"it can take in RUNTIME_CODES: {found.non_literal}")
    documented = documented_codes(DOC.read_text(encoding="utf-8"))
    missing = [f"{code} (raised at {', '.join(sorted(found.sites[code])[:3])})"
               for code in sorted(set(found.sites) - set(documented))]
    stale = sorted(set(documented) - set(found.sites))
    assert not missing, f"codes garmaxctl can emit, missing from {DOC.name}'s table: " \
                        f"{missing}"
    assert not stale, f"codes in {DOC.name}'s table that nothing emits any more: {stale}"


def test_each_row_says_the_exit_code_its_exceptions_carry() -> None:
    found = emitted_codes()
    documented = documented_codes(DOC.read_text(encoding="utf-8"))
    wrong = [f"{code}: table {sorted(documented[code])}, code {sorted(exits)}"
             for code, exits in sorted(found.exits.items())
             if code in documented and exits and exits != documented[code]]
    assert not wrong, f"exit codes in {DOC.name} differ from the exceptions': {wrong}"


def test_the_table_parser_reads_grouped_rows() -> None:
    text = (f"{SECTION} (x)\n\n| error.code | exit | when |\n|---|---|---|\n"
            "| `a_code`, `b_code` | 1 | when `not_a_code` |\n| `c` | 2 or 1 | x |\n"
            "\n## Next\n| `d` | 3 | y |\n")
    assert documented_codes(text) == {"a_code": {1}, "b_code": {1}, "c": {1, 2}}
