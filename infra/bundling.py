"""Build the Lambda code bundle without Docker, deterministically.

One zip holds the whole runtime for all five functions (each uses its own handler):

- ``runtime/`` (the handlers, domain and providers),
- the package ``garmaxctl/shared/`` (the shared names, stage config and errors) and
  ``garmaxctl/__init__.py`` above it,
- the third-party dependencies of ``runtime/requirements.txt``, installed with
  ``pip install --platform manylinux2014_x86_64 --only-binary=:all: --python-version 3.12
  --implementation cp --target ...`` so the wheels match the Lambda runtime whatever the
  build machine runs.

Determinism: files are added in sorted order with a fixed timestamp and fixed permissions,
``__pycache__``/``*.pyc`` are left out (pip runs with ``--no-compile``), and the zip's name
is the SHA-256 of its inputs. An unchanged tree therefore yields a byte-identical zip, and
CDK's asset hash (computed from the zip's bytes) does not change.

Caching, under ``.garmax/build/`` (git-ignored): the installed dependencies are kept in a
directory keyed by the hash of the requirements file and the target platform, so a second
synth or a test session never reinstalls; the zip itself is keyed by the hash of all its
inputs, so an unchanged tree is not zipped again.

LOCAL may skip the third-party dependencies (``include_dependencies=False``): the emulator
cannot execute Lambda code without Docker, and the local gateway and workers run the same
handlers in-process from the repository, so LOCAL's deployed bundle is never executed. This
keeps ``garmaxctl local up`` offline. DEV/QA/PROD always bundle them (``cdk_app`` refuses
otherwise).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

LAMBDA_PYTHON_VERSION = "3.12"
PIP_PLATFORM = "manylinux2014_x86_64"
# Bump when the bundle layout or the pip command changes, to invalidate old caches.
BUNDLE_FORMAT = "garmax-bundle-v1"

# What the runtime takes from garmaxctl: one package, whole (an import contract keeps the
# runtime from importing anything else of garmaxctl).
SHARED_PACKAGE = "garmaxctl/shared"
PACKAGE_INIT = "garmaxctl/__init__.py"
RUNTIME_DIR = "runtime"
REQUIREMENTS = "runtime/requirements.txt"

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry
_SKIP_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "tests"})
_SKIP_SUFFIXES = (".pyc", ".pyo")
_KEEP_ZIPS = 4


class BundleError(RuntimeError):
    """The bundle could not be built (pip failed, no runtime code)."""


@dataclass(frozen=True)
class Bundle:
    path: Path  # the zip
    source_hash: str  # SHA-256 of every input: sources, dependencies, format
    includes_dependencies: bool


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def _walk(root: Path) -> Iterator[Path]:
    """Every file under ``root``, skipping caches; order is fixed later by sorting."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
        for name in filenames:
            if not name.endswith(_SKIP_SUFFIXES):
                yield Path(dirpath) / name


def _source_files(root: Path) -> dict[str, Path]:
    """Archive name -> file, for the repository's own code."""
    files: dict[str, Path] = {}
    for package in (RUNTIME_DIR, SHARED_PACKAGE):
        if (root / package).is_dir():
            for path in _walk(root / package):
                files[path.relative_to(root).as_posix()] = path
    if (root / PACKAGE_INIT).is_file():
        files[PACKAGE_INIT] = root / PACKAGE_INIT
    if not files:
        raise BundleError(f"no Lambda code found under {root}")
    return files


def _hash_files(files: Iterable[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for name, path in sorted(files):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _dependency_files(deps_dir: Path) -> dict[str, Path]:
    return {
        path.relative_to(deps_dir).as_posix(): path
        for path in _walk(deps_dir)
        if path.name != ".complete"
    }


def _install_dependencies(requirements: Path, build_dir: Path, python_version: str) -> Path:
    """pip-install the requirements for the Lambda platform, once per requirements hash."""
    key = hashlib.sha256(
        b"\0".join([requirements.read_bytes(), PIP_PLATFORM.encode(), python_version.encode(),
                    BUNDLE_FORMAT.encode()])
    ).hexdigest()[:20]
    deps_dir = build_dir / f"deps-{key}"
    if (deps_dir / ".complete").is_file():
        return deps_dir
    build_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="deps-", dir=build_dir))
    cmd = [
        sys.executable, "-m", "pip", "install",
        "--quiet", "--disable-pip-version-check", "--no-compile", "--no-input",
        "--platform", PIP_PLATFORM, "--only-binary=:all:",
        "--python-version", python_version, "--implementation", "cp",
        "--target", str(staging), "-r", str(requirements),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise BundleError(
            "pip could not install the Lambda dependencies from "
            f"{requirements}: {' | '.join(tail)}"
        )
    # Console scripts are useless in Lambda and carry the build machine's interpreter path.
    shutil.rmtree(staging / "bin", ignore_errors=True)
    for cache in staging.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    (staging / ".complete").write_text(key + "\n")
    try:
        staging.rename(deps_dir)
    except OSError:  # another process finished first: keep theirs
        shutil.rmtree(staging, ignore_errors=True)
    return deps_dir


def _write_zip(target: Path, entries: dict[str, Path]) -> None:
    tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_DATE)
            info.external_attr = (0o100644 & 0xFFFF) << 16
            info.create_system = 3  # unix, so the permissions above are honoured
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[name].read_bytes())
    os.replace(tmp, target)


def _prune(build_dir: Path, keep: Path) -> None:
    zips = sorted(build_dir.glob("lambda-*.zip"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in zips[_KEEP_ZIPS:]:
        if old != keep:
            old.unlink(missing_ok=True)


def build_bundle(
    *,
    root: Path | None = None,
    include_dependencies: bool = True,
    build_dir: Path | None = None,
    python_version: str = LAMBDA_PYTHON_VERSION,
) -> Bundle:
    """Build (or reuse) the deterministic Lambda zip for the tree at ``root``."""
    root = (root or repo_root()).resolve()
    build_dir = build_dir or root / ".garmax" / "build"
    entries = _source_files(root)
    requirements = root / REQUIREMENTS
    if include_dependencies and requirements.is_file():
        deps_dir = _install_dependencies(requirements, build_dir, python_version)
        for name, path in _dependency_files(deps_dir).items():
            entries.setdefault(name, path)  # the repository's own files win
    digest = hashlib.sha256(BUNDLE_FORMAT.encode())
    digest.update(_hash_files(entries.items()).encode())
    source_hash = digest.hexdigest()
    build_dir.mkdir(parents=True, exist_ok=True)
    target = build_dir / f"lambda-{source_hash[:24]}.zip"
    if not target.is_file():
        _write_zip(target, entries)
    else:
        target.touch()  # most recently used: survives pruning
    _prune(build_dir, target)
    return Bundle(path=target, source_hash=source_hash,
                  includes_dependencies=include_dependencies and requirements.is_file())
