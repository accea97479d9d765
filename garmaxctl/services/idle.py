"""Idle scale-down and restore of one stage: ``plan -> snapshot -> apply -> verify``.

The engine is free of CLI concerns (no Typer, no printing) so a scheduled Lambda can run it
too. It works on *attributes*: one live, readable, writable setting of one resource
(a function's reserved concurrency, an event source mapping's enabled state, a rule's
state, an ECS service's desired count or autoscaling bounds, an Aurora cluster's status,
the activity alarm's actions). Each attribute has the value the snapshot recorded before
idle touched it and the value idle wants. Then:

- ``down`` records every attribute's live value in the snapshot *before any change*
  (``/garmaxai/ops/{STAGE}/idle/snapshot``), then writes the idle value of each attribute
  whose live value differs, in the safe order below, saving each step's result in the
  snapshot as it completes. A second ``down`` keeps the recorded values (it only adds
  resources the snapshot lacks) and completes what is missing.
- ``up`` writes back the recorded value of each attribute whose live value differs, in
  exactly the reverse order, with waiters and timeouts; then reads every attribute back,
  checks the restored functions can be invoked (warm), probes ``/api/health``, and only then
  archives the snapshot under ``idle/archive/``.

Apply order (``GROUPS``): ingress (the Api function and any other producer: reserved
concurrency 0) -> SQS consumers paused by disabling their event source mappings (messages
stay queued, never burnt into a DLQ) -> then their concurrency 0 -> the stage's rules
disabled -> ECS services at 0 with their autoscaling minimum at 0 -> Aurora clusters stopped
(clusters, never instances; only from ``available``) -> the activity alarm's actions
enabled. The StripeWebhook function is left running: Stripe's events are queued in the
billing queue while idle and applied by the billing consumer after ``up``.

A lock (``idle/lock``, created with ``Overwrite=False``) with a lease and the holder's
identity keeps two runs from interleaving. docs/idle.md describes all of it.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from garmaxctl import __version__, contract
from garmaxctl.aws import error_code
from garmaxctl.errors import GarmaxError, OperationError

if TYPE_CHECKING:
    from garmaxctl.aws import AwsTarget
    from garmaxctl.stages import StageConfig

SCHEMA = 1
STANDARD_TIER_LIMIT = 4096  # bytes: Parameter Store Standard tier (moto does not enforce it)
ADVANCED_TIER_LIMIT = 8192  # bytes: Advanced tier
LEASE = dt.timedelta(minutes=45)  # longer than any single waiter below
AURORA_AUTO_RESTART = dt.timedelta(days=7)
HOURS_PER_MONTH = 730
MAX_REASON = 160  # characters of a failure's reason kept in the snapshot
OUT_OF_SCOPE_NOTE = ("ElastiCache and NAT gateways are not idled: CloudFormation owns them and "
                     "deleting them out of band makes the stack drift (docs/idle.md)")

WEBHOOK_FUNCTION = str(contract.Function.STRIPE_WEBHOOK)
UNSET = None  # reserved concurrency unset (not the same as 0)

# Step groups in apply order; ``up`` runs the exact reverse.
GROUPS: tuple[str, ...] = ("ingress", "mappings", "consumers", "rules", "ecs", "aurora",
                           "alarm")

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _parse_iso(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def snapshot_param(stage: str) -> str:
    return contract.ops_prefix(stage) + contract.IDLE_SNAPSHOT_PARAM


def lock_param(stage: str) -> str:
    return contract.ops_prefix(stage) + contract.IDLE_LOCK_PARAM


def archive_param(stage: str, created_at: str) -> str:
    stamp = re.sub(r"[^0-9A-Za-z]", "", created_at)
    return contract.ops_prefix(stage) + contract.IDLE_ARCHIVE_PREFIX + stamp


# ============================================================================ errors

class IdleLockedError(OperationError):
    default_code = "idle_locked"


class SnapshotTooLargeError(OperationError):
    default_code = "snapshot_too_large"


class StepFailed(Exception):
    """A write or its waiter failed; carries the one-line reason."""


# ============================================================================ price table

@dataclass(frozen=True)
class Prices:
    """On-demand list prices, us-east-1, USD per hour (docs/idle.md, "Price table")."""

    aurora_instance_hour: float  # one Aurora MySQL instance of the stage's class
    aurora_instances: int  # writer (+ reader where multi-AZ)
    fargate_task_hour: float  # one SMPL task of the stage's size
    cache_node_hour: float  # ElastiCache node (out of scope)
    cache_nodes: int
    nat_gateway_hour: float  # per NAT gateway (out of scope), before data processing
    nat_gateways: int


FARGATE_VCPU_HOUR = 0.04048
FARGATE_GB_HOUR = 0.004445
NAT_GATEWAY_HOUR = 0.045
AURORA_HOURLY = {"db.t4g.medium": 0.073, "db.t4g.large": 0.146, "db.r5.large": 0.29}
CACHE_HOURLY = {"cache.t3.micro": 0.017, "cache.t3.small": 0.034, "cache.r5.large": 0.216}


def prices_for(config: StageConfig) -> Prices:
    task = (config.ecs_cpu / 1024) * FARGATE_VCPU_HOUR + (config.ecs_memory_mb / 1024) * \
        FARGATE_GB_HOUR
    features = config.features
    return Prices(
        aurora_instance_hour=AURORA_HOURLY.get(config.rds_instance_class, 0.0)
        if features.database else 0.0,
        aurora_instances=2 if config.multi_az_database else 1,
        fargate_task_hour=round(task, 5) if features.ecs else 0.0,
        cache_node_hour=CACHE_HOURLY.get(config.cache_node_type, 0.0) if features.cache else 0.0,
        cache_nodes=2 if config.multi_az_database else 1,
        nat_gateway_hour=NAT_GATEWAY_HOUR if features.vpc else 0.0,
        nat_gateways=config.nat_gateways if features.vpc else 0,
    )


@dataclass
class Saving:
    per_hour: float
    per_month: float
    items: list[dict[str, Any]]
    out_of_scope: list[dict[str, Any]]


# ============================================================================ attributes

@dataclass
class Attr:
    """One setting of one resource that idle changes and restores."""

    group: str  # one of GROUPS
    kind: str  # reserved | provisioned | mapping | rule | scaling | desired | cluster | alarm
    resource: str  # the resource's key in the snapshot
    recorded: Any  # the value before idle (from the snapshot)
    idle: Any  # the value idle wants
    label: str = ""  # for people (a mapping's UUID says little)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.resource}"


@dataclass
class StepResult:
    key: str
    group: str
    resource: str
    attribute: str
    before: Any
    after: Any
    status: str  # planned | done | unchanged | failed | gone
    detail: str = ""


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail | skipped
    detail: str = ""


@dataclass
class IdleReport:
    stage: str
    action: str  # down | up
    dry_run: bool
    outcome: str  # planned | idle | already idle | restored | not idle | failed
    phase: str | None
    snapshot_param: str
    created_at: str | None = None
    created_by: str | None = None
    archived_to: str | None = None
    storage_tier: str | None = None
    steps: list[StepResult] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    kept_running: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lock_broken: dict[str, Any] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not any(s.status == "failed" for s in self.steps) \
            and not any(c.status == "fail" for c in self.checks)


@dataclass
class LockInfo:
    holder: str
    run_id: str
    command: str
    acquired_at: str
    expires_at: str
    stale: bool


@dataclass
class AttrStatus:
    group: str
    resource: str
    attribute: str
    recorded: Any
    idle: Any
    live: Any
    drift: bool
    note: str = ""


@dataclass
class IdleStatus:
    stage: str
    idle: bool
    phase: str | None
    created_at: str | None
    created_by: str | None
    idle_since: str | None
    idle_for_s: float | None
    lock: LockInfo | None
    resources: list[AttrStatus]
    drift: list[str]
    saving: Saving
    kept_running: list[str]
    notes: list[str]


@dataclass
class IdleState:
    """The small summary others import (deploy's refusal, health/status)."""

    stage: str
    idle: bool
    phase: str | None
    created_at: str | None
    created_by: str | None


# ============================================================================ snapshot I/O

def _not_found(exc: BaseException) -> bool:
    code = error_code(exc) or ""
    return code in ("ParameterNotFound", "ResourceNotFoundException", "ResourceNotFound",
                    "ServiceNotFoundException", "ClusterNotFoundException",
                    "DBClusterNotFoundFault", "ObjectNotFoundException") or \
        code.endswith("NotFound")


def read_snapshot(aws: AwsTarget, stage: str | None = None) -> dict[str, Any] | None:
    """The stage's idle snapshot document, or None when the stage is not idle."""
    stage = stage or aws.stage.stage.value
    try:
        value = aws.client("ssm").get_parameter(Name=snapshot_param(stage))["Parameter"]["Value"]
    except Exception as exc:
        if _not_found(exc):
            return None
        raise
    return json.loads(value)


def idle_state(aws: AwsTarget) -> IdleState:
    stage = aws.stage.stage.value
    document = read_snapshot(aws, stage)
    if document is None:
        return IdleState(stage=stage, idle=False, phase=None, created_at=None, created_by=None)
    return IdleState(stage=stage, idle=True, phase=document.get("phase"),
                     created_at=document.get("created_at"), created_by=document.get("created_by"))


def encode_document(document: dict[str, Any]) -> tuple[str, str]:
    """(value, tier) for Parameter Store: Advanced above 4 KB, refused above 8 KB."""
    text = json.dumps(document, separators=(",", ":"), sort_keys=False, default=str)
    size = len(text.encode())
    if size > ADVANCED_TIER_LIMIT:
        raise SnapshotTooLargeError(
            f"the idle snapshot would be {size} bytes, over Parameter Store's "
            f"{ADVANCED_TIER_LIMIT}-byte Advanced-tier limit; nothing was changed",
            hint="report it: the stage has more resources than idle was sized for")
    tier = "Advanced" if size > STANDARD_TIER_LIMIT or document.get("tier") == "Advanced" \
        else "Standard"
    return text, tier


# ============================================================================ the engine

@dataclass
class Timeouts:
    """Waiter limits in seconds (and the poll delay). Never a blind sleep."""

    mapping: float = 300
    provisioned: float = 900
    ecs: float = 900
    aurora: float = 1800
    health: float = 60
    delay: float = 5


class IdleEngine:
    def __init__(self, aws: AwsTarget, *, clock: Clock = _utcnow,
                 timeouts: Timeouts | None = None,
                 health_url: Callable[[], str | None] | None = None) -> None:
        self.aws = aws
        self.stage = aws.stage.stage.value
        self.config = aws.stage
        self.clock = clock
        self.timeouts = timeouts or Timeouts()
        self._health_url = health_url
        self.run_id = uuid.uuid4().hex
        self._identity: str | None = None
        self.provisioned_supported: bool | None = None
        self.notes: list[str] = []
        self.renew_every = LEASE.total_seconds() / 9  # seconds between lease renewals
        self._renewed = time.monotonic()

    # ------------------------------------------------------------------ identity and lock

    def identity(self) -> str:
        if self._identity is None:
            try:
                arn = self.aws.caller_identity()["arn"]
            except Exception as exc:  # the lock still names the host and user
                arn = f"unknown caller ({type(exc).__name__})"
            self._identity = f"{arn} ({getpass.getuser()}@{socket.gethostname()} " \
                             f"pid {os.getpid()})"
        return self._identity

    def read_lock(self) -> LockInfo | None:
        try:
            value = self.aws.client("ssm").get_parameter(
                Name=lock_param(self.stage))["Parameter"]["Value"]
        except Exception as exc:
            if _not_found(exc):
                return None
            raise
        data = json.loads(value)
        expires = _parse_iso(data.get("expires_at")) or self.clock()
        return LockInfo(holder=data.get("holder", "?"), run_id=data.get("run_id", "?"),
                        command=data.get("command", "?"),
                        acquired_at=data.get("acquired_at", "?"),
                        expires_at=data.get("expires_at", "?"), stale=expires <= self.clock())

    def _lock_value(self, command: str) -> str:
        now = self.clock()
        return json.dumps({"holder": self.identity(), "run_id": self.run_id,
                           "command": f"idle {command}", "acquired_at": _iso(now),
                           "expires_at": _iso(now + LEASE), "tool_version": __version__})

    def acquire_lock(self, command: str, *, break_lock: bool = False) -> dict[str, Any] | None:
        """Create the lock (conditional create). Returns the broken lock, if one was broken."""
        ssm = self.aws.client("ssm")
        broken: dict[str, Any] | None = None
        for _attempt in range(2):
            try:
                ssm.put_parameter(Name=lock_param(self.stage), Value=self._lock_value(command),
                                  Type="String", Overwrite=False,
                                  Description="garmaxctl idle lock (do not edit)")
                return broken
            except Exception as exc:
                if error_code(exc) != "ParameterAlreadyExists":
                    raise
            held = self.read_lock()
            if held is None:
                continue  # released between our two calls: try again
            if held.stale and break_lock:
                ssm.delete_parameter(Name=lock_param(self.stage))
                broken = {"holder": held.holder, "run_id": held.run_id,
                          "acquired_at": held.acquired_at, "expires_at": held.expires_at}
                continue
            if held.stale:
                raise IdleLockedError(
                    f"a stale idle lock on {self.stage} is held by {held.holder} "
                    f"({held.command}, since {held.acquired_at}; its lease expired at "
                    f"{held.expires_at})",
                    hint="if that run is gone, rerun with --break-lock")
            raise IdleLockedError(
                f"another idle run holds the lock on {self.stage}: {held.holder} "
                f"({held.command}, since {held.acquired_at}, lease until {held.expires_at})",
                hint="wait for it to finish; a lock whose lease expired can be broken with "
                     "--break-lock")
        raise IdleLockedError(f"could not take the idle lock on {self.stage}")

    def renew_lock(self, command: str, *, force: bool = False) -> None:
        """Extend our lease (every ``renew_every`` seconds); stop if the lock was taken."""
        if not force and time.monotonic() - self._renewed < self.renew_every:
            return
        held = self.read_lock()
        if held is None or held.run_id != self.run_id:
            raise StepFailed(f"the idle lock on {self.stage} was taken over by "
                             f"{held.holder if held else 'nobody (deleted)'}; stopping")
        self.aws.client("ssm").put_parameter(Name=lock_param(self.stage),
                                             Value=self._lock_value(command),
                                             Type="String", Overwrite=True)
        self._renewed = time.monotonic()

    def release_lock(self) -> str | None:
        """Delete our lock; returns a problem to report, if any (never raises)."""
        try:
            held = self.read_lock()
            if held is None:
                return "the idle lock was already gone at release"
            if held.run_id != self.run_id:
                return f"the idle lock is now held by {held.holder}: left in place"
            self.aws.client("ssm").delete_parameter(Name=lock_param(self.stage))
            return None
        except Exception as exc:
            return (f"could not release the idle lock {lock_param(self.stage)}: "
                    f"{_one_line(exc)} (it expires after its lease; or --break-lock)")

    # ------------------------------------------------------------------ snapshot

    def load(self) -> dict[str, Any] | None:
        document = read_snapshot(self.aws, self.stage)
        if document is not None and (document.get("schema") != SCHEMA or
                                     not isinstance(document.get("resources"), dict)):
            raise OperationError(
                f"the idle snapshot {snapshot_param(self.stage)} is not one this garmaxctl "
                f"can restore from (schema {document.get('schema')!r}, "
                f"{'no' if 'resources' not in document else 'unreadable'} resources)",
                code="snapshot_unreadable",
                hint="inspect it with `aws ssm get-parameter`; nothing was changed")
        return document

    def _elapsed(self, document: dict[str, Any]) -> str:
        """A step's time, compactly: seconds since the snapshot was created."""
        created = _parse_iso(document.get("created_at")) or self.clock()
        return f"+{int((self.clock() - created).total_seconds())}s"

    def check_size(self, document: dict[str, Any]) -> None:
        """Refuse before any change if the snapshot could outgrow 8 KB with its step log."""
        trial = json.loads(json.dumps(document, default=str))
        log = trial.setdefault("steps", {}).setdefault("down", {})
        for key, _ in trial.get("plan", []):
            log[key] = "done +9999999s"
        if log:  # a run stops at its first failure: one reason at most
            log[next(iter(log))] = "failed +9999999s: " + "x" * MAX_REASON
        encode_document(trial)

    def save(self, document: dict[str, Any], *, name: str | None = None,
             description: str = "garmaxctl idle snapshot (docs/idle.md)") -> None:
        document["updated_at"] = _iso(self.clock())
        try:
            value, tier = encode_document(document)
        except SnapshotTooLargeError:
            # Restoring must never be blocked by the log: drop the down log (kept in count).
            down = document.get("steps", {}).get("down")
            if document.get("phase") not in ("restoring", "restored") or not down or \
                    "omitted" in down:
                raise
            document["steps"]["down"] = {"omitted": f"{len(down)} step result(s), to fit 8 KB"}
            value, tier = encode_document(document)
        if tier == "Advanced" and document.get("tier") != "Advanced":
            document["tier"] = "Advanced"  # never written back to Standard (AWS refuses)
            value, tier = encode_document(document)
        self.aws.client("ssm").put_parameter(
            Name=name or snapshot_param(self.stage), Value=value, Type="String",
            Overwrite=True, Tier=tier, Description=description)

    def new_document(self, resources: dict[str, Any]) -> dict[str, Any]:
        now = _iso(self.clock())
        return {
            "schema": SCHEMA, "stage": self.stage, "phase": "applying",
            "created_at": now, "created_by": self.identity(), "tool_version": __version__,
            "updated_at": now, "idle_since": None, "tier": "Standard",
            "provisioned_concurrency": None, "resources": resources, "plan": [],
            "steps": {"down": {}, "up": {}}, "runs": [],
        }

    # ------------------------------------------------------------------ discovery

    def _paginate(self, service: str, operation: str, key: str, **kwargs: Any) -> list[Any]:
        client = self.aws.client(service)
        items: list[Any] = []
        for page in client.get_paginator(operation).paginate(**kwargs):
            items.extend(page.get(key, []))
        return items

    def discover(self) -> dict[str, Any]:
        """The live state of every resource idle touches, keyed as the snapshot keys it.

        Found by the names and tags of DESIGN.md's contracts, so the deployed stack and
        resources built by hand (tests, benchmarks) are found the same way: functions
        ``GarmaxAi-*-{STAGE}``, their SQS event source mappings, the rules on the bus
        ``GarmaxAi-Tryon-{STAGE}``, ECS services and Aurora clusters tagged
        ``garmaxai:stage={STAGE}`` (clusters also by identifier), the activity alarm.
        """
        resources: dict[str, Any] = {"functions": {}, "mappings": {}, "rules": {},
                                     "services": {}, "clusters": {}, "alarms": {}}
        pattern = re.compile(rf"^GarmaxAi-(?P<fn>[A-Za-z0-9]+)-{re.escape(self.stage)}$")
        lambda_client = self.aws.client("lambda")
        names = sorted(f["FunctionName"] for f in
                       self._paginate("lambda", "list_functions", "Functions")
                       if pattern.match(f["FunctionName"]))
        for name in names:
            mappings = [m for m in self._paginate("lambda", "list_event_source_mappings",
                                                  "EventSourceMappings", FunctionName=name)
                        if ":sqs:" in m.get("EventSourceArn", "")]
            logical = pattern.match(name).group("fn")  # type: ignore[union-attr]
            role = "keep" if logical == WEBHOOK_FUNCTION else \
                "consumer" if mappings else "ingress"
            resources["functions"][name] = {
                "role": role,
                "reserved": lambda_client.get_function_concurrency(FunctionName=name).get(
                    "ReservedConcurrentExecutions", UNSET),
            }
            if role != "keep":
                provisioned = self._read_provisioned(name)
                if provisioned is not None:
                    resources["functions"][name]["provisioned"] = provisioned
            for mapping in mappings:
                resources["mappings"][mapping["UUID"]] = {
                    "function": name, "source": mapping["EventSourceArn"],
                    "enabled": mapping.get("State") in ("Enabled", "Enabling", "Updating")}
        bus = contract.event_bus_name(self.stage)
        try:
            rules = self._paginate("events", "list_rules", "Rules", EventBusName=bus)
        except Exception as exc:
            if not _not_found(exc):
                raise
            rules = []
            self.notes.append(f"event bus {bus} not found: no rules to disable")
        for rule in sorted(rules, key=lambda r: r["Name"]):
            resources["rules"][rule["Name"]] = {"enabled": rule.get("State") == "ENABLED"}
        if self.config.features.ecs:
            resources["services"] = self._discover_services()
        if self.config.features.database:
            resources["clusters"] = self._discover_clusters()
        alarm = contract.alarm_name(contract.Alarm.ACTIVITY, self.stage)
        found = self.aws.client("cloudwatch").describe_alarms(AlarmNames=[alarm])
        for item in found.get("MetricAlarms", []):
            resources["alarms"][item["AlarmName"]] = {"actions": bool(item["ActionsEnabled"])}
        if not resources["alarms"]:
            self.notes.append(f"activity alarm {alarm} not found: idle cannot be watched")
        return resources

    def _read_provisioned(self, name: str) -> list[dict[str, Any]] | None:
        """Provisioned concurrency configs, or None where the target lacks the API."""
        if self.provisioned_supported is False:
            return None
        try:
            configs = self._paginate("lambda", "list_provisioned_concurrency_configs",
                                     "ProvisionedConcurrencyConfigs", FunctionName=name)
        except Exception as exc:
            if "not yet implemented" in str(exc).lower() or \
                    error_code(exc) in ("404", "NotImplemented",
                                                "UnknownOperationException"):
                self.provisioned_supported = False
                return None
            raise
        self.provisioned_supported = True
        return [{"qualifier": c["FunctionArn"].rsplit(":", 1)[-1],
                 "count": c["RequestedProvisionedConcurrentExecutions"]} for c in configs]

    def _discover_services(self) -> dict[str, Any]:
        ecs = self.aws.client("ecs")
        found: dict[str, Any] = {}
        for cluster_arn in self._paginate("ecs", "list_clusters", "clusterArns"):
            arns = self._paginate("ecs", "list_services", "serviceArns", cluster=cluster_arn)
            for start in range(0, len(arns), 10):
                described = ecs.describe_services(cluster=cluster_arn,
                                                  services=arns[start:start + 10],
                                                  include=["TAGS"])["services"]
                for service in described:
                    tags = {t["key"]: t["value"] for t in service.get("tags", [])}
                    if tags.get(contract.TAG_STAGE) != self.stage or \
                            service.get("status") != "ACTIVE":
                        continue
                    cluster = cluster_arn.rsplit("/", 1)[-1]
                    key = f"{cluster}/{service['serviceName']}"
                    found[key] = {"cluster": cluster, "service": service["serviceName"],
                                  "desired": service["desiredCount"],
                                  "scaling": self._read_scaling(cluster,
                                                                service["serviceName"])}
        return found

    def _read_scaling(self, cluster: str, service: str) -> dict[str, int] | None:
        targets = self.aws.client("application-autoscaling").describe_scalable_targets(
            ServiceNamespace="ecs", ResourceIds=[f"service/{cluster}/{service}"],
            ScalableDimension="ecs:service:DesiredCount")["ScalableTargets"]
        if not targets:
            return None
        return {"min": targets[0]["MinCapacity"], "max": targets[0]["MaxCapacity"]}

    def _discover_clusters(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        wanted = contract.database_cluster_id(self.stage)
        for cluster in self._paginate("rds", "describe_db_clusters", "DBClusters"):
            tags = {t["Key"]: t["Value"] for t in cluster.get("TagList", [])}
            ident = cluster["DBClusterIdentifier"]
            if tags.get(contract.TAG_STAGE) != self.stage and ident != wanted:
                continue
            found[ident] = {"status": _settled_status(cluster["Status"]),
                            "instances": len(cluster.get("DBClusterMembers", []))}
        return found

    # ------------------------------------------------------------------ attributes

    def attributes(self, resources: dict[str, Any]) -> list[Attr]:
        """Every attribute, in apply order (``up`` walks this list backwards)."""
        by_group: dict[str, list[Attr]] = {group: [] for group in GROUPS}
        for name, fn in resources["functions"].items():
            if fn["role"] == "keep":
                continue
            group = "ingress" if fn["role"] == "ingress" else "consumers"
            if fn.get("provisioned"):
                by_group[group].append(Attr(group, "provisioned", name, fn["provisioned"], []))
            by_group[group].append(Attr(group, "reserved", name, fn["reserved"], 0))
        for uuid_, mapping in resources["mappings"].items():
            label = (f"{mapping['function']} <- {mapping['source'].rsplit(':', 1)[-1]} "
                     f"({uuid_[:8]})")
            by_group["mappings"].append(Attr("mappings", "mapping", uuid_, mapping["enabled"],
                                             False, label))
        for key, rule in resources["rules"].items():
            by_group["rules"].append(Attr("rules", "rule", key, rule["enabled"], False))
        for key, service in resources["services"].items():
            scaling = service.get("scaling")
            if scaling:
                by_group["ecs"].append(Attr("ecs", "scaling", key, scaling,
                                            {"min": 0, "max": scaling["max"]}))
            by_group["ecs"].append(Attr("ecs", "desired", key, service["desired"], 0))
        for ident, cluster in resources["clusters"].items():
            by_group["aurora"].append(Attr("aurora", "cluster", ident, cluster["status"],
                                           "stopped"))
        for name, alarm in resources["alarms"].items():
            by_group["alarm"].append(Attr("alarm", "alarm", name, alarm["actions"], True))
        return [attr for group in GROUPS for attr in by_group[group]]

    def read(self, attr: Attr, resources: dict[str, Any]) -> Any:
        """The attribute's live value (raises a not-found ClientError if the resource is gone)."""
        kind, key = attr.kind, attr.resource
        if kind == "reserved":
            return self.aws.client("lambda").get_function_concurrency(FunctionName=key).get(
                "ReservedConcurrentExecutions", UNSET)
        if kind == "provisioned":
            return self._read_provisioned(key) or []
        if kind == "mapping":
            state = self.aws.client("lambda").get_event_source_mapping(UUID=key)["State"]
            return state in ("Enabled", "Enabling", "Updating")
        if kind == "rule":
            return self.aws.client("events").describe_rule(
                Name=key, EventBusName=contract.event_bus_name(self.stage))["State"] == "ENABLED"
        if kind in ("desired", "scaling"):
            service = resources["services"][key]
            if kind == "scaling":
                return self._read_scaling(service["cluster"], service["service"])
            described = self.aws.client("ecs").describe_services(
                cluster=service["cluster"], services=[service["service"]])["services"]
            if not described or described[0].get("status") != "ACTIVE":
                raise StepFailed(f"ECS service {key} is gone")
            return described[0]["desiredCount"]
        if kind == "cluster":
            return _settled_status(self._cluster_status(key))
        if kind == "alarm":
            found = self.aws.client("cloudwatch").describe_alarms(AlarmNames=[key])
            alarms = found.get("MetricAlarms", [])
            if not alarms:
                raise StepFailed(f"alarm {key} is gone")
            return bool(alarms[0]["ActionsEnabled"])
        raise ValueError(kind)

    def _cluster_status(self, ident: str) -> str:
        return str(self.aws.client("rds").describe_db_clusters(
            DBClusterIdentifier=ident)["DBClusters"][0]["Status"])

    def write(self, attr: Attr, value: Any, resources: dict[str, Any]) -> str:
        """Set the attribute to ``value`` and wait until AWS reports it; returns a detail."""
        kind, key = attr.kind, attr.resource
        lam = self.aws.client("lambda")
        if kind == "reserved":
            if value is UNSET:
                lam.delete_function_concurrency(FunctionName=key)
                return "reserved concurrency unset"
            lam.put_function_concurrency(FunctionName=key, ReservedConcurrentExecutions=value)
            return f"reserved concurrency {value}"
        if kind == "provisioned":
            wanted = {c["qualifier"]: c["count"] for c in value}
            for config in self._read_provisioned(key) or []:
                if config["qualifier"] not in wanted:
                    lam.delete_provisioned_concurrency_config(FunctionName=key,
                                                              Qualifier=config["qualifier"])
            for qualifier, count in wanted.items():
                lam.put_provisioned_concurrency_config(
                    FunctionName=key, Qualifier=qualifier, ProvisionedConcurrentExecutions=count)

                def ready(q: str = qualifier) -> bool:
                    return bool(lam.get_provisioned_concurrency_config(
                        FunctionName=key, Qualifier=q)["Status"] == "READY")

                self._wait(ready, self.timeouts.provisioned,
                           f"provisioned concurrency of {key}:{qualifier}")
            return f"provisioned concurrency {value or 'none'}"
        if kind == "mapping":
            lam.update_event_source_mapping(UUID=key, Enabled=bool(value))
            target = "Enabled" if value else "Disabled"
            self._wait(lambda: lam.get_event_source_mapping(UUID=key)["State"] == target,
                       self.timeouts.mapping, f"event source mapping {key} {target}")
            return target.lower()
        if kind == "rule":
            events = self.aws.client("events")
            bus = contract.event_bus_name(self.stage)
            if value:
                events.enable_rule(Name=key, EventBusName=bus)
            else:
                events.disable_rule(Name=key, EventBusName=bus)
            return "enabled" if value else "disabled"
        if kind == "scaling":
            service = resources["services"][key]
            self.aws.client("application-autoscaling").register_scalable_target(
                ServiceNamespace="ecs", ResourceId=f"service/{key}",
                ScalableDimension="ecs:service:DesiredCount", MinCapacity=value["min"],
                MaxCapacity=value["max"])
            return f"autoscaling min {value['min']} max {value['max']} ({service['service']})"
        if kind == "desired":
            service = resources["services"][key]
            ecs = self.aws.client("ecs")
            ecs.update_service(cluster=service["cluster"], service=service["service"],
                               desiredCount=value)
            self._boto_wait("ecs", "services_stable", self.timeouts.ecs,
                            cluster=service["cluster"], services=[service["service"]])
            return f"desired count {value} (stable)"
        if kind == "cluster":
            return self._set_cluster(key, value)
        if kind == "alarm":
            cloudwatch = self.aws.client("cloudwatch")
            if value:
                cloudwatch.enable_alarm_actions(AlarmNames=[key])
            else:
                cloudwatch.disable_alarm_actions(AlarmNames=[key])
            return "actions enabled" if value else "actions disabled"
        raise ValueError(kind)

    def _set_cluster(self, ident: str, wanted: str) -> str:
        rds = self.aws.client("rds")
        status = self._cluster_status(ident)
        if wanted == "stopped":
            if status == "stopped":
                return "already stopped"
            if status != "stopping":
                if status != "available":  # only ever stopped from available
                    self._boto_wait("rds", "db_cluster_available", self.timeouts.aurora,
                                    DBClusterIdentifier=ident)
                rds.stop_db_cluster(DBClusterIdentifier=ident)
            self._wait(lambda: self._cluster_status(ident) == "stopped", self.timeouts.aurora,
                       f"Aurora cluster {ident} stopped")
            return "stopped"
        if status == "stopping":
            self._wait(lambda: self._cluster_status(ident) == "stopped", self.timeouts.aurora,
                       f"Aurora cluster {ident} stopped")
            status = "stopped"
        if status == "stopped":
            rds.start_db_cluster(DBClusterIdentifier=ident)
        self._boto_wait("rds", "db_cluster_available", self.timeouts.aurora,
                        DBClusterIdentifier=ident)
        return "available"

    def _wait(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``check`` until true or ``timeout`` (a waiter for what boto3 has none of)."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() >= deadline:
                raise StepFailed(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(self.timeouts.delay)

    def _boto_wait(self, service: str, waiter: str, timeout: float, **kwargs: Any) -> None:
        delay = max(self.timeouts.delay, 0.01)
        attempts = max(1, int(timeout / delay))
        try:
            self.aws.client(service).get_waiter(waiter).wait(
                WaiterConfig={"Delay": delay, "MaxAttempts": attempts}, **kwargs)
        except Exception as exc:
            if type(exc).__name__ == "WaiterError":
                raise StepFailed(f"{waiter} did not succeed within {timeout:.0f} s: "
                                 f"{_one_line(exc)}") from exc
            raise

    # ------------------------------------------------------------------ plan

    def plan(self, action: str) -> IdleReport:
        """What ``down``/``up`` would do now; reads only."""
        document = self.load()
        report = self._report(action, document, dry_run=True)
        if action == "down":
            live = self.discover()
            resources = merge_resources(document["resources"], live) if document else live
            attrs = self.attributes(resources)
            targets = [(a, a.idle) for a in attrs]
            report.kept_running = _kept(resources)
        else:
            if document is None:
                report.outcome = "not idle"
                report.notes.append(f"no snapshot at {snapshot_param(self.stage)}: "
                                    "nothing to restore")
                return report
            resources = document["resources"]
            attrs = self.attributes(resources)
            targets = [(a, a.recorded) for a in reversed(attrs)]
        for attr, wanted in targets:
            try:
                live_value = self.read(attr, resources)
            except Exception as exc:
                if not _gone(exc):
                    raise
                report.steps.append(_step(attr, None, wanted, "gone", _one_line(exc)))
                continue
            status = "unchanged" if live_value == wanted else "planned"
            report.steps.append(_step(attr, live_value, wanted, status))
        report.outcome = "planned"
        report.notes.extend(self.notes)
        return report

    def _report(self, action: str, document: dict[str, Any] | None, *,
                dry_run: bool = False) -> IdleReport:
        return IdleReport(
            stage=self.stage, action=action, dry_run=dry_run, outcome="failed",
            phase=document.get("phase") if document else None,
            snapshot_param=snapshot_param(self.stage),
            created_at=document.get("created_at") if document else None,
            created_by=document.get("created_by") if document else None,
            storage_tier=document.get("tier") if document else None)

    # ------------------------------------------------------------------ down

    def down(self, *, dry_run: bool = False, break_lock: bool = False) -> IdleReport:
        if dry_run:
            return self.plan("down")
        broken = self.acquire_lock("down", break_lock=break_lock)
        report = self._report("down", None)
        report.lock_broken = broken
        try:
            self._down(report)
        except Exception as exc:
            if isinstance(exc, GarmaxError):
                raise
            report.error = _one_line(exc)
            report.notes.extend(self.notes)
        finally:
            problem = self.release_lock()
            if problem:
                report.checks.append(Check("lock released", "fail", problem))
        return report

    def _down(self, report: IdleReport) -> None:
        document = self.load()
        live = self.discover()
        if document is None:
            document = self.new_document(live)
            document["provisioned_concurrency"] = self._provisioned_note()
            resources = live
            fresh = True
        else:
            resources = merge_resources(document["resources"], live)
            added = sorted(set(_resource_keys(resources)) - set(_resource_keys(
                document["resources"])))
            if added:
                self.notes.append("added to the snapshot (not there before): " +
                                  ", ".join(added))
            document["resources"] = resources
            fresh = False
        report.kept_running = _kept(resources)
        attrs = self.attributes(resources)
        todo: list[tuple[Attr, Any]] = []
        for attr in attrs:
            try:
                value = self.read(attr, resources)
            except Exception as exc:
                if not _gone(exc):
                    raise
                report.steps.append(_step(attr, None, attr.idle, "gone", _one_line(exc)))
                continue
            if value == attr.idle:
                report.steps.append(_step(attr, value, attr.idle, "unchanged"))
            else:
                todo.append((attr, value))
        self._fill_report(report, document)
        if not todo and not fresh and document.get("phase") == "idle":
            report.outcome = "already idle"
            report.notes.extend(self.notes)
            report.notes.append(f"already idle since {document.get('idle_since')}: the "
                                "snapshot taken then is kept")
            return
        document["phase"] = "applying"
        document["plan"] = _merge_plan(document.get("plan", []),
                                       [[a.key, a.idle] for a, _ in todo])
        self._log_run(document, "down")
        self.check_size(document)
        self.save(document)  # the snapshot is written before any change
        if self._apply(report, document, resources, [(a, v, a.idle) for a, v in todo],
                       "down", "down"):
            document["phase"] = "idle"
            document["idle_since"] = document.get("idle_since") or _iso(self.clock())
            self.save(document)
            report.outcome = "idle"
        report.phase = document["phase"]
        report.storage_tier = document.get("tier")
        report.notes.extend(self.notes)

    def _log_run(self, document: dict[str, Any], action: str) -> None:
        runs = [*document.get("runs", []), {"action": action, "at": _iso(self.clock()),
                                            "by": self.identity(), "tool_version": __version__}]
        document["runs"] = runs[-5:]

    def _provisioned_note(self) -> str:
        if self.provisioned_supported is False:
            return ("not supported by this target (the emulator answers 'Not yet "
                    "implemented'): provisioned concurrency was neither read nor changed")
        return "recorded per function where configured"

    def _fill_report(self, report: IdleReport, document: dict[str, Any]) -> None:
        report.phase = document.get("phase")
        report.created_at = document.get("created_at")
        report.created_by = document.get("created_by")
        report.storage_tier = document.get("tier")

    def _apply(self, report: IdleReport, document: dict[str, Any], resources: dict[str, Any],
               todo: list[tuple[Attr, Any, Any]], log: str, command: str) -> bool:
        """Write each (attr, before, wanted) in order; record each result. False on failure."""
        steps = document.setdefault("steps", {}).setdefault(log, {})
        for attr, before, wanted in todo:
            try:
                detail = self.write(attr, wanted, resources)
            except Exception as exc:
                reason = _one_line(exc)
                report.steps.append(_step(attr, before, wanted, "failed", reason))
                steps[attr.key] = f"failed {self._elapsed(document)}: {reason[:MAX_REASON]}"
                report.error = f"{attr.key}: {reason}"
                try:
                    self.save(document)
                except Exception as save_exc:
                    report.notes.append(f"the failure could not be recorded in the snapshot: "
                                        f"{_one_line(save_exc)}")
                return False
            report.steps.append(_step(attr, before, wanted, "done", detail))
            steps[attr.key] = f"done {self._elapsed(document)}"
            try:
                self.save(document)
                self.renew_lock(command)
            except Exception as exc:
                report.error = f"after {attr.key}: {_one_line(exc)}"
                return False
        return True

    # ------------------------------------------------------------------ up

    def up(self, *, dry_run: bool = False, break_lock: bool = False,
           probe: bool = True) -> IdleReport:
        if dry_run:
            return self.plan("up")
        broken = self.acquire_lock("up", break_lock=break_lock)
        report = self._report("up", None)
        report.lock_broken = broken
        try:
            self._up(report, probe=probe)
        except Exception as exc:
            if isinstance(exc, GarmaxError):
                raise
            report.error = _one_line(exc)
            report.notes.extend(self.notes)
        finally:
            problem = self.release_lock()
            if problem:
                report.checks.append(Check("lock released", "fail", problem))
        return report

    def _up(self, report: IdleReport, *, probe: bool) -> None:
        document = self.load()
        if document is None:
            report.outcome = "not idle"
            report.notes.append(f"no snapshot at {snapshot_param(self.stage)}: the stage is "
                                "not idle, nothing to restore")
            return
        self._fill_report(report, document)
        resources = document["resources"]
        report.kept_running = _kept(resources)
        attrs = list(reversed(self.attributes(resources)))
        todo: list[tuple[Attr, Any, Any]] = []
        gone: set[str] = set()
        for attr in attrs:
            try:
                value = self.read(attr, resources)
            except Exception as exc:
                if not _gone(exc):
                    raise
                gone.add(attr.key)
                report.steps.append(_step(attr, None, attr.recorded, "gone", _one_line(exc)))
                report.checks.append(Check(f"{attr.kind} {attr.resource}", "warn",
                                           "recorded but gone: nothing to restore"))
                continue
            if value == attr.recorded:
                report.steps.append(_step(attr, value, attr.recorded, "unchanged"))
            else:
                todo.append((attr, value, attr.recorded))
        document["phase"] = "restoring"
        self._log_run(document, "up")
        self.save(document)
        if not self._apply(report, document, resources, todo, "up", "up"):
            report.phase = document["phase"]
            return
        # Read every restored attribute back.
        mismatched = []
        for attr in attrs:
            if attr.key in gone:
                continue
            try:
                value = self.read(attr, resources)
            except Exception as exc:
                mismatched.append(f"{attr.key}: {_one_line(exc)}")
                continue
            if value != attr.recorded:
                mismatched.append(f"{attr.key}: {_show(value)} (recorded {_show(attr.recorded)})")
        report.checks.append(Check("read back", "fail" if mismatched else "ok",
                                   "; ".join(mismatched) or
                                   f"{len(attrs) - len(gone)} attribute(s) as recorded"))
        restored = [a.resource for a in attrs if a.kind == "reserved" and a.recorded != 0
                    and a.key not in gone]
        report.checks.extend(self.warm(restored))
        if probe:
            report.checks.append(self.probe_health())
        if not report.ok:
            report.phase = document["phase"]
            report.error = report.error or "; ".join(
                f"{c.name}: {c.detail}" for c in report.checks if c.status == "fail")
            self.save(document)
            return
        document["phase"] = "restored"
        document["restored_at"] = _iso(self.clock())
        target = archive_param(self.stage, document["created_at"])
        # The same size rules as the live snapshot (the down log may be trimmed to fit).
        self.save(document, name=target,
                  description="garmaxctl idle snapshot, archived after restore")
        self.aws.client("ssm").delete_parameter(Name=snapshot_param(self.stage))
        report.archived_to = target
        report.phase = "restored"
        report.outcome = "restored"
        report.notes.extend(self.notes)

    # ------------------------------------------------------------------ warm and probe

    def warm(self, functions: Iterable[str]) -> list[Check]:
        """Check each restored function can be invoked again.

        Real stages: ``Invoke`` with ``InvocationType=DryRun`` (validates the function is
        invocable and not throttled without running code; the Api function is then warmed
        for real by the ``/api/health`` probe through API Gateway; the processors' only
        valid event is an SQS batch, and their queued messages warm them). LOCAL: the local
        gateway and workers run the handlers in garmaxctl's process (moto cannot invoke),
        so the health probe is the warm-up there.
        """
        names = list(functions)
        if not names:
            return []
        if self.aws.is_local:
            return [Check("warm", "skipped",
                          "not applicable on LOCAL (moto cannot invoke Lambda): the local "
                          "gateway and workers run the handlers in-process; /api/health warms "
                          "the Api handler")]
        lam = self.aws.client("lambda")
        checks = []
        for name in names:
            try:
                answer = lam.invoke(FunctionName=name, InvocationType="DryRun")
            except Exception as exc:
                checks.append(Check(f"warm {name}", "fail", _one_line(exc)))
                continue
            error = answer.get("FunctionError")
            if error is None and answer.get("StatusCode") == 204:
                checks.append(Check(f"warm {name}", "ok", "invocable (DryRun)"))
                continue
            payload = answer["Payload"].read().decode(errors="replace") \
                if answer.get("Payload") else ""
            if "docker" in payload.lower():
                checks.append(Check(f"warm {name}", "skipped",
                                    "the target cannot run Lambda code (an emulator)"))
            else:
                checks.append(Check(f"warm {name}", "fail",
                                    f"{error or answer.get('StatusCode')}: {payload[:120]}"))
        return checks

    def health_url(self) -> str | None:
        if self._health_url is not None:
            return self._health_url()
        if self.aws.is_local:
            from garmaxctl.stage import local

            api = local.status().api_url or local.default_api_url()
            return api.rstrip("/") + "/api/health"
        from garmaxctl.services.cdk import CdkProject

        stack = CdkProject(aws=self.aws).describe_stack()
        if stack is None:
            return None
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        url = outputs.get(str(contract.OutputKey.API_URL))
        return url.rstrip("/") + "/api/health" if url else None

    def probe_health(self) -> Check:
        import urllib.error
        import urllib.request

        url = self.health_url()
        if url is None:
            return Check("/api/health", "skipped",
                         f"stack {contract.stack_name(self.stage)} has no "
                         f"{contract.OutputKey.API_URL} output to probe")
        deadline = time.monotonic() + self.timeouts.health
        last = ""
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    body = json.loads(response.read() or b"{}")
                    if response.status == 200 and body.get("status") == "ok":
                        return Check("/api/health", "ok", f"200 from {url}")
                    last = f"{response.status} {body}"
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code} from {url}"
            except (OSError, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc} ({url})"
            if time.monotonic() >= deadline:
                return Check("/api/health", "fail", last)
            time.sleep(max(self.timeouts.delay, 0.5))

    # ------------------------------------------------------------------ status

    def status(self) -> IdleStatus:
        document = self.load()
        lock = self.read_lock()
        live = self.discover()
        resources = merge_resources(document["resources"], live) if document else live
        rows: list[AttrStatus] = []
        drift: list[str] = []
        phase = document.get("phase") if document else None
        idle_since = _parse_iso(document.get("idle_since")) if document else None
        for attr in self.attributes(resources):
            try:
                value = self.read(attr, resources)
            except Exception as exc:
                if not _gone(exc):
                    raise
                rows.append(AttrStatus(attr.group, attr.label or attr.resource, attr.kind,
                                       attr.recorded if document else None, attr.idle, None,
                                       bool(document), "gone"))
                if document:
                    drift.append(f"{attr.key}: recorded but gone")
                continue
            recorded = attr.recorded if document else None
            drifted = phase == "idle" and value != attr.idle
            note = ""
            if drifted and attr.kind == "cluster" and value == "available":
                note = ("running again: AWS starts a stopped Aurora cluster after 7 days"
                        if idle_since and self.clock() - idle_since >= AURORA_AUTO_RESTART
                        else "running again (started while idle)")
                note += "; run `garmaxctl idle down` to stop it again"
            if drifted:
                drift.append(f"{attr.key}: {_show(value)} (idle wants {_show(attr.idle)})"
                             + (f" — {note}" if note else ""))
            rows.append(AttrStatus(attr.group, attr.label or attr.resource, attr.kind, recorded,
                                   attr.idle, value, drifted, note))
        idle_for = (self.clock() - idle_since).total_seconds() if idle_since else None
        return IdleStatus(
            stage=self.stage, idle=document is not None, phase=phase,
            created_at=document.get("created_at") if document else None,
            created_by=document.get("created_by") if document else None,
            idle_since=document.get("idle_since") if document else None,
            idle_for_s=idle_for, lock=lock, resources=rows, drift=drift,
            saving=self.saving(resources), kept_running=_kept(resources),
            notes=[*self.notes, OUT_OF_SCOPE_NOTE])

    def saving(self, resources: dict[str, Any]) -> Saving:
        """What idle saves per hour/month (docs/idle.md, "Price table"): Fargate tasks and
        Aurora instances that stop; Lambda without traffic costs nothing either way."""
        prices = prices_for(self.config)
        raw: list[tuple[str, str, float]] = []
        for key, service in resources["services"].items():
            raw.append((f"ECS {key}", f"{service['desired']} task(s) x "
                        f"${prices.fargate_task_hour}/h",
                        service["desired"] * prices.fargate_task_hour))
        for ident, cluster in resources["clusters"].items():
            count = cluster.get("instances") or prices.aurora_instances
            running = cluster["status"] == "available"
            raw.append((f"Aurora {ident}",
                        f"{count} x {self.config.rds_instance_class} "
                        f"(${prices.aurora_instance_hour}/h; storage still billed)"
                        if running else "already stopped before idle",
                        count * prices.aurora_instance_hour if running else 0.0))
        raw.append(("Lambda", "no charge without traffic either way; idle stops "
                     "traffic-driven spend", 0.0))
        out = [
            (f"ElastiCache {contract.cache_cluster_id(self.stage)}",
             f"{prices.cache_nodes} x {self.config.cache_node_type}",
             prices.cache_nodes * prices.cache_node_hour),
            ("NAT gateways", f"{prices.nat_gateways} x ${prices.nat_gateway_hour}/h (+ data)",
             prices.nat_gateways * prices.nat_gateway_hour),
        ]
        per_hour = sum(hourly for _, _, hourly in raw)
        return Saving(per_hour=round(per_hour, 4),
                      per_month=round(per_hour * HOURS_PER_MONTH, 2),
                      items=[_price_item(*item) for item in raw],
                      out_of_scope=[_price_item(*item) for item in out])


# ============================================================================ helpers

_TRANSIENT_UP = {"starting", "backing-up", "modifying", "upgrading", "maintenance",
                 "renaming", "resetting-master-credentials", "configuring-iam-database-auth"}


def _settled_status(status: str) -> str:
    """The status a cluster is heading to: what idle records and compares."""
    if status in _TRANSIENT_UP:
        return "available"
    if status == "stopping":
        return "stopped"
    return status


def _gone(exc: BaseException) -> bool:
    return _not_found(exc) or (isinstance(exc, StepFailed) and "is gone" in str(exc))


def _one_line(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        operation = getattr(exc, "operation_name", "call")
        return " ".join(f"{operation}: {error.get('Code')}: {error.get('Message', '')}".split())
    return " ".join(f"{exc}".split()) or type(exc).__name__


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "enabled" if value else "disabled"
    if isinstance(value, dict):
        return " ".join(f"{k} {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(f"{c['qualifier']}={c['count']}" for c in value) or "none"
    return str(value)


def _step(attr: Attr, before: Any, after: Any, status: str, detail: str = "") -> StepResult:
    return StepResult(key=attr.key, group=attr.group, resource=attr.label or attr.resource,
                      attribute=attr.kind, before=before, after=after, status=status,
                      detail=detail)


def _merge_plan(plan: list[list[Any]], more: list[list[Any]]) -> list[list[Any]]:
    """The plan: ``[attribute key, idle value]`` per change, in apply order; a resumed run
    appends what it adds."""
    keys = {entry[0] for entry in plan}
    return plan + [entry for entry in more if entry[0] not in keys]


def _resource_keys(resources: dict[str, Any]) -> list[str]:
    return [f"{kind}:{key}" for kind, items in resources.items() for key in items]


def merge_resources(recorded: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    """The recorded resources, plus live ones the snapshot lacks (recorded values win)."""
    merged = {kind: dict(items) for kind, items in recorded.items()}
    for kind, items in live.items():
        bucket = merged.setdefault(kind, {})
        for key, value in items.items():
            bucket.setdefault(key, value)
    return merged


def _kept(resources: dict[str, Any]) -> list[str]:
    return [name for name, fn in resources["functions"].items() if fn["role"] == "keep"]


def _price_item(resource: str, detail: str, hourly: float) -> dict[str, Any]:
    return {"resource": resource, "detail": detail, "per_hour": round(hourly, 4),
            "per_month": round(hourly * HOURS_PER_MONTH, 2)}
