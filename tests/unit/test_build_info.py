"""`--version`'s commit, read from the checkout's git files the way git resolves HEAD."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from garmaxctl import __version__, build_info

SHA_A = "1" * 40
SHA_B = "2" * 40


def _repo(tmp_path: Path, head: str) -> Path:
    git = tmp_path / "checkout" / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text(head + "\n")
    return git.parent


def test_branch_in_a_loose_ref(tmp_path: Path) -> None:
    checkout = _repo(tmp_path, "ref: refs/heads/main")
    (checkout / ".git/refs/heads/main").write_text(SHA_A + "\n")
    assert build_info.commit(checkout) == SHA_A
    assert build_info.describe(checkout) == "commit " + SHA_A[:12]


def test_branch_in_packed_refs_and_the_loose_ref_wins(tmp_path: Path) -> None:
    checkout = _repo(tmp_path, "ref: refs/heads/main")
    (checkout / ".git/packed-refs").write_text(
        "# pack-refs with: peeled fully-peeled sorted\n"
        f"{SHA_B} refs/heads/other\n{SHA_A} refs/heads/main\n^{SHA_B}\n")
    assert build_info.commit(checkout) == SHA_A
    (checkout / ".git/refs/heads/main").write_text(SHA_B + "\n")  # newer than the pack
    assert build_info.commit(checkout) == SHA_B


def test_detached_head(tmp_path: Path) -> None:
    assert build_info.commit(_repo(tmp_path, SHA_B)) == SHA_B


def test_a_worktree_reads_its_own_head_and_the_common_refs(tmp_path: Path) -> None:
    main = _repo(tmp_path, "ref: refs/heads/main")
    (main / ".git/refs/heads/feature").write_text(SHA_B + "\n")
    own = main / ".git/worktrees/wt"
    own.mkdir(parents=True)
    (own / "HEAD").write_text("ref: refs/heads/feature\n")
    (own / "commondir").write_text("../..\n")
    worktree = tmp_path / "wt"
    worktree.mkdir()
    (worktree / ".git").write_text(f"gitdir: {own}\n")
    assert build_info.commit(worktree) == SHA_B


@pytest.mark.parametrize("head", ["ref: refs/heads/gone", "ref: ../../../etc/passwd",
                                  "garbage", ""])
def test_what_cannot_be_read_is_unknown(tmp_path: Path, head: str) -> None:
    checkout = _repo(tmp_path, head)
    assert build_info.commit(checkout) is None
    assert build_info.describe(checkout) == "commit unknown"


def test_no_git_directory_is_unknown(tmp_path: Path) -> None:
    assert build_info.describe(tmp_path) == "commit unknown"


def test_this_checkout_agrees_with_git() -> None:
    if shutil.which("git") is None or not (build_info.CHECKOUT / ".git").exists():
        pytest.skip("not a git checkout, or no git to compare with")
    done = subprocess.run(["git", "-C", str(build_info.CHECKOUT), "rev-parse", "HEAD"],
                          capture_output=True, text=True, check=True)
    assert build_info.commit() == done.stdout.strip()


def test_the_changelog_names_this_version_first() -> None:
    changelog = (build_info.CHECKOUT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## (\d+\.\d+\.\d+)\b", changelog, flags=re.MULTILINE)
    assert versions and versions[0] == __version__, (
        f"CHANGELOG.md's newest entry is {versions[:1]}, garmaxctl is {__version__}: "
        "add what this version changed")
    assert versions == sorted(versions, key=lambda v: tuple(map(int, v.split("."))),
                              reverse=True)
