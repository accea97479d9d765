"""Issue 11 item 13: event source mappings in transition, as AWS has them (moto has none).

On AWS a mapping passes through ``Creating``/``Enabling``/``Disabling``/``Updating`` before
it is ``Enabled`` or ``Disabled``, and ``UpdateEventSourceMapping`` on a mapping in
transition is ``ResourceInUseException`` (the Lambda service model's documented error:
"you tried to update an event source mapping in the CREATING state"). Moto switches state
at once, so ``Transitions`` injects AWS's answers through botocore event hooks on the
engine's session: a mapping reports its transitional state for a number of reads, and an
update meanwhile is refused as AWS refuses it.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from garmaxctl.shared import contract
from tests.idle import builder

STAGE = "DEV"


class Transitions:
    """A mapping in transition for the next ``reads`` answers that describe it."""

    def __init__(self) -> None:
        self.pending: dict[str, list[Any]] = {}  # uuid -> [state, reads left]
        self.refused: list[str] = []  # updates refused with ResourceInUseException
        self.updates: list[tuple[str, bool]] = []  # updates AWS accepted

    def start(self, uuid: str, state: str, reads: int) -> None:
        self.pending[uuid] = [state, reads]

    def _show(self, mapping: dict[str, Any]) -> None:
        entry = self.pending.get(mapping.get("UUID", ""))
        if entry is None:
            return
        mapping["State"] = entry[0]
        entry[1] -= 1
        if entry[1] <= 0:
            del self.pending[mapping["UUID"]]

    def after_call(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        if model.name == "GetEventSourceMapping":
            self._show(parsed)
        elif model.name == "ListEventSourceMappings":
            for mapping in parsed.get("EventSourceMappings", []):
                self._show(mapping)

    def before_build(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if model.name != "UpdateEventSourceMapping":
            return
        uuid = params["UUID"]
        if uuid in self.pending:
            self.refused.append(uuid)
            raise ClientError({"Error": {
                "Code": "ResourceInUseException",
                "Message": f"Cannot update the event source mapping {uuid} because it is "
                           f"in use ({self.pending[uuid][0]})."}}, "UpdateEventSourceMapping")
        self.updates.append((uuid, params["Enabled"]))
        # AWS then passes through Enabling/Disabling before it settles.
        self.start(uuid, "Enabling" if params["Enabled"] else "Disabling", 2)

    def attach(self, engine: Any) -> Any:
        events = engine.aws.session.events
        events.register("after-call.lambda", self.after_call)
        events.register("before-parameter-build.lambda", self.before_build)
        return engine


def _uuid(function: str) -> str:
    name = contract.function_name(function, STAGE)
    (mapping,) = builder.client("lambda").list_event_source_mappings(
        FunctionName=name)["EventSourceMappings"]
    return str(mapping["UUID"])


def _spec_with_a_disabled_mapping() -> builder.StageSpec:
    spec = builder.default_spec(STAGE)
    for fn in spec.functions:
        if fn.name == "BillingProcessor":
            fn.mapping_enabled = False
    return spec


def test_a_disabled_mapping_updating_is_recorded_disabled_and_stays_disabled(dev) -> None:
    """``Updating`` is a configuration change (a deploy changed its batch size) of an
    enabled or a disabled mapping: idle waits for it to settle and records where it
    settled, so ``up`` does not enable a mapping that was disabled."""
    dev.build(_spec_with_a_disabled_mapping())
    billing = _uuid("BillingProcessor")
    before = dev.observe()
    assert before["mapping:GarmaxAi-BillingProcessor-DEV"] == "Disabled"
    transitions = Transitions()
    transitions.start(billing, "Updating", 3)

    down = transitions.attach(dev.engine()).down()

    assert down.ok, down
    document = dev.snapshot()
    assert document["resources"]["mappings"][billing]["enabled"] is False
    assert transitions.refused == []
    assert dev.engine().up().ok
    assert dev.observe() == before


def test_a_mapping_in_transition_is_changed_only_once_it_has_settled(dev) -> None:
    """An enabled mapping still ``Updating`` when ``down`` reaches it, and each update
    followed by ``Disabling``/``Enabling``: no update is sent while AWS would refuse it,
    and ``down``/``up`` end with the mapping as recorded."""
    dev.build()
    tryon = _uuid("TryonProcessor")
    before = dev.observe()
    transitions = Transitions()
    engine = transitions.attach(dev.engine())
    transitions.start(tryon, "Updating", 4)

    down = engine.down()

    assert down.ok, down
    assert transitions.refused == []
    assert (tryon, False) in transitions.updates
    assert dev.observe()["mapping:GarmaxAi-TryonProcessor-DEV"] == "Disabled"
    assert dev.snapshot()["resources"]["mappings"][tryon]["enabled"] is True

    transitions = Transitions()
    engine = transitions.attach(dev.engine())
    transitions.start(tryon, "Disabling", 3)  # still settling when up starts
    up = engine.up()
    assert up.ok, up
    assert transitions.refused == []
    assert dev.observe() == before


def test_an_update_refused_as_in_use_is_retried_after_the_mapping_settles(dev) -> None:
    """A transition that begins between idle's read and its update (another client):
    AWS refuses the update with ResourceInUseException; idle settles and asks again."""
    dev.build()
    render = _uuid("AiRenderProcessor")
    transitions = Transitions()
    engine = transitions.attach(dev.engine())
    original = transitions.before_build
    began: list[str] = []

    def another_client_first(model: Any, params: dict[str, Any], **kwargs: Any) -> None:
        if model.name == "UpdateEventSourceMapping" and params["UUID"] == render \
                and not began:
            began.append(render)
            transitions.start(render, "Updating", 2)
        original(model, params, **kwargs)

    engine.aws.session.events.unregister("before-parameter-build.lambda", original)
    engine.aws.session.events.register("before-parameter-build.lambda", another_client_first)

    down = engine.down()

    assert down.ok, down
    assert transitions.refused == [render]
    assert (render, False) in transitions.updates
    assert dev.observe()["mapping:GarmaxAi-AiRenderProcessor-DEV"] == "Disabled"
