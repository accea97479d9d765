"""``dr`` tests on a ``mock_aws`` DEV stage: an Aurora cluster built by hand (LOCAL has no
RDS), every request garmaxctl sends recorded, and AWS's answers injected where moto's
differ.

Where moto differs from RDS (DESIGN.md, "observed behaviour"), and what these tests do:

- moto reports a restorable window from the cluster's creation to now (a few
  milliseconds here); RDS reports ``EarliestRestorableTime`` as the oldest automated
  backup inside the retention period and ``LatestRestorableTime`` as a few minutes ago.
  :class:`Rds` injects that answer (``EARLIEST``/``LATEST``) into ``DescribeDBClusters``.
- moto's restore accepts any time, copies nothing unless asked and overwrites a cluster
  of the same name: so the tests assert on the requests garmaxctl sends
  (``before-parameter-build`` hook: the API's own parameters) and on what exists after.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

ACCOUNT = "123456789012"  # moto's
REGION = "us-east-1"
SOURCE = "garmaxai-cluster-dev"
WRITER = "garmaxai-cluster-dev-writer"
KMS_KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PASSWORD = "s3cr3t-Db-Passw0rd"
DATABASE_URL = f"mysql://garmaxadmin:{PASSWORD}@{SOURCE}.cluster-abc.{REGION}.rds.amazonaws.com:3306/garmaxai"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
EARLIEST = NOW - dt.timedelta(days=7)  # 7-day automated backups (infra/components/data.py)
LATEST = NOW - dt.timedelta(minutes=5)
READS = ("Describe", "Get", "List")


def rds() -> Any:
    return boto3.client("rds", region_name=REGION)


def _audit_write(params: dict[str, Any]) -> bool:
    """A call of the audit trail (its log group, its head in SSM: docs/security.md)."""
    from garmaxctl.shared import contract

    stages = ("LOCAL", "DEV", "QA", "PROD")
    return params.get("logGroupName") in {contract.audit_log_group(s) for s in stages} \
        or params.get("Name") in {contract.audit_head_parameter(s) for s in stages}


class Recorder:
    """Every AWS request garmaxctl makes, with its parameters; optional fault and status
    injection (``fail``: operation -> error code; ``stuck``: identifier prefixes whose
    status RDS keeps at ``creating``)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: dict[str, str] = {}
        self.stuck: set[str] = set()
        self.window = True
        # The injected window, read from here: this module can be imported twice (as
        # pytest's conftest and by the tests' imports), each import with its own NOW.
        self.earliest, self.latest = EARLIEST, LATEST

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def mutating(self) -> list[str]:
        """The writes of the command itself (not those of its audit record)."""
        return [n for n, p in self.calls if not n.startswith(READS) and not _audit_write(p)]

    def params(self, operation: str) -> dict[str, Any]:
        (found,) = [p for n, p in self.calls if n == operation]
        return found

    def _before(self, model: Any, params: dict, **_: Any) -> None:
        self.calls.append((model.name, copy.deepcopy(params)))
        if model.name in self.fail:
            raise ClientError({"Error": {"Code": self.fail[model.name],
                                         "Message": f"injected failure in {model.name}"}},
                              model.name)

    def _after(self, parsed: dict, model: Any, **_: Any) -> None:
        if model.name == "DescribeDBClusters":
            for cluster in parsed.get("DBClusters", []):
                if self.window:
                    cluster["EarliestRestorableTime"] = self.earliest
                    cluster["LatestRestorableTime"] = self.latest
                if self._stuck(cluster["DBClusterIdentifier"]):
                    cluster["Status"] = "creating"
        if model.name == "DescribeDBInstances":
            for instance in parsed.get("DBInstances", []):
                if self._stuck(instance["DBInstanceIdentifier"]):
                    instance["DBInstanceStatus"] = "creating"

    def _stuck(self, ident: str) -> bool:
        return any(ident.startswith(prefix) for prefix in self.stuck)

    def attach(self, session: Any) -> Any:
        session.events.register("before-parameter-build", self._before)
        session.events.register("after-call.rds", self._after)
        return session


def build_source() -> dict[str, str]:
    """The DEV stage's cluster as the CDK app deploys it: private subnets, its security
    group, its parameter groups, encrypted, log exports, a writer; and its parameters."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                 AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
               for i, az in ((1, "a"), (2, "b"))]
    sg = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    client = rds()
    client.create_db_subnet_group(DBSubnetGroupName="garmax-dev-db",
                                  DBSubnetGroupDescription="db", SubnetIds=subnets)
    client.create_db_cluster_parameter_group(DBClusterParameterGroupName="garmax-dev-cpg",
                                             DBParameterGroupFamily="aurora-mysql8.0",
                                             Description="audit logging on")
    client.create_db_parameter_group(DBParameterGroupName="garmax-dev-pg",
                                     DBParameterGroupFamily="aurora-mysql8.0",
                                     Description="instances")
    client.create_db_cluster(
        DBClusterIdentifier=SOURCE, Engine="aurora-mysql",
        EngineVersion="8.0.mysql_aurora.3.05.2", MasterUsername="garmaxadmin",
        MasterUserPassword=PASSWORD, DBSubnetGroupName="garmax-dev-db",
        VpcSecurityGroupIds=[sg], DBClusterParameterGroupName="garmax-dev-cpg",
        StorageEncrypted=True, KmsKeyId=KMS_KEY, DeletionProtection=True,
        CopyTagsToSnapshot=True, EnableCloudwatchLogsExports=["audit", "error", "slowquery"],
        Port=3306, EnableIAMDatabaseAuthentication=True,
        ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 4},
        Tags=[{"Key": "garmaxai:stage", "Value": "DEV"},
              {"Key": "garmaxai:project", "Value": "garmaxai"}])
    client.create_db_instance(DBInstanceIdentifier=WRITER, DBClusterIdentifier=SOURCE,
                              Engine="aurora-mysql", DBInstanceClass="db.t4g.medium",
                              DBParameterGroupName="garmax-dev-pg", PubliclyAccessible=False)
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/garmaxai/DEV/rds/host", Type="String",
                      Value=f"{SOURCE}.cluster-abc.{REGION}.rds.amazonaws.com")
    ssm.put_parameter(Name="/garmaxai/DEV/database/url", Type="SecureString",
                      Value=DATABASE_URL)
    return {"sg": sg, "vpc": vpc}


def observe() -> dict[str, Any]:
    """Every cluster and instance, with what a restore could change."""
    client = rds()
    return {
        "clusters": {c["DBClusterIdentifier"]: (c["Status"], c.get("DBClusterParameterGroup"),
                                                tuple(g["VpcSecurityGroupId"]
                                                      for g in c["VpcSecurityGroups"]))
                     for c in client.describe_db_clusters()["DBClusters"]},
        "instances": {i["DBInstanceIdentifier"]: i["DBInstanceStatus"]
                      for i in client.describe_db_instances()["DBInstances"]},
    }


class FakeClock:
    """``clock``/``sleep`` for the waiter: sleeping moves the clock, nothing waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.on_sleep: Callable[[], None] | None = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep()


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """DEV pointed at moto, the source built, and every garmaxctl session recorded."""
    from garmaxctl.aws import AwsTarget

    monkeypatch.setenv("GARMAX_DEV_ACCOUNT", ACCOUNT)
    monkeypatch.setenv("GARMAX_QA_ACCOUNT", ACCOUNT)
    monkeypatch.setenv("GARMAX_PROD_ACCOUNT", ACCOUNT)
    recorded = Recorder()
    make_session = AwsTarget._make_session

    def recording(self: AwsTarget) -> Any:
        return recorded.attach(make_session(self))

    monkeypatch.setattr(AwsTarget, "_make_session", recording)
    with mock_aws():
        recorded.world = build_source()  # type: ignore[attr-defined]
        yield recorded


@pytest.fixture
def target(recorder: Recorder) -> Any:
    """A DEV stage target whose session ``recorder`` records."""
    from garmaxctl.aws import AwsTarget
    from garmaxctl.shared.stages import get_stage_config
    from garmaxctl.stage.target import StageTarget

    return StageTarget(AwsTarget(stage=get_stage_config("DEV")))
