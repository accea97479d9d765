"""Targeted patches to moto 5.2.5 behaviour, applied only inside garmaxctl's emulator.

Each ``bridge_*`` function installs one patch and returns a ``BridgeInfo``. A patch
wraps moto's own function (the original stays reachable as ``__wrapped__``) and marks
the replacement, so installing twice is a no-op. Nothing here runs at import time.

This module is longer than garmaxctl's 600-line limit on purpose: it is moto boilerplate
(one small wrapper of a moto internal per bridge, listed in ``ALL_PATCHES``), exempted
from the limit by the structure issue (10).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from . import BridgeInfo

logger = logging.getLogger("garmaxctl.local.bridges")

_MARK = "__garmax_bridge__"
_MISSING = object()


def _already(obj: Any) -> bool:
    return bool(getattr(obj, _MARK, False))


def _mark(
    new: Callable[..., Any], original: Callable[..., Any] | None = None
) -> Callable[..., Any]:
    if original is not None:
        functools.update_wrapper(new, original)
    setattr(new, _MARK, True)
    return new


def _patch_method(owner: type, name: str, make: Callable[[Any], Callable[..., Any]]) -> None:
    """Replace a plain method ``owner.name`` with ``make(original)``, once."""
    original = owner.__dict__[name]
    if _already(original):
        return
    setattr(owner, name, _mark(make(original), original))


def _patch_classmethod(owner: type, name: str, make: Callable[[Any], Callable[..., Any]]) -> None:
    """Replace a classmethod ``owner.name`` (its function is ``make(original_function)``)."""
    descriptor = owner.__dict__[name]
    original = descriptor.__func__
    if _already(original):
        return
    setattr(owner, name, classmethod(_mark(make(original), original)))


def _as_bool(value: Any, default: bool) -> bool:
    from .cfn_models import as_bool

    return as_bool(value, default)


# --------------------------------------------------------------------------------------
# CloudFormation API
# --------------------------------------------------------------------------------------


def bridge_delete_change_set() -> BridgeInfo:
    """DeleteChangeSet of a change set that does not exist: AWS answers 200 when the stack
    exists (the CDK CLI's "remove existing change set if it exists" relies on it) and
    ValidationError "Stack [x] does not exist" when it does not. moto 5.2.5 crashes with
    UnboundLocalError (HTTP 500). Also scopes a by-name lookup to the given stack."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import EmptyResult

    def make(_original: Any) -> Callable[..., Any]:
        def delete_change_set(self: Any) -> Any:
            name = self._get_param("ChangeSetName")
            stack_name = self._get_param("StackName")
            backend = self.cloudformation_backend
            stack = None
            if stack_name:
                try:
                    stack = backend.get_stack(stack_name)
                except ValidationError:
                    stack = None
                if stack is None or stack.status == "DELETE_COMPLETE":
                    raise ValidationError(
                        stack_name, message=f"Stack [{stack_name}] does not exist"
                    )
            elif not str(name).startswith("arn:"):
                raise ValidationError(
                    message="StackName must be specified if ChangeSetName is not "
                    "specified as an ARN."
                )
            key, _change_set = _find_change_set(backend, name, stack)
            if key is not None:
                del backend.change_sets[key]
            return EmptyResult()

        return delete_change_set

    _patch_method(CloudFormationResponse, "delete_change_set", make)
    return BridgeInfo(
        "cfn-delete-change-set",
        "patch",
        "DeleteChangeSet of a missing change set: 200 on an existing stack, "
        "ValidationError for a missing stack (moto: 500 UnboundLocalError)",
    )


def _change_set_not_found(name: str) -> Exception:
    from moto.cloudformation.exceptions import CloudFormationError

    class ChangeSetNotFoundError(CloudFormationError):
        code = "ChangeSetNotFoundException"  # the model's shape; wire code ChangeSetNotFound

    return ChangeSetNotFoundError(f"ChangeSet [{name}] does not exist")


def _find_change_set(backend: Any, name: str, stack: Any) -> tuple[str | None, Any]:
    if name in backend.change_sets:  # an ARN
        return name, backend.change_sets[name]
    for cs_id, cs in backend.change_sets.items():
        if cs.change_set_name == name and (stack is None or cs.stack_id == stack.stack_id):
            return cs_id, cs
    return None, None


def bridge_describe_change_set() -> BridgeInfo:
    """DescribeChangeSet of a missing change set: AWS answers ``ChangeSetNotFound``
    (HTTP 404), which the CDK CLI waits for after deleting its previous change set
    (``waitForGone``); moto answers ValidationError "Stack with id <change set> does not
    exist" and the CLI's update fails. Also scopes a by-name lookup to the given stack."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.core.responses import ActionResult

    def make(_original: Any) -> Callable[..., Any]:
        def describe_change_set(self: Any) -> Any:
            name = self._get_param("ChangeSetName")
            stack_name = self._get_param("StackName")
            backend = self.cloudformation_backend
            stack = None
            if stack_name:
                try:
                    stack = backend.get_stack(stack_name)
                except ValidationError:
                    raise _change_set_not_found(name) from None
            _key, change_set = _find_change_set(backend, name, stack)
            if change_set is None:
                raise _change_set_not_found(name)
            return ActionResult(change_set)

        return describe_change_set

    _patch_method(CloudFormationResponse, "describe_change_set", make)
    return BridgeInfo(
        "cfn-describe-change-set-not-found",
        "patch",
        "DescribeChangeSet of a missing change set answers ChangeSetNotFound (404)",
    )


def bridge_execute_change_set_outputs() -> BridgeInfo:
    """ExecuteChangeSet leaves the stack's outputs (and exports, template, description)
    as they were when the stack was created: a stack created by a change set (every CDK
    bootstrap, and ``cdk deploy`` without ``--method=direct``) has no Outputs at all
    (the toolkit stack's missing ``BootstrapVersion``), and an UPDATE change set keeps
    the old ones. Rebuild them from the executed template, as UpdateStack does. Also
    answers ChangeSetNotFound for a missing change set (moto: 500 UnboundLocalError)."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend

    def make(original: Any) -> Callable[..., Any]:
        def execute_change_set(
            self: Any, change_set_name: str, stack_name: str | None = None
        ) -> None:
            stack = None
            if stack_name:
                try:
                    stack = self.get_stack(stack_name)
                except ValidationError:
                    stack = None
            _key, change_set = _find_change_set(self, change_set_name, stack)
            if change_set is None:
                raise _change_set_not_found(change_set_name)
            original(self, change_set.change_set_id, stack_name)
            executed = self.stacks[change_set.stack_id]
            executed.template_dict = change_set.template_dict
            executed.description = change_set.template_dict.get("Description")
            executed.output_map = executed._create_output_map()
            for name in [
                n for n, e in self.exports.items() if e.exporting_stack_id == executed.stack_id
            ]:
                del self.exports[name]
            self._validate_export_uniqueness(executed)
            for export in executed.exports:
                self.exports[export.name] = export

        return execute_change_set

    _patch_method(CloudFormationBackend, "execute_change_set", make)
    return BridgeInfo(
        "cfn-execute-change-set-outputs",
        "patch",
        "ExecuteChangeSet rebuilds the stack's Outputs/exports from the executed template "
        "(moto: a change-set-created stack has no Outputs, e.g. BootstrapVersion)",
    )


def _stack_template(stack: Any) -> dict[str, Any]:
    """The template a stack's resources were last built from. (moto leaves
    ``Stack.template_dict`` at ``{}`` for a stack created by a change set.)"""
    resource_map = getattr(stack, "resource_map", None)
    template = getattr(resource_map, "_template", None)
    return template or getattr(stack, "template_dict", None) or {}


def _template_defaults(template_dict: dict[str, Any] | None) -> dict[str, Any]:
    slots = (template_dict or {}).get("Parameters") or {}
    return {k: v["Default"] for k, v in slots.items() if isinstance(v, dict) and "Default" in v}


def bridge_update_stack_parameters() -> BridgeInfo:
    """UpdateStack with ``UsePreviousValue`` for a parameter the stack was created
    without (it took its Default): moto raises KeyError (HTTP 500). The CDK CLI sends
    exactly that for ``BootstrapVersion`` on every update. AWS carries the previous
    value over, which was the previous template's Default."""
    from moto.cloudformation.models import CloudFormationBackend

    def make(original: Any) -> Callable[..., Any]:
        def _resolve_update_parameters(
            self: Any, instance: Any, incoming_params: list[dict[str, Any]]
        ) -> dict[str, str]:
            previous_defaults = _template_defaults(_stack_template(instance))
            carried = []
            for param in incoming_params:
                key = param.get("ParameterKey")
                if param.get("UsePreviousValue") and key not in instance.parameters:
                    if key in previous_defaults:
                        carried.append(
                            {"ParameterKey": key, "ParameterValue": previous_defaults[key]}
                        )
                    continue
                carried.append(param)
            return original(self, instance=instance, incoming_params=carried)

        return _resolve_update_parameters

    _patch_method(CloudFormationBackend, "_resolve_update_parameters", make)
    return BridgeInfo(
        "cfn-update-stack-use-previous-value",
        "patch",
        "UpdateStack UsePreviousValue for a defaulted parameter carries the default "
        "(moto: 500 KeyError; the CDK CLI sends it for BootstrapVersion)",
    )


def bridge_ssm_parameter_previous_value() -> BridgeInfo:
    """A template parameter of type ``AWS::SSM::Parameter::Value<...>`` passed with
    ``UsePreviousValue`` (the CDK CLI does so for ``BootstrapVersion`` in every UPDATE
    change set): moto reuses the *resolved* value (the SSM parameter's content, e.g.
    "30") as the new *name* to look up and crashes (500 AttributeError). On AWS the
    previous value is the parameter name. ``Stack.stack_parameters`` is only read for
    previous values; make it return the input value for SSM-typed parameters."""
    from moto.cloudformation.models import Stack

    original = Stack.__dict__["stack_parameters"]
    if _already(original.fget):
        return _SSM_PREVIOUS_INFO

    def stack_parameters(self: Any) -> dict[str, Any]:
        resolved = dict(original.fget(self))
        slots = _stack_template(self).get("Parameters") or {}
        for key, slot in slots.items():
            if key in resolved and str(slot.get("Type", "")).startswith("AWS::SSM::Parameter::"):
                if key in self.parameters:
                    resolved[key] = self.parameters[key]
                elif "Default" in slot:
                    resolved[key] = slot["Default"]
        return resolved

    Stack.stack_parameters = property(_mark(stack_parameters, original.fget))  # type: ignore[assignment]
    return _SSM_PREVIOUS_INFO


_SSM_PREVIOUS_INFO = BridgeInfo(
    "cfn-ssm-parameter-previous-value",
    "patch",
    "UsePreviousValue of an SSM-typed template parameter is its name, not its resolved "
    "value (moto: 500 in UPDATE change sets)",
)


def bridge_update_stack_no_changes() -> BridgeInfo:
    """UpdateStack with the deployed template, parameters and tags: AWS refuses with
    ValidationError "No updates are to be performed." (the CDK CLI's direct deployment
    treats exactly that message as a no-op); moto checks this only when parameters are
    passed and re-applies the template otherwise."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import CloudFormationBackend

    def make(original: Any) -> Callable[..., Any]:
        def update_stack(
            self: Any,
            name: str,
            template: str,
            role_arn: str | None,
            parameters: list[dict[str, Any]],
            tags: dict[str, str] | None,
        ) -> Any:
            stack = self.get_stack(name)
            if stack.has_template(template) and (tags is None or tags == stack.tags):
                resolved = self._resolve_update_parameters(
                    instance=stack, incoming_params=parameters
                )
                defaults = _template_defaults(_stack_template(stack))
                if {**defaults, **stack.parameters} == {**defaults, **resolved}:
                    raise ValidationError(name, message="No updates are to be performed.")
            return original(self, name, template, role_arn, parameters, tags)

        return update_stack

    _patch_method(CloudFormationBackend, "update_stack", make)
    return BridgeInfo(
        "cfn-update-stack-no-changes",
        "patch",
        'UpdateStack without changes answers "No updates are to be performed." as AWS does',
    )


def _depends_on_order(resources: dict[str, Any]) -> list[str]:
    """Template order, except that a resource comes after everything it DependsOn."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str) -> None:
        if state.get(name) or name not in resources:
            return
        state[name] = 1
        deps = (resources[name] or {}).get("DependsOn") or []
        for dep in [deps] if isinstance(deps, str) else deps:
            if state.get(dep) != 1:  # a cycle: CloudFormation rejects it; keep going
                visit(dep)
        state[name] = 2
        order.append(name)

    for name in resources:
        visit(name)
    return order


def _normalised(resource: Any) -> Any:
    if isinstance(resource, dict) and "Properties" not in resource:
        return {**resource, "Properties": {}}
    return resource


def bridge_resource_diff() -> BridgeInfo:
    """Two fixes to how moto diffs a stack update (UpdateStack, change sets):

    * moto writes ``"Properties": {}`` into the *stored* template of every resource
      declared without Properties when it creates it, so on every later update such a
      resource (CDK's ``sns.Topic``, a default ``sqs.Queue``) differs from the new
      template and is **replaced** (new physical name, data gone). Compare with the
      missing Properties normalised to ``{}``.
    * resources added by an update or a CREATE change set are created in template order,
      ignoring DependsOn (e.g. an ApiGateway Deployment before its Methods: "REST API
      doesn't contain any methods"); CreateStack honours DependsOn. Order them so.
    """
    from moto.cloudformation.parsing import ResourceMap, get_references_from_template

    def make(original: Any) -> Callable[..., Any]:
        def build_resource_diff(
            self: Any, other_template: dict[str, Any], parameters: Any = None
        ) -> dict[str, Any]:
            diff = original(self, other_template, parameters)
            old, new = self._resource_json_map, other_template["Resources"]
            changed_parameters = {
                p for p in (parameters or {}) if self.input_parameters.get(p) != parameters[p]
            }
            diff["Modify"] = [
                name
                for name in diff["Modify"]
                if _normalised(old[name]) != _normalised(new[name])
                or changed_parameters & set(get_references_from_template(new[name]))
            ]
            added = set(diff["Add"])
            if len(added) > 1:
                diff["Add"] = [n for n in _depends_on_order(new) if n in added]
            return diff

        return build_resource_diff

    _patch_method(ResourceMap, "build_resource_diff", make)
    return BridgeInfo(
        "cfn-resource-diff",
        "patch",
        "updates no longer replace resources declared without Properties; resources "
        "added by UpdateStack / a CREATE change set honour DependsOn",
    )


def bridge_update_without_model_update() -> BridgeInfo:
    """A modified resource whose moto model has no update method (DynamoDB Table before
    the table bridge, Logs LogGroup, ApiGateway RestApi/Resource/Method, Lambda
    Permission, IAM ManagedPolicy, ...) is replaced by ``None`` in moto's resource map:
    its Ref and GetAtt then resolve to nothing and outputs built on it disappear. Keep
    the existing resource instead, unchanged, and log a warning naming it."""
    from moto.cloudformation import parsing

    original = parsing.parse_and_update_resource
    if _already(original):
        return _UPDATE_FALLBACK_INFO

    def parse_and_update_resource(
        logical_id: str,
        resource_json: dict[str, Any],
        resources_map: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        updated = original(logical_id, resource_json, resources_map, account_id, region_name)
        if updated is None:
            existing = resources_map._parsed_resources.get(logical_id)
            if existing is not None:
                logger.warning(
                    "emulator: %s (%s) changed but moto cannot update this type in place; "
                    "the existing resource is kept unchanged",
                    logical_id,
                    resource_json.get("Type"),
                )
                return existing
        return updated

    parsing.parse_and_update_resource = _mark(parse_and_update_resource, original)
    return _UPDATE_FALLBACK_INFO


_UPDATE_FALLBACK_INFO = BridgeInfo(
    "cfn-update-keeps-unupdatable",
    "patch",
    "a changed resource of a type moto cannot update keeps its resource (warning) "
    "instead of resolving to nothing",
)


def bridge_cdk_metadata() -> BridgeInfo:
    """``AWS::CDK::Metadata`` (CDK's usage telemetry) provisions nothing on AWS; list it
    with moto's null types (WaitCondition handles) so moto's log does not call it
    unsupported. (moto still emits a Python UserWarning while parsing it.)"""
    from moto.cloudformation import parsing

    if "AWS::CDK::Metadata" not in parsing.NULL_MODELS:
        parsing.NULL_MODELS.append("AWS::CDK::Metadata")
    return BridgeInfo("cfn-cdk-metadata", "patch", "AWS::CDK::Metadata is a null resource")


# --------------------------------------------------------------------------------------
# Ref semantics of existing models
# --------------------------------------------------------------------------------------


def bridge_ref_physical_ids() -> BridgeInfo:
    """moto's EventBus and ApiGateway Deployment have no ``physical_resource_id``, so a
    ``Ref`` resolves to the Python object: ``AWS::Events::Rule`` with ``EventBusName:
    {Ref: Bus}`` crashes (``'EventBus' object has no attribute 'split'``) and a Stage's
    ``DeploymentId`` is an object. Ref returns the bus name / deployment id on AWS."""
    from moto.apigateway.models import Deployment
    from moto.events.models import EventBus

    if "physical_resource_id" not in EventBus.__dict__:
        EventBus.physical_resource_id = property(lambda self: self.name)  # type: ignore[attr-defined]
    if "physical_resource_id" not in Deployment.__dict__:
        Deployment.physical_resource_id = property(lambda self: self.id)  # type: ignore[attr-defined]
    return BridgeInfo(
        "cfn-ref-eventbus-deployment",
        "patch",
        "Ref to AWS::Events::EventBus -> bus name, to AWS::ApiGateway::Deployment -> id",
    )


# --------------------------------------------------------------------------------------
# SQS -> Lambda
# --------------------------------------------------------------------------------------

_SQS_DELIVERY_LOCK = threading.Lock()


def bridge_sqs_lambda_delivery_off() -> BridgeInfo:
    """moto's SendMessage to a queue with an enabled event source mapping receives the
    messages and invokes the function synchronously; without Docker that fails, the
    receive count climbs and the messages end in the DLQ. In the emulator, messages stay
    in the queue for garmaxctl's local workers. Event source mappings themselves (create,
    enable/disable, list, FunctionResponseTypes, ScalingConfig) are untouched."""
    from moto.sqs.models import Queue

    def make(original: Any) -> Callable[..., Any]:
        def add_message(self: Any, message: Any) -> Any:
            if not self.lambda_event_source_mappings:
                return original(self, message)
            # moto's add_message delivers to every mapping registered on the queue; hide
            # them for the duration of the call (the registry is only read by delivery).
            with _SQS_DELIVERY_LOCK:
                mappings = self.lambda_event_source_mappings
                self.lambda_event_source_mappings = {}
                try:
                    return original(self, message)
                finally:
                    mappings.update(self.lambda_event_source_mappings)
                    self.lambda_event_source_mappings = mappings

        return add_message

    _patch_method(Queue, "add_message", make)
    return BridgeInfo(
        "sqs-lambda-delivery-off",
        "patch",
        "SendMessage no longer invokes Lambda synchronously; messages stay in the queue",
    )


# --------------------------------------------------------------------------------------
# Lambda
# --------------------------------------------------------------------------------------


def bridge_lambda_function() -> BridgeInfo:
    """``AWS::Lambda::Function``: moto applies ReservedConcurrentExecutions on create but
    not on update (neither a change nor its removal) and drops ``Tags``; and GetFunction
    omits ``Concurrency`` when it is 0 (a truthiness test), which is what idle sets."""
    from moto.awslambda.models import LambdaFunction

    def make_create(original: Any) -> Callable[..., Any]:
        def create_from_cloudformation_json(
            cls: Any,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> Any:
            fn = original(
                cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
            )
            properties = cloudformation_json["Properties"]
            fn._garmax_cfn_concurrency = properties.get("ReservedConcurrentExecutions")
            tags = properties.get("Tags")
            if tags:
                fn.tags = {t["Key"]: t["Value"] for t in tags}
            return fn

        return create_from_cloudformation_json

    def make_update(original: Any) -> Callable[..., Any]:
        def update_from_cloudformation_json(
            cls: Any,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> Any:
            fn = original(
                cls,
                original_resource,
                new_resource_name,
                cloudformation_json,
                account_id,
                region_name,
            )
            properties = cloudformation_json["Properties"]
            wanted = properties.get("ReservedConcurrentExecutions")
            # Like CloudFormation, touch the setting only when the template's value
            # changed, so a value set out of band (idle) survives unrelated updates.
            if wanted != getattr(fn, "_garmax_cfn_concurrency", _MISSING):
                fn.reserved_concurrency = int(wanted) if wanted is not None else None
                fn._garmax_cfn_concurrency = wanted
            if "Tags" in properties:
                fn.tags = {t["Key"]: t["Value"] for t in properties["Tags"] or []}
            return fn

        return update_from_cloudformation_json

    def make_get_code(original: Any) -> Callable[..., Any]:
        def get_code(self: Any) -> dict[str, Any]:
            response = original(self)
            if self.reserved_concurrency is not None and "Concurrency" not in response:
                response["Concurrency"] = {
                    "ReservedConcurrentExecutions": int(self.reserved_concurrency)
                }
            return response

        return get_code

    _patch_classmethod(LambdaFunction, "create_from_cloudformation_json", make_create)
    _patch_classmethod(LambdaFunction, "update_from_cloudformation_json", make_update)
    _patch_method(LambdaFunction, "get_code", make_get_code)
    return BridgeInfo(
        "lambda-function-concurrency-tags",
        "patch",
        "CFN updates apply ReservedConcurrentExecutions and Tags; GetFunction shows Concurrency 0",
    )


# --------------------------------------------------------------------------------------
# DynamoDB and Logs
# --------------------------------------------------------------------------------------


def _apply_table_ttl_pitr(
    table: Any, properties: dict[str, Any], account_id: str, region: str
) -> None:
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[account_id][region]
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and ttl.get("AttributeName"):
        backend.update_time_to_live(
            table.name,
            {
                "AttributeName": ttl["AttributeName"],
                "Enabled": _as_bool(ttl.get("Enabled"), False),
            },
        )
    elif ttl is None and table.ttl.get("TimeToLiveStatus") == "ENABLED":
        table.ttl = {"TimeToLiveStatus": "DISABLED"}
    pitr = properties.get("PointInTimeRecoverySpecification") or {}
    spec: dict[str, Any] = {
        "PointInTimeRecoveryEnabled": _as_bool(pitr.get("PointInTimeRecoveryEnabled"), False)
    }
    if pitr.get("RecoveryPeriodInDays") is not None:
        spec["RecoveryPeriodInDays"] = int(pitr["RecoveryPeriodInDays"])
    backend.update_continuous_backups(table.name, spec)


_TABLE_REPLACEMENT_PROPERTIES = ("TableName", "KeySchema")


def bridge_dynamodb_table() -> BridgeInfo:
    """``AWS::DynamoDB::Table``: moto ignores TimeToLiveSpecification and
    PointInTimeRecoverySpecification and has no update at all. Apply both on create and
    on update (in place, as AWS does); other property changes are logged, not applied."""
    from moto.dynamodb.models.table import Table

    def make_create(original: Any) -> Callable[..., Any]:
        def create_from_cloudformation_json(
            cls: Any,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> Any:
            table = original(
                cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
            )
            properties = cloudformation_json["Properties"]
            _apply_table_ttl_pitr(table, properties, account_id, region_name)
            table._garmax_cfn_properties = json.dumps(properties, sort_keys=True, default=str)
            return table

        return create_from_cloudformation_json

    def update_from_cloudformation_json(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        old = json.loads(getattr(original_resource, "_garmax_cfn_properties", "{}") or "{}")
        for key in _TABLE_REPLACEMENT_PROPERTIES:
            if key in properties and old.get(key) not in (None, properties[key]):
                logger.warning(
                    "emulator: table %s: %s changed (a replacement on AWS); not applied",
                    original_resource.name,
                    key,
                )
        _apply_table_ttl_pitr(original_resource, properties, account_id, region_name)
        original_resource._garmax_cfn_properties = json.dumps(
            properties, sort_keys=True, default=str
        )
        return original_resource

    _patch_classmethod(Table, "create_from_cloudformation_json", make_create)
    if not _already(getattr(Table.update_from_cloudformation_json, "__func__", None)):
        Table.update_from_cloudformation_json = classmethod(  # type: ignore[assignment]
            _mark(update_from_cloudformation_json)
        )
    return BridgeInfo(
        "dynamodb-table-ttl-pitr",
        "patch",
        "CFN tables get TimeToLiveSpecification and PointInTimeRecoverySpecification, "
        "on create and update",
    )


def bridge_logs_log_group_update() -> BridgeInfo:
    """``AWS::Logs::LogGroup`` has no update in moto: a retention change was dropped.
    Update retention in place; a new LogGroupName replaces the group (as on AWS)."""
    from moto.logs.models import LogGroup, logs_backends

    def update_from_cloudformation_json(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        name = properties.get("LogGroupName") or original_resource.name
        backend: Any = logs_backends[account_id][region_name]
        if name != original_resource.name:
            original_resource.delete(account_id, region_name)
            return cls.create_from_cloudformation_json(
                name, cloudformation_json, account_id, region_name
            )
        retention = properties.get("RetentionInDays")
        if retention is None:
            backend.delete_retention_policy(name)
        else:
            backend.put_retention_policy(name, int(retention))
        return original_resource

    if not _already(getattr(LogGroup.update_from_cloudformation_json, "__func__", None)):
        LogGroup.update_from_cloudformation_json = classmethod(  # type: ignore[assignment]
            _mark(update_from_cloudformation_json)
        )
    return BridgeInfo(
        "logs-log-group-update", "patch", "CFN updates of a log group's retention apply"
    )


# --------------------------------------------------------------------------------------
# S3 bucket policy enforcement
# --------------------------------------------------------------------------------------


def bridge_s3_conditional_policy() -> BridgeInfo:
    """moto enforces bucket policies on object requests but cannot evaluate conditions:
    a statement whose Condition it cannot satisfy counts as an explicit DENY, whatever
    its Effect. The CDK's TLS-only policy (Deny s3:* when aws:SecureTransport is false),
    on every bootstrap and platform bucket, would then refuse every object request.
    In the emulator, only unconditional statements are enforced; conditional ones are
    stored (GetBucketPolicy returns them) but not evaluated."""
    from moto.s3.models import FakeBucket

    def make(original: Any) -> Callable[..., Any]:
        def get_permission(self: Any, action: str, resource: str) -> Any:
            from moto.iam.access_control import IAMPolicy, PermissionResult

            if self.policy is None:
                return PermissionResult.NEUTRAL
            try:
                document = json.loads(self.policy)
            except ValueError:
                return original(self, action, resource)
            statements = document.get("Statement") or []
            if isinstance(statements, dict):
                statements = [statements]
            enforced = [s for s in statements if not s.get("Condition")]
            if not enforced:
                return PermissionResult.NEUTRAL
            document = {**document, "Statement": enforced}
            return IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)

        return get_permission

    _patch_method(FakeBucket, "get_permission", make)
    return BridgeInfo(
        "s3-policy-conditions",
        "patch",
        "bucket policies: conditional statements (TLS-only) stored, not enforced",
    )


def bridge_failed_create_rolls_back() -> BridgeInfo:
    """A resource that moto fails to create: AWS records it ``CREATE_FAILED`` with its
    reason, rolls the stack back and ends ``ROLLBACK_COMPLETE`` — CreateStack itself
    succeeds. moto 5.2.5 lets the exception escape CreateStack (the CDK CLI then sees an
    "XML parse error") and leaves the stack ``CREATE_IN_PROGRESS`` with no failed event.
    Here the failing resource is named in a ``CREATE_FAILED`` event, what was created is
    deleted (best effort), and the stack ends ``ROLLBACK_COMPLETE``."""
    from moto.cloudformation import models, parsing

    original_parse = parsing.parse_and_create_resource
    if not _already(original_parse):
        def parse_and_create_resource(logical_id: str, resource_json: dict[str, Any],
                                      *args: Any, **kwargs: Any) -> Any:
            try:
                return original_parse(logical_id, resource_json, *args, **kwargs)
            except Exception as exc:
                if not hasattr(exc, "_garmax_resource"):
                    exc._garmax_resource = (  # type: ignore[attr-defined]
                        logical_id, str(resource_json.get("Type", "?")))
                raise

        parsing.parse_and_create_resource = _mark(parse_and_create_resource,
                                                  original_parse)

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def create_resources(self: Any) -> None:
            try:
                original(self)
            except Exception as exc:
                logical_id, resource_type = getattr(exc, "_garmax_resource", ("?", "?"))
                code = getattr(exc, "error_type", None) or type(exc).__name__
                message = getattr(exc, "message", None) or str(exc) or code
                reason = f"{code}: {message}" if code not in str(message) else str(message)
                logger.warning("stack %s: %s (%s) CREATE_FAILED: %s", self.name, logical_id,
                               resource_type, reason)
                self.events.append(models.Event(
                    stack_id=self.stack_id, stack_name=self.name,
                    logical_resource_id=logical_id, physical_resource_id="",
                    resource_type=resource_type, resource_status="CREATE_FAILED",
                    resource_status_reason=reason, resource_properties=None))
                self.status = "ROLLBACK_IN_PROGRESS"
                self._add_stack_event(
                    "ROLLBACK_IN_PROGRESS",
                    resource_status_reason=f"The following resource(s) failed to create: "
                                           f"[{logical_id}]. Rollback requested by user.")
                try:
                    self.resource_map.delete()
                except Exception as cleanup:  # best effort, as the log says
                    logger.warning("stack %s: rollback left resources behind: %s",
                                   self.name, cleanup)
                # moto's maps are lazy: reading an output (or a resource) of the rolled
                # back stack would try to create it again. A rolled-back stack has neither.
                self.resource_map._resource_json_map = {}
                self.output_map = parsing.OutputMap(
                    self.resource_map, {**self.template_dict, "Outputs": {}}, self.stack_id)
                self.status = "ROLLBACK_COMPLETE"
                self._add_stack_event("ROLLBACK_COMPLETE")

        return create_resources

    _patch_method(models.Stack, "create_resources", make)
    return BridgeInfo(
        "cfn-failed-create-rollback",
        "patch",
        "a resource that fails to create is CREATE_FAILED and the stack ROLLBACK_COMPLETE",
    )


ALL_PATCHES: tuple[Callable[[], BridgeInfo], ...] = (
    bridge_delete_change_set,
    bridge_describe_change_set,
    bridge_execute_change_set_outputs,
    bridge_update_stack_parameters,
    bridge_ssm_parameter_previous_value,
    bridge_update_stack_no_changes,
    bridge_resource_diff,
    bridge_update_without_model_update,
    bridge_cdk_metadata,
    bridge_ref_physical_ids,
    bridge_sqs_lambda_delivery_off,
    bridge_lambda_function,
    bridge_dynamodb_table,
    bridge_logs_log_group_update,
    bridge_s3_conditional_policy,
    bridge_failed_create_rolls_back,
)
