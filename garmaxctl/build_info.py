"""The git commit garmaxctl runs from, read from the checkout's git files (no ``git`` spawned).

``garmaxctl --version`` prints it beside the version. garmaxctl is installed editable from its
checkout (``make setup``), so the commit it was built from is the checkout's HEAD: read from
``<checkout>/.git`` the way git itself resolves it — ``HEAD`` holds a commit or
``ref: refs/heads/NAME``; the ref is a loose file or a line of ``packed-refs``; in a worktree
``.git`` is a file pointing at the worktree's git dir, whose ``commondir`` holds the refs.
Only the directory that holds the ``garmaxctl`` package is looked at: a copy installed into
some other repository's tree does not report that repository's commit. Anything unreadable
gives ``None`` ("commit unknown"), never an error: ``--version`` must always work.

Not reported: uncommitted changes (that needs the index and every file hashed: slow, and
``--version`` is on the start-up path).
"""

from __future__ import annotations

import re
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")  # SHA-1, or SHA-256 repositories


def commit(checkout: Path = CHECKOUT) -> str | None:
    """The full commit id HEAD points at, or None when it cannot be read."""
    try:
        git_dir = _git_dir(checkout / ".git")
        if git_dir is None:
            return None
        common = _common_dir(git_dir)
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
        for _ in range(5):  # a symbolic ref may point at another one; git stops at 5 too
            if _SHA.fullmatch(head):
                return head
            if not head.startswith("ref: "):
                return None
            head = _resolve(head[5:].strip(), git_dir, common) or ""
    except (OSError, UnicodeDecodeError):
        return None
    return None


def describe(checkout: Path = CHECKOUT) -> str:
    """``commit 1a2b3c4d5e6f`` (12 characters, as ``git log --abbrev=12``) or ``commit unknown``."""
    found = commit(checkout)
    return f"commit {found[:12]}" if found else "commit unknown"


def _git_dir(dot_git: Path) -> Path | None:
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
        text = dot_git.read_text(encoding="utf-8").strip()
        if text.startswith("gitdir: "):
            target = Path(text[8:].strip())
            return target if target.is_absolute() else (dot_git.parent / target).resolve()
    return None


def _common_dir(git_dir: Path) -> Path:
    pointer = git_dir / "commondir"
    if pointer.is_file():
        target = Path(pointer.read_text(encoding="utf-8").strip())
        return target if target.is_absolute() else (git_dir / target).resolve()
    return git_dir


def _resolve(ref: str, git_dir: Path, common: Path) -> str | None:
    """A ref's content: the loose file (the worktree's own first), else its packed line."""
    if ".." in Path(ref).parts:
        return None
    for base in (git_dir, common):
        loose = base / ref
        if loose.is_file():
            return loose.read_text(encoding="utf-8").strip()
    packed = common / "packed-refs"
    if packed.is_file():
        for line in packed.read_text(encoding="utf-8").splitlines():
            sha, _, name = line.partition(" ")
            if name.strip() == ref and _SHA.fullmatch(sha):
                return sha
    return None
