"""``garmaxctl dr restore-db`` on a moto-backed DEV cluster (issue 14, acceptance 2)."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat

import pytest

from garmaxctl.services import dr
from tests.cli.conftest import Run, assert_envelope
from tests.dr.conftest import (
    KMS_KEY,
    LATEST,
    PASSWORD,
    REGION,
    SOURCE,
    WRITER,
    FakeClock,
    observe,
    rds,
)

RESTORE = "RestoreDBClusterToPointInTime"


@pytest.fixture
def cli(tmp_path) -> Run:
    return Run(tmp_path)


def _restored_name(document: dict) -> str:
    return document["data"]["cluster"]


def test_dry_run_sends_no_mutating_request_and_shows_what_it_would(recorder, cli) -> None:
    before = observe()
    result, document = cli.json("-s", "dev", "dr", "restore-db", "--to", "2h", "--dry-run")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert_envelope(document, exit_code=0, command="dr restore-db")
    assert observe() == before
    assert recorder.mutating() == []
    data = document["data"]
    assert data["dry_run"] is True and data["status"] == "planned"
    (restore, create) = data["requests"]
    assert restore["operation"] == RESTORE and create["operation"] == "CreateDBInstance"
    assert restore["params"]["SourceDBClusterIdentifier"] == SOURCE
    assert restore["params"]["VpcSecurityGroupIds"] == [recorder.world["sg"]]
    assert restore["params"]["DBClusterParameterGroupName"] == "garmax-dev-cpg"
    assert data["endpoint_predicted"] is True
    assert data["endpoint"].startswith(data["cluster"] + ".cluster-")
    assert PASSWORD not in result.stdout + result.stderr


def test_a_real_run_restores_to_a_new_cluster_with_the_source_settings(recorder, cli) -> None:
    result, document = cli.json("-s", "dev", "dr", "restore-db", "--to", "2h")
    assert result.exit_code == 0, result.stdout + result.stderr
    new = _restored_name(document)
    assert new.startswith(f"{SOURCE}-restored-") and len(new) == len(SOURCE) + 22

    sent = recorder.params(RESTORE)
    assert sent["DBClusterIdentifier"] == new
    assert sent["SourceDBClusterIdentifier"] == SOURCE
    asked = sent["RestoreToTime"]
    assert recorder.earliest < asked < recorder.latest
    assert abs((dt.datetime.now(dt.UTC) - asked) - dt.timedelta(hours=2)) < dt.timedelta(
        minutes=1)
    assert "UseLatestRestorableTime" not in sent
    assert sent["DBSubnetGroupName"] == "garmax-dev-db"
    assert sent["VpcSecurityGroupIds"] == [recorder.world["sg"]]
    assert sent["DBClusterParameterGroupName"] == "garmax-dev-cpg"
    assert sent["KmsKeyId"] == KMS_KEY
    assert sent["Port"] == 3306
    assert sent["EngineMode"] == "provisioned"
    assert sent["DeletionProtection"] is True and sent["CopyTagsToSnapshot"] is True
    assert sent["EnableIAMDatabaseAuthentication"] is True
    assert sent["EnableCloudwatchLogsExports"] == ["audit", "error", "slowquery"]
    assert sent["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 4}
    tags = {t["Key"]: t["Value"] for t in sent["Tags"]}
    assert tags["garmaxai:stage"] == "DEV" and tags["garmaxai:project"] == "garmaxai"
    assert tags["garmaxai:restored-from"].startswith(f"{SOURCE}@")

    instance = recorder.params("CreateDBInstance")
    assert instance == {"DBInstanceIdentifier": f"{new}-writer", "DBClusterIdentifier": new,
                        "DBInstanceClass": "db.t4g.medium", "Engine": "aurora-mysql",
                        "PubliclyAccessible": False, "Tags": sent["Tags"],
                        "DBParameterGroupName": "garmax-dev-pg"}
    assert recorder.mutating() == [RESTORE, "CreateDBInstance"]

    state = observe()
    assert state["clusters"][new] == ("available", "garmax-dev-cpg",
                                      (recorder.world["sg"],))
    assert state["clusters"][SOURCE][0] == "available"
    assert state["instances"][f"{new}-writer"] == "available"
    assert state["instances"][WRITER] == "available"
    endpoint = rds().describe_db_clusters(DBClusterIdentifier=new)["DBClusters"][0]["Endpoint"]
    assert document["data"]["endpoint"] == endpoint

    changes = {c["key"]: c for c in document["data"]["params"]}
    assert changes["RDS_HOST"]["action"] == "change"
    assert changes["RDS_HOST"]["new"] == endpoint
    assert changes["DATABASE_URL"]["new"] == f"mysql://garmaxadmin:****@{endpoint}:3306/garmaxai"
    assert PASSWORD not in result.stdout + result.stderr
    assert not (cli.cwd / ".env").exists()


def test_table_output_names_the_plan_and_never_the_password(recorder, cli) -> None:
    result = cli("-s", "dev", "dr", "restore-db", "--latest")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "sent RestoreDBClusterToPointInTime:" in result.stdout
    assert "  UseLatestRestorableTime: True" in result.stdout
    assert "  DATABASE_URL: change (host changed; user, password and database kept)\n" \
        "    from mysql://garmaxadmin:****@garmaxai-cluster-dev.cluster-abc." in result.stdout
    assert "`garmaxctl params push`" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    assert "RestoreToTime" not in recorder.params(RESTORE)
    assert recorder.params(RESTORE)["UseLatestRestorableTime"] is True


def test_env_out_writes_the_real_values_to_a_0600_file(recorder, cli) -> None:
    out = cli.cwd / "restored.env"
    result, document = cli.json("-s", "dev", "dr", "restore-db", "--latest",
                                "--env-out", str(out))
    assert result.exit_code == 0, result.stdout
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    endpoint = document["data"]["endpoint"]
    assert out.read_text() == (
        f"RDS_HOST='{endpoint}'\n"
        f"DATABASE_URL='mysql://garmaxadmin:{PASSWORD}@{endpoint}:3306/garmaxai'\n")
    assert PASSWORD not in result.stdout + result.stderr
    again = cli("-s", "dev", "dr", "restore-db", "--latest", "--env-out", str(out))
    assert again.exit_code == 2 and "exists" in again.stderr


@pytest.mark.parametrize("name", [SOURCE, SOURCE.upper()])
def test_the_source_name_is_refused_before_anything_is_sent(recorder, cli, name) -> None:
    before = observe()
    result, document = cli.json("-s", "dev", "dr", "restore-db", "--latest", "--name", name)
    assert result.exit_code == 2
    assert document["error"]["code"] == "name_taken"
    assert "source cluster" in document["error"]["message"]
    assert recorder.mutating() == [] and observe() == before


def test_an_existing_cluster_name_is_refused(recorder, cli) -> None:
    rds().create_db_cluster(DBClusterIdentifier="taken", Engine="aurora-mysql",
                            MasterUsername="a", MasterUserPassword="password1")
    before = observe()
    result, document = cli.json("-s", "dev", "dr", "restore-db", "--latest", "--name",
                                "taken")
    assert result.exit_code == 2 and document["error"]["code"] == "name_taken"
    assert "already exists" in document["error"]["message"]
    assert recorder.mutating() == [] and observe() == before


@pytest.mark.parametrize("when", ["8d", (LATEST + dt.timedelta(minutes=2)).isoformat()])
def test_a_time_outside_the_restorable_window_is_exit_2_with_the_window(recorder, cli,
                                                                       when) -> None:
    result, document = cli.json("-s", "dev", "dr", "restore-db", "--to", when)
    assert result.exit_code == 2, result.stdout
    assert document["error"]["code"] == "outside_window"
    window = f"{recorder.earliest:%Y-%m-%dT%H:%M:%SZ} .. {recorder.latest:%Y-%m-%dT%H:%M:%SZ}"
    assert window in document["error"]["message"]
    assert recorder.mutating() == []


def test_without_a_window_the_restore_is_refused(recorder, cli) -> None:
    recorder.window = False
    # moto's own window ends at "now" and starts at the cluster's creation: 2h ago is out.
    result, document = cli.json("-s", "dev", "dr", "restore-db", "--to", "2h")
    assert result.exit_code == 2 and document["error"]["code"] == "outside_window"


def test_local_has_no_database(cli) -> None:
    result, document = cli.json("dr", "restore-db", "--latest")
    assert result.exit_code == 2
    assert document["error"]["code"] == "no_database"
    assert "LOCAL has no database" in document["error"]["message"].replace("stage ", "")


@pytest.mark.parametrize("args", [[], ["--to", "2h", "--latest"]])
def test_exactly_one_of_to_and_latest(cli, args) -> None:
    result, document = cli.json("-s", "dev", "dr", "restore-db", *args)
    assert result.exit_code == 2 and document["error"]["code"] == "usage"


def test_prod_asks_before_restoring(recorder, cli) -> None:
    result, document = cli.json("-s", "prod", "dr", "restore-db", "--latest")
    assert result.exit_code == 2 and document["error"]["code"] == "confirmation_required"
    result = cli("-s", "prod", "dr", "restore-db", "--latest", "--dry-run")
    assert result.exit_code == 1  # no PROD cluster in this world: a dry run needs no yes
    assert "garmaxai-cluster-prod not found" in result.stderr


def test_a_timeout_says_what_exists_and_how_to_delete_it(recorder, target) -> None:
    clock = FakeClock()
    name = "garmaxai-cluster-dev-slow"
    recorder.stuck.add(name)
    with pytest.raises(dr.RestoreTimeout) as caught:
        dr.restore_db(target, latest=True, name=name, timeout_s=600, poll_s=30,
                      clock=clock, sleep=clock.sleep)
    error = caught.value
    assert error.code == "restore_timeout" and error.exit_code == 1
    assert f"cluster {name}" in error.message and "600 s" in error.message
    assert f"cluster {name} (creating)" in error.hint
    assert f"aws rds delete-db-cluster --db-cluster-identifier {name}" in error.hint
    assert clock.now == 600
    assert recorder.mutating() == [RESTORE]  # no instance was created for a stuck cluster
    assert name in observe()["clusters"]  # left for the operator, and said so


def test_a_slow_cluster_is_waited_for(recorder, target) -> None:
    clock = FakeClock()
    name = "garmaxai-cluster-dev-later"
    recorder.stuck.add(name)

    def becomes_available() -> None:
        if clock.now >= 90:
            recorder.stuck.discard(name)

    clock.on_sleep = becomes_available
    result = dr.restore_db(target, latest=True, name=name, timeout_s=600, poll_s=30,
                           clock=clock, sleep=clock.sleep)
    assert result.status == "available"
    assert [(p.name, p.seconds) for p in result.phases] == [("restore", 90), ("instance", 0),
                                                             ("total", 90)]


def test_the_endpoint_change_keeps_user_password_and_database(recorder, target) -> None:
    result = dr.restore_db(target, latest=True, name="garmaxai-cluster-dev-x")
    values = result._values
    assert values["RDS_HOST"] == result.endpoint
    assert values["DATABASE_URL"] == (f"mysql://garmaxadmin:{PASSWORD}@{result.endpoint}"
                                      ":3306/garmaxai")
    assert result.endpoint.endswith(f".{REGION}.rds.amazonaws.com")
    assert json.dumps([c.__dict__ for c in result.params]).count(PASSWORD) == 0


def test_a_failed_writer_says_what_exists_and_how_to_delete_it(recorder, cli) -> None:
    recorder.fail["CreateDBInstance"] = "InsufficientDBInstanceCapacity"
    result, document = cli.json("-s", "dev", "dr", "restore-db", "--latest", "--name",
                                "garmaxai-cluster-dev-nowriter")
    assert result.exit_code == 1
    error = document["error"]
    assert error["code"] == "restore_failed"
    assert "InsufficientDBInstanceCapacity" in error["message"]
    assert "it exists: cluster garmaxai-cluster-dev-nowriter (available)" in error["message"]
    assert "aws rds delete-db-cluster --db-cluster-identifier garmaxai-cluster-dev-nowriter" \
        in error["message"]


def test_ctrl_c_while_waiting_names_the_cluster_being_created(recorder, target) -> None:
    from garmaxctl.shared.errors import Interrupted

    recorder.stuck.add("garmaxai-cluster-dev-interrupted")

    def ctrl_c(_seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(Interrupted) as caught:
        dr.restore_db(target, latest=True, name="garmaxai-cluster-dev-interrupted",
                      sleep=ctrl_c)
    assert "garmaxai-cluster-dev-interrupted is being created" in caught.value.message
    assert "delete-db-cluster" in caught.value.message
