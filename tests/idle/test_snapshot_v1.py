"""A snapshot written by an earlier garmaxctl still restores: ``fixtures/snapshot_v1.json`` is
the parameter value that the idle engine of commit a8682fc (one ``services/idle.py``)
stored after ``down`` on a stage with every resource kind
(``fixtures/make_snapshot_v1.py``). Here a moto stage is built in the idle state that
snapshot describes, the snapshot is stored as it was written, and ``up`` must restore
exactly what it recorded."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from garmaxctl.shared import contract
from tests.idle import builder
from tests.idle.test_provisioned import ProvisionedLambda

FIXTURE = Path(__file__).parent / "fixtures" / "snapshot_v1.json"
STAGE = "DEV"
SNAPSHOT = contract.ops_prefix(STAGE) + contract.IDLE_SNAPSHOT_PARAM


def _idle_spec(resources: dict[str, Any]) -> builder.StageSpec:
    """The stage as ``down`` left it: what the snapshot recorded, at its idle values."""
    pattern = re.compile(rf"^GarmaxAi-(?P<fn>[A-Za-z0-9]+)-{STAGE}$")
    consumers = {m["function"] for m in resources["mappings"].values()}
    functions = [
        builder.FunctionSpec(pattern.match(name)["fn"],  # type: ignore[index]
                             reserved=fn["reserved"] if fn["role"] == "keep" else 0,
                             consumer=name in consumers, mapping_enabled=False)
        for name, fn in resources["functions"].items()]
    return builder.StageSpec(
        stage=STAGE, functions=functions,
        rules={name.removeprefix("GarmaxAi-").removesuffix(f"-{STAGE}"): False
               for name in resources["rules"]},
        services=[builder.ServiceSpec(s["service"], desired=0,
                                      scaling=(0, s["scaling"]["max"]) if s["scaling"] else None)
                  for s in resources["services"].values()],
        clusters={ident: "stopped" for ident in resources["clusters"]},
        alarm_actions=True,
        # Paging alarms the single-module engine never recorded: up leaves them as they are.
        paging_alarms={"ApiErrorRate": True, "LambdaErrors": False})


def _recorded(resources: dict[str, Any]) -> dict[str, Any]:
    """The snapshot's recorded values, keyed as ``builder.observe`` reads the stage."""
    state: dict[str, Any] = {}
    for name, fn in resources["functions"].items():
        state[f"reserved:{name}"] = fn["reserved"]
    for mapping in resources["mappings"].values():
        state[f"mapping:{mapping['function']}"] = "Enabled" if mapping["enabled"] else "Disabled"
    for name, rule in resources["rules"].items():
        state[f"rule:{name}"] = "ENABLED" if rule["enabled"] else "DISABLED"
    for service in resources["services"].values():
        state[f"desired:{service['service']}"] = service["desired"]
        scaling = service["scaling"]
        state[f"scaling:{service['service']}"] = (scaling["min"], scaling["max"]) \
            if scaling else None
    for ident, cluster in resources["clusters"].items():
        state[f"cluster:{ident}"] = cluster["status"]
    for name, alarm in resources["alarms"].items():
        state[f"alarm:{name}"] = alarm["actions"]
    return state


def _with_live_mapping_ids(text: str, resources: dict[str, Any]) -> str:
    """AWS names a mapping by a UUID it assigns: the rebuilt stage's mappings have new ones.
    Each recorded UUID is replaced by the live one of the same function and queue; nothing
    else in the stored text changes."""
    lam = builder.client("lambda")
    for recorded, mapping in resources["mappings"].items():
        (live,) = [m["UUID"] for m in lam.list_event_source_mappings(
            FunctionName=mapping["function"])["EventSourceMappings"]
            if m["EventSourceArn"] == mapping["source"]]
        text = text.replace(recorded, live)
    return text


def test_a_snapshot_written_by_the_single_module_engine_restores_exactly(dev) -> None:
    stored = FIXTURE.read_text()
    resources = json.loads(stored)["resources"]
    dev.build(_idle_spec(resources))
    text = _with_live_mapping_ids(stored, resources)
    builder.client("ssm").put_parameter(Name=SNAPSHOT, Value=text, Type="String")
    idle = dev.observe()
    recorded = _recorded(json.loads(text)["resources"])
    assert set(idle) - set(recorded) == {"desired:other-stage", "scaling:other-stage",
                                         "alarm:GarmaxAI-ApiErrorRate-DEV",
                                         "alarm:GarmaxAI-LambdaErrors-DEV"}
    assert {key: idle[key] for key in recorded} != recorded  # there is something to restore

    provisioned = {name: {} for name, fn in resources["functions"].items()
                   if fn.get("provisioned")}
    engine = dev.engine()
    engine.aws._clients["lambda"] = ProvisionedLambda(engine.aws.client("lambda"), provisioned)
    report = engine.up()

    assert report.ok and report.outcome == "restored", report
    assert report.created_at == json.loads(stored)["created_at"]
    assert dev.observe() == {**idle, **recorded}
    assert provisioned == {name: {c["qualifier"]: c["count"] for c in fn["provisioned"]}
                           for name, fn in resources["functions"].items()
                           if fn.get("provisioned")}
    assert dev.parameter(SNAPSHOT) is None
    archived = json.loads(dev.parameter(report.archived_to) or "{}")
    assert archived["resources"] == json.loads(text)["resources"]
    assert archived["steps"]["down"] == json.loads(text)["steps"]["down"]


def test_the_typed_snapshot_reads_and_writes_the_stored_bytes_unchanged() -> None:
    from garmaxctl.services.idle.kinds.functions import FunctionRecord
    from garmaxctl.services.idle.kinds.services import ServiceRecord
    from garmaxctl.services.idle.snapshot import Snapshot

    stored = FIXTURE.read_text()
    snapshot = Snapshot.from_json(json.loads(stored))
    assert snapshot.encode() == (stored, "Standard")
    functions = snapshot.resources.sections["functions"]
    assert functions["GarmaxAi-Api-DEV"] == FunctionRecord(
        role="ingress", reserved=10, provisioned=[{"qualifier": "live", "count": 5}])
    assert functions["GarmaxAi-StripeWebhook-DEV"].provisioned is None  # no key: not read
    assert snapshot.resources.sections["services"]["GarmaxAiStack-DEV-SmplCluster/Previews"] \
        == ServiceRecord(cluster="GarmaxAiStack-DEV-SmplCluster", service="Previews",
                         desired=1, scaling=None)
    assert snapshot.plan[0] == ("provisioned:GarmaxAi-Api-DEV", [])
