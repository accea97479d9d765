"""The resource-kind registry: every kind fits the apply order, and a kind added by one
class and one registration is discovered, recorded, idled and restored by the engine."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from garmaxctl.services.idle import kinds
from garmaxctl.services.idle.context import Context
from garmaxctl.services.idle.kinds import Attr, ResourceKind, Value
from tests.idle import builder

FLAG = "/idle-test/DEV/renders"


def test_every_kind_owns_one_section_and_its_groups_are_in_the_apply_order() -> None:
    sections = [kind.section for kind in kinds.KINDS]
    assert len(set(sections)) == len(sections)
    assert all(set(kind.groups) <= set(kinds.GROUPS) for kind in kinds.KINDS)


def test_each_kind_describes_its_attributes_in_its_own_groups() -> None:
    from pathlib import Path

    from garmaxctl.services.idle.snapshot import Snapshot

    stored = (Path(__file__).parent / "fixtures" / "snapshot_v1.json").read_text()
    resources = Snapshot.from_json(json.loads(stored)).resources
    described = set()
    for kind in kinds.KINDS:
        for attr in kind.attributes(resources.of(kind)):
            assert attr.group in kind.groups and attr.owner is kind
            described.add(attr.kind)
    assert described == {"reserved", "provisioned", "mapping", "rule", "scaling", "desired",
                         "cluster", "alarm"}


@dataclass
class FlagRecord:
    value: str

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value}


class Flags(ResourceKind):
    """A made-up kind: a String parameter switched "off" while idle."""

    section = "flags"
    groups = ("rules",)

    def load(self, data: dict[str, Any]) -> FlagRecord:
        return FlagRecord(data["value"])

    def discover(self, ctx: Context) -> dict[str, FlagRecord]:
        parameter = ctx.client("ssm").get_parameter(Name=FLAG)["Parameter"]
        return {parameter["Name"]: FlagRecord(parameter["Value"])}

    def attributes(self, records: dict[str, FlagRecord]) -> list[Attr]:
        return [self.attr("rules", "flag", name, flag, flag.value, "off")
                for name, flag in records.items()]

    def read(self, ctx: Context, attr: Attr) -> Value:
        return ctx.client("ssm").get_parameter(Name=attr.resource)["Parameter"]["Value"]

    def write(self, ctx: Context, attr: Attr, value: Value) -> str:
        ctx.client("ssm").put_parameter(Name=attr.resource, Value=value, Type="String",
                                        Overwrite=True)
        return f"flag {value}"


def test_a_kind_added_by_one_registration_is_idled_and_restored(dev, monkeypatch) -> None:
    dev.build()
    ssm = builder.client("ssm")
    ssm.put_parameter(Name=FLAG, Value="on", Type="String")
    monkeypatch.setattr(kinds, "KINDS", (*kinds.KINDS, Flags()))

    down = dev.engine().down()
    assert down.ok, down
    assert ssm.get_parameter(Name=FLAG)["Parameter"]["Value"] == "off"
    document = json.loads(dev.parameter("/garmaxai/ops/DEV/idle/snapshot") or "{}")
    assert document["resources"]["flags"] == {FLAG: {"value": "on"}}
    keys = [key for key, _ in document["plan"]]
    assert keys.index(f"flag:{FLAG}") < keys.index("desired:GarmaxAiStack-DEV-SmplCluster/Smpl")

    up = dev.engine().up()
    assert up.ok, up
    assert ssm.get_parameter(Name=FLAG)["Parameter"]["Value"] == "on"
    assert [s.status for s in up.steps if s.attribute == "flag"] == ["done"]


def test_a_snapshot_section_no_kind_owns_is_kept_as_it_is() -> None:
    from garmaxctl.services.idle.snapshot import Resources

    data = {"functions": {}, "gadgets": {"g1": {"speed": 3}}}
    resources = Resources.from_json(data)
    assert resources.to_json()["gadgets"] == {"g1": {"speed": 3}}
    assert list(resources.to_json()) == ["functions", "gadgets", "mappings", "rules",
                                         "services", "clusters", "alarms"]


@pytest.mark.parametrize("kind", kinds.KINDS, ids=lambda k: k.section)
def test_records_round_trip_through_their_kind(kind: ResourceKind) -> None:
    samples = {"functions": {"role": "consumer", "reserved": None, "provisioned": []},
               "mappings": {"function": "f", "source": "arn:aws:sqs:r:1:q", "enabled": False},
               "rules": {"enabled": True},
               "services": {"cluster": "c", "service": "s", "desired": 2,
                            "scaling": {"min": 1, "max": 4}},
               "clusters": {"status": "stopped", "instances": 2},
               "alarms": {"actions": False}}
    assert kind.load(samples[kind.section]).to_json() == samples[kind.section]
