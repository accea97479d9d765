"""``garmaxctl dr drill``: restore to a throw-away cluster, check it, always delete it."""

from __future__ import annotations

import pytest

from garmaxctl.services import dr
from garmaxctl.shared.errors import Interrupted
from tests.cli.conftest import Run
from tests.dr.conftest import SOURCE, WRITER, FakeClock, observe

RESTORE = "RestoreDBClusterToPointInTime"
NOTHING_LEFT = {"clusters": [SOURCE], "instances": [WRITER]}


@pytest.fixture
def cli(tmp_path) -> Run:
    return Run(tmp_path)


def _left() -> dict[str, list[str]]:
    state = observe()
    return {"clusters": sorted(state["clusters"]), "instances": sorted(state["instances"])}


def test_a_drill_restores_checks_deletes_and_reports_the_time(recorder, cli) -> None:
    result, document = cli.json("-s", "dev", "dr", "drill")
    assert result.exit_code == 0, result.stdout + result.stderr
    data = document["data"]
    assert data["ok"] is True and data["left_behind"] == []
    assert data["cluster"].startswith(f"{SOURCE}-drill-")
    assert data["endpoint"].startswith(data["cluster"] + ".cluster-")
    assert [(p["name"], p["status"]) for p in data["phases"]] == [
        ("restore", "ok"), ("instance", "ok"), ("check", "ok"), ("cleanup", "ok")]
    assert data["restore_seconds"] is not None
    assert recorder.mutating() == [RESTORE, "CreateDBInstance", "DeleteDBInstance",
                                   "DeleteDBCluster"]
    sent = recorder.params(RESTORE)
    assert sent["UseLatestRestorableTime"] is True and sent["DeletionProtection"] is False
    assert sent["VpcSecurityGroupIds"] == [recorder.world["sg"]]
    assert {"Key": "garmaxai:dr-drill", "Value": "true"} in sent["Tags"]
    assert recorder.params("DeleteDBInstance")["SkipFinalSnapshot"] is True
    assert recorder.params("DeleteDBCluster")["SkipFinalSnapshot"] is True
    assert _left() == NOTHING_LEFT


def test_the_table_reads_at_80_columns(recorder, cli, monkeypatch) -> None:
    from rich.console import Console

    from garmaxctl import output

    monkeypatch.setattr(output, "stdout_console", lambda: Console(
        width=80, color_system=None, highlight=False))
    result = cli("-s", "dev", "dr", "drill")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    # Past column 80 only a word wider than the screen (the endpoint), whole on its own
    # line for the terminal to wrap softly: never folded with a newline inside it.
    assert all(len(line) <= 80 or " " not in line.strip() for line in lines), result.stdout
    assert any(line.strip().startswith(f"{SOURCE}-drill-2") and ".rds.amazonaws.com" in line
               for line in lines), result.stdout
    assert any(line.startswith("dr drill — stage DEV") for line in lines)
    (named,) = [line for line in lines if line.startswith("throw-away cluster: ")]
    assert f"{SOURCE}-drill-2" in named  # the cluster's name unbroken
    assert "drill passed; throw-away cluster deleted" in result.stdout


def test_prod_is_refused(recorder, cli) -> None:
    result, document = cli.json("-s", "prod", "--yes", "dr", "drill")
    assert result.exit_code == 2 and document["error"]["code"] == "usage"
    assert "never on PROD" in document["error"]["message"]
    assert recorder.mutating() == []


def test_a_failed_instance_still_deletes_the_cluster(recorder, cli) -> None:
    recorder.fail["CreateDBInstance"] = "InsufficientDBInstanceCapacity"
    result, document = cli.json("-s", "dev", "dr", "drill")
    assert result.exit_code == 1
    assert document["error"]["code"] == "drill_failed"
    assert "InsufficientDBInstanceCapacity" in document["error"]["message"]
    phases = [(p["name"], p["status"]) for p in document["data"]["phases"]]
    assert phases == [("restore", "ok"), ("instance", "fail"), ("cleanup", "ok")]
    assert recorder.mutating()[-1] == "DeleteDBCluster"
    assert _left() == NOTHING_LEFT


def test_a_timeout_still_cleans_up(recorder, target) -> None:
    clock = FakeClock()
    recorder.stuck.add(f"{SOURCE}-drill-")
    report = dr.drill(target, timeout_s=300, poll_s=60, clock=clock, sleep=clock.sleep)
    assert report.ok is False and "timed out after 300 s" in (report.error or "")
    assert [(p.name, p.status) for p in report.phases] == [("restore", "fail"),
                                                           ("cleanup", "ok")]
    assert report.phases[0].seconds == 300
    assert report.left_behind == []
    assert _left() == NOTHING_LEFT


def test_ctrl_c_cleans_up_then_reports_the_interruption(recorder, target) -> None:
    recorder.stuck.add(f"{SOURCE}-drill-")
    clock = FakeClock()

    def ctrl_c() -> None:
        recorder.stuck.clear()  # deletion must not wait on the stuck status
        raise KeyboardInterrupt

    clock.on_sleep = ctrl_c
    with pytest.raises(Interrupted) as caught:
        dr.drill(target, timeout_s=300, poll_s=60, clock=clock, sleep=clock.sleep)
    assert f"{SOURCE}-drill-" in caught.value.message
    assert caught.value.message.endswith("deleted")
    assert _left() == NOTHING_LEFT


def test_a_failed_cleanup_says_what_was_left_and_how_to_delete_it(recorder, cli) -> None:
    recorder.fail["DeleteDBCluster"] = "InvalidDBClusterStateFault"
    result, document = cli.json("-s", "dev", "dr", "drill")
    assert result.exit_code == 1
    assert document["error"]["code"] == "cleanup_failed"
    data = document["data"]
    (left,) = data["left_behind"]
    assert left == f"cluster {data['cluster']} (available)"
    assert data["cluster"] in document["error"]["message"]
    (cleanup,) = [p for p in data["phases"] if p["name"] == "cleanup"]
    assert cleanup["status"] == "fail"
    assert f"aws rds delete-db-cluster --db-cluster-identifier {data['cluster']}" in \
        cleanup["detail"]
