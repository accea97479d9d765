"""scripts/ci_summary.py: garmaxctl's JSON documents (the golden ones) as a job summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_script

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"


@pytest.fixture(scope="module")
def summary() -> Any:
    return load_script("ci_summary")


def _document(tmp_path: Path, golden: str, **changes: Any) -> Path:
    document = json.loads((GOLDEN / f"{golden}.json").read_text())["document"]
    document.update(changes)
    path = tmp_path / f"{golden}.json"
    path.write_text(json.dumps(document))
    return path


def test_each_document_renders_its_rows(summary: Any, tmp_path: Path) -> None:
    files = [_document(tmp_path, name) for name in
             ("params_push_dev", "verify_dev", "alarms_list_dev", "diff_prod_exit_code")]
    text = summary.summary(files)
    assert "### ✅ `garmaxctl params push` — DEV (exit 0)" in text
    assert "| add | JWT_SECRET | /garmaxai/DEV/security/jwt-secret | written | 1 |" in text
    assert "| API health checks pass | functional | pass | healthy: 25 checks |" in text
    assert "| GarmaxAI-ApiErrorRate-DEV | OK |" in text
    assert "### ❌ `garmaxctl diff` — PROD (exit 3)" in text
    assert "> **changes**: GarmaxAiStack-PROD would change" in text
    assert " └─ [~] MemorySize" in text


def test_a_step_that_printed_nothing_is_reported_not_fatal(summary: Any, tmp_path: Path
                                                         ) -> None:
    empty = tmp_path / "4-smoke.json"
    empty.write_text("")
    text = summary.summary([empty, tmp_path / "missing.json"])
    assert "`4-smoke.json`: no garmaxctl JSON document" in text
    assert "`missing.json`: no garmaxctl JSON document" in text


def test_a_long_diff_is_cut_with_the_command_that_shows_it(summary: Any, tmp_path: Path
                                                           ) -> None:
    lines = [f"[+] resource {i}" for i in range(summary.MAX_DIFF_LINES + 50)]
    path = _document(tmp_path, "diff_prod_exit_code",
                     data={"stage": "PROD", "stack": "GarmaxAiStack-PROD",
                           "has_changes": True, "lines": lines})
    text = summary.summary([path])
    assert f"[+] resource {summary.MAX_DIFF_LINES - 1}" in text
    assert f"[+] resource {summary.MAX_DIFF_LINES}\n" not in text
    assert "... 50 more line(s): garmaxctl -s PROD diff" in text


def test_a_table_cell_cannot_break_the_table(summary: Any) -> None:
    assert summary.table(("a",), [("x | y\nz",)])[-1] == "| x \\| y z |"


def test_alarm_gate_fails_only_on_an_alarm_in_alarm(summary: Any, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = _document(tmp_path, "alarms_list_dev")
    assert summary.main(["--gate-no-alarms", str(path)]) == 0
    document = json.loads(path.read_text())
    # The activity alarm (actions off outside idle) is in ALARM after any API traffic,
    # as after the smoke test: a wake-up signal, not a fault, so not gated.
    activity = document["data"]["alarms"][1]
    assert activity["short_name"] == "IdleActivity" and activity["actions"]["status"] == "off"
    activity["state"] = "ALARM"
    path.write_text(json.dumps(document))
    assert summary.main(["--gate-no-alarms", str(path)]) == 0
    assert "GarmaxAI-IdleActivity-DEV" in capsys.readouterr().err  # shown, not gated
    # A paging alarm in ALARM fails it, muted or not.
    for actions in ({"status": "on"}, {"status": "muted", "muted_by": "rule"}):
        document["data"]["alarms"][0].update(state="ALARM", actions=actions)
        path.write_text(json.dumps(document))
        assert summary.main(["--gate-no-alarms", str(path)]) == 1
        assert "in ALARM: GarmaxAI-ApiErrorRate-DEV" in capsys.readouterr().err
    # No document (the list itself failed) fails the gate too.
    assert summary.main(["--gate-no-alarms", str(tmp_path / "none.json")]) == 1


def test_account_and_region_come_from_config_show(summary: Any, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = _document(tmp_path, "config_show")
    config = json.loads(path.read_text())["data"]["stage_config"]
    config.update(account="210987654321", region="eu-west-1")
    path.write_text(json.dumps({**json.loads(path.read_text()),
                                "data": {"stage_config": config}}))
    assert summary.main(["--stage-outputs", str(path)]) == 0
    assert capsys.readouterr().out == "account=210987654321\nregion=eu-west-1\n"
    assert summary.main(["--stage-outputs", str(tmp_path / "none.json")]) == 1
