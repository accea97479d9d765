"""The Lambda bundle: built without Docker, deterministic, cached, complete."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from garmaxctl.shared import contract
from garmaxctl.shared.errors import ConfigError
from garmaxctl.shared.stages import Stage
from infra import bundling
from infra.bundling import PACKAGE_INIT, SHARED_PACKAGE, build_bundle

REPO = Path(bundling.__file__).resolve().parents[1]


def _copy_tree(dst: Path) -> Path:
    """The parts of the repository the bundler reads, copied to ``dst``."""
    shutil.copytree(REPO / "runtime", dst / "runtime",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(REPO / SHARED_PACKAGE, dst / SHARED_PACKAGE,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(REPO / PACKAGE_INIT, dst / PACKAGE_INIT)
    return dst


def _code_keys(template: dict) -> set[str]:
    return {r["Properties"]["Code"]["S3Key"] for r in template["Resources"].values()
            if r["Type"] == "AWS::Lambda::Function"}


def test_an_unchanged_tree_gives_a_byte_identical_zip(tmp_path):
    tree = _copy_tree(tmp_path / "tree")
    first = build_bundle(root=tree, include_dependencies=False, build_dir=tmp_path / "b1")
    # Touch every file: mtimes must not matter.
    for path in tree.rglob("*"):
        if path.is_file():
            path.touch()
    second = build_bundle(root=tree, include_dependencies=False, build_dir=tmp_path / "b2")
    assert first.source_hash == second.source_hash
    assert first.path.read_bytes() == second.path.read_bytes()


def test_a_changed_source_file_changes_the_bundle(tmp_path):
    tree = _copy_tree(tmp_path / "tree")
    before = build_bundle(root=tree, include_dependencies=False, build_dir=tmp_path / "b")
    handler = tree / "runtime" / "handlers" / "api.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    after = build_bundle(root=tree, include_dependencies=False, build_dir=tmp_path / "b")
    assert after.source_hash != before.source_hash
    assert after.path != before.path


def test_zip_entries_are_sorted_timestamp_free_and_without_bytecode(bundles):
    with zipfile.ZipFile(bundles["local"].path) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert not [n for n in names if n.endswith((".pyc", ".pyo")) or "__pycache__" in n]


def test_one_bundle_holds_every_handler_and_the_shared_garmaxctl_modules(bundles):
    with zipfile.ZipFile(bundles["local"].path) as zf:
        names = set(zf.namelist())
    for handler in contract.HANDLERS.values():
        module = handler.rsplit(".", 1)[0].replace(".", "/") + ".py"
        assert module in names, module
    # The shared package, whole, and nothing else of garmaxctl: the CLI stays out.
    shared = {p.relative_to(REPO).as_posix() for p in (REPO / SHARED_PACKAGE).glob("*.py")}
    assert shared | {PACKAGE_INIT} == {n for n in names if n.startswith("garmaxctl/")}
    assert "garmaxctl/app.py" not in names
    assert not [n for n in names if n.startswith(("tests/", "infra/"))]


def test_real_stage_bundles_include_linux_cp312_dependencies(bundles):
    if not bundles["real"].includes_dependencies:
        pytest.skip("GARMAX_TEST_BUNDLE_DEPS=0: offline run without dependencies")
    with zipfile.ZipFile(bundles["real"].path) as zf:
        names = zf.namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert {"aws_lambda_powertools", "stripe", "pydantic", "pydantic_core"} <= tops
    native = [n for n in names if n.endswith(".so") and "pydantic_core" in n]
    assert native and all("cpython-312-x86_64-linux-gnu" in n for n in native)
    assert not [n for n in names if n.startswith("bin/")]


def test_the_dependency_cache_is_reused_without_pip(monkeypatch, bundles):
    if not bundles["real"].includes_dependencies:
        pytest.skip("GARMAX_TEST_BUNDLE_DEPS=0: offline run without dependencies")

    def no_pip(*args, **kwargs):
        raise AssertionError(f"pip was called again: {args}")

    monkeypatch.setattr(bundling.subprocess, "run", no_pip)
    again = build_bundle(include_dependencies=True)
    assert again.source_hash == bundles["real"].source_hash


def test_an_unchanged_tree_keeps_the_synthesized_asset_hash(synths, bundles, tmp_path):
    from infra.cdk_app import build_app

    rebuilt = build_bundle(include_dependencies=False)
    assert rebuilt.path.read_bytes() == bundles["local"].path.read_bytes()
    app, _ = build_app(Stage.LOCAL, environ={}, bundle=rebuilt, outdir=str(tmp_path / "out"))
    app.synth()
    template = json.loads((tmp_path / "out" / "GarmaxAiStack-LOCAL.template.json").read_text())
    keys = _code_keys(template)
    assert len(keys) == 1  # one shared asset for the five functions
    assert keys == _code_keys(synths[Stage.LOCAL].template)


def test_real_stages_refuse_a_bundle_without_dependencies(bundles):
    from infra.cdk_app import build_app, resolve_bundle_deps

    with pytest.raises(ConfigError):
        build_app(Stage.DEV, environ={}, bundle=bundles["local"])
    with pytest.raises(ConfigError):
        resolve_bundle_deps(Stage.PROD, False)
    assert resolve_bundle_deps(Stage.LOCAL, None) is False
    assert resolve_bundle_deps(Stage.QA, None) is True
