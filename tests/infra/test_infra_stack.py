"""GarmaxAiStack-{STAGE}: what each stage's template must contain (synthesized once)."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from garmaxctl.shared import contract
from garmaxctl.shared.stages import STAGES, Stage
from infra.components.storage import LIFECYCLE, bucket_logical_id
from infra.stack import ACCESS, PROCESSORS

F = contract.Function

EXPECTED_MEMORY = {Stage.LOCAL: 512, Stage.DEV: 512, Stage.QA: 1024, Stage.PROD: 2048}
EXPECTED_RESERVED = {Stage.LOCAL: 2, Stage.DEV: 2, Stage.QA: 2, Stage.PROD: 10}
EXPECTED_RETENTION = {Stage.LOCAL: 7, Stage.DEV: 30, Stage.QA: 30, Stage.PROD: 90}
EXPECTED_RDS = {Stage.DEV: "db.t4g.medium", Stage.QA: "db.t4g.large", Stage.PROD: "db.r5.large"}
EXPECTED_ECS = {Stage.DEV: ("256", "512"), Stage.QA: ("512", "1024"),
                Stage.PROD: ("1024", "2048")}
EXPECTED_CACHE = {Stage.DEV: "cache.t3.micro", Stage.QA: "cache.t3.small",
                  Stage.PROD: "cache.r5.large"}
EXPECTED_NAT = {Stage.LOCAL: 0, Stage.DEV: 1, Stage.QA: 2, Stage.PROD: 3}

ALWAYS_OUTPUTS = frozenset(contract.OutputKey) - {
    contract.OutputKey.USER_POOL_ID, contract.OutputKey.USER_POOL_CLIENT_ID,
    contract.OutputKey.DATABASE_CLUSTER_ID, contract.OutputKey.CACHE_CLUSTER_ID,
    contract.OutputKey.ECS_CLUSTER_NAME, contract.OutputKey.ECS_SERVICE_NAME,
    contract.OutputKey.SMPL_PLACEHOLDER, contract.OutputKey.BUDGET_NAME,
}


def _functions(synth) -> dict[str, dict]:
    """Physical function name -> properties."""
    return {p["Properties"]["FunctionName"]: p["Properties"]
            for p in synth.of_type("AWS::Lambda::Function").values()}


def _fn(synth, function: contract.Function) -> dict:
    return _functions(synth)[contract.function_name(function, synth.stage.value)]


def _logical_id_of_function(synth, function: contract.Function) -> str:
    name = contract.function_name(function, synth.stage.value)
    return next(k for k, v in synth.of_type("AWS::Lambda::Function").items()
                if v["Properties"]["FunctionName"] == name)


# ------------------------------------------------------------------------ stack


def test_stack_is_named_for_the_stage_and_pinned_to_its_environment(synth):
    stack = synth.stack
    assert stack.stack_name == f"GarmaxAiStack-{synth.stage.value}"
    config = STAGES[synth.stage]
    assert stack.region == config.region
    if config.account:
        assert stack.account == config.account


def test_prod_has_termination_protection_and_other_stages_do_not(synth):
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    artifact = manifest["artifacts"][contract.stack_name(synth.stage.value)]
    protected = artifact["properties"]["terminationProtection"]
    assert protected is (synth.stage is Stage.PROD)


def test_synthesis_needs_no_context_lookups(synth):
    manifest = json.loads((synth.outdir / "manifest.json").read_text())
    assert "missing" not in manifest  # explicit AZs: no lookup, no cdk.context.json


def test_no_custom_resources_so_the_emulator_can_deploy_every_stage(synth):
    custom = [t["Type"] for t in synth.resources.values()
              if t["Type"].startswith("Custom::")
              or t["Type"] == "AWS::CloudFormation::CustomResource"]
    assert custom == []
    assert len(synth.of_type("AWS::Lambda::Function")) == len(contract.Function)


# ------------------------------------------------------------------------ functions


def test_functions_have_contract_names_handlers_and_python_runtime(synth):
    functions = _functions(synth)
    assert set(functions) == {contract.function_name(f, synth.stage.value)
                              for f in contract.Function}
    for fn in contract.Function:
        props = _fn(synth, fn)
        assert props["Handler"] == contract.HANDLERS[fn]
        assert props["Runtime"] in {"python3.11", "python3.12"}


def test_lambda_memory_follows_the_stage_sizing(synth):
    for props in _functions(synth).values():
        assert props["MemorySize"] == EXPECTED_MEMORY[synth.stage]


def test_only_the_three_processors_have_reserved_concurrency(synth):
    for fn in contract.Function:
        props = _fn(synth, fn)
        if fn in PROCESSORS:
            assert props["ReservedConcurrentExecutions"] == EXPECTED_RESERVED[synth.stage]
        else:
            assert "ReservedConcurrentExecutions" not in props


def test_queue_visibility_is_at_least_six_times_the_consumer_timeout(synth):
    queues = synth.of_type("AWS::SQS::Queue")
    for queue_id, consumer in contract.CONSUMERS.items():
        timeout = _fn(synth, consumer)["Timeout"]
        esm = _esm_for(synth, consumer)
        queue_logical = esm["EventSourceArn"]["Fn::GetAtt"][0]
        assert queues[queue_logical]["Properties"]["VisibilityTimeout"] >= 6 * timeout, queue_id


def _esm_for(synth, function: contract.Function) -> dict:
    logical = _logical_id_of_function(synth, function)
    found = [m["Properties"] for m in synth.of_type("AWS::Lambda::EventSourceMapping").values()
             if m["Properties"]["FunctionName"] == {"Ref": logical}]
    assert len(found) == 1, function
    return found[0]


def test_event_source_mappings_report_batch_failures_capped_at_reserved_concurrency(synth):
    assert len(synth.of_type("AWS::Lambda::EventSourceMapping")) == len(contract.CONSUMERS)
    for consumer in contract.CONSUMERS.values():
        esm = _esm_for(synth, consumer)
        reserved = _fn(synth, consumer)["ReservedConcurrentExecutions"]
        assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert 2 <= esm["ScalingConfig"]["MaximumConcurrency"] <= reserved


def test_each_function_logs_to_its_own_log_group_with_the_stage_retention(synth):
    groups = synth.of_type("AWS::Logs::LogGroup")
    for fn in contract.Function:
        props = _fn(synth, fn)
        group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
        group = groups[group_id]["Properties"]
        assert group["LogGroupName"] == contract.function_log_group(fn, synth.stage.value)
        assert group["RetentionInDays"] == EXPECTED_RETENTION[synth.stage]
    for group in groups.values():
        assert group["Properties"]["RetentionInDays"] == EXPECTED_RETENTION[synth.stage]


def test_the_stack_creates_the_stage_audit_log_group_with_its_retention(synth):
    group = synth.resources["AuditLog"]  # pinned: the audit trail must not be replaced
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["LogGroupName"] == contract.audit_log_group(synth.stage.value)
    assert group["Properties"]["RetentionInDays"] == EXPECTED_RETENTION[synth.stage]
    expected = "Retain" if STAGES[synth.stage].retain_data else "Delete"
    assert group["DeletionPolicy"] == expected


def test_xray_tracing_follows_the_feature_flag(synth):
    xray = STAGES[synth.stage].features.xray
    for props in _functions(synth).values():
        mode = props.get("TracingConfig", {}).get("Mode")
        assert mode == ("Active" if xray else None)


def test_function_environment_holds_only_contract_names_never_values(synth):
    allowed = ({e.value for e in contract.RuntimeEnv}
               | {t.env_var for t in contract.TABLES}
               | {b.env_var for b in contract.BUCKETS if b.env_var})
    for name, props in _functions(synth).items():
        env = props["Environment"]["Variables"]
        assert set(env) <= allowed, name
        assert not set(env) & contract.SECRET_ENV_KEYS
        assert env[contract.RuntimeEnv.STAGE] == synth.stage.value
        assert env[contract.RuntimeEnv.EVENT_BUS_NAME] == contract.event_bus_name(
            synth.stage.value)


def test_functions_run_in_the_vpc_only_where_the_stage_has_one(synth):
    has_vpc = STAGES[synth.stage].features.vpc
    for props in _functions(synth).values():
        assert ("VpcConfig" in props) is has_vpc


# ------------------------------------------------------------------------ IAM


def _role_policies(synth, function: contract.Function) -> list[dict]:
    role_ref = _fn(synth, function)["Role"]["Fn::GetAtt"][0]
    return [s for p in synth.of_type("AWS::IAM::Policy").values()
            if {"Ref": role_ref} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_no_policy_allows_every_action_on_every_resource(synth):
    for kind in ("AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::ManagedPolicy"):
        for logical, res in synth.of_type(kind).items():
            props = res["Properties"]
            docs = [props.get("PolicyDocument")] + [
                p["PolicyDocument"] for p in props.get("Policies", [])]
            for doc in filter(None, docs):
                for st in doc["Statement"]:
                    actions = _as_list(st.get("Action", []))
                    assert "*" not in actions and not any(a.endswith(":*") for a in actions), (
                        logical, st)


def test_ssm_reads_are_scoped_to_each_functions_parameter_paths(synth):
    stage = synth.stage.value
    for fn in contract.Function:
        ssm = [s for s in _role_policies(synth, fn)
               if any(a.startswith("ssm:") for a in _as_list(s["Action"]))]
        paths = contract.FUNCTION_PARAMS[fn]
        assert len(ssm) == 1, fn
        resources = {json.dumps(r) for r in _as_list(ssm[0]["Resource"])}
        for r in resources:
            assert f"parameter/garmaxai/{stage}/" in r, (fn, r)
            rel = r.split(f"parameter/garmaxai/{stage}/")[1].split('"')[0]
            assert rel in paths or f"{rel}/*" in paths, (fn, rel)
        assert all(a in {"ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"}
                   for a in _as_list(ssm[0]["Action"]))


def test_functions_write_only_to_their_own_log_group(synth):
    for fn in contract.Function:
        log_statements = [s for s in _role_policies(synth, fn)
                          if any(a.startswith("logs:") for a in _as_list(s["Action"]))]
        assert len(log_statements) == 1
        group_ref = _fn(synth, fn)["LoggingConfig"]["LogGroup"]["Ref"]
        assert log_statements[0]["Resource"] == {"Fn::GetAtt": [group_ref, "Arn"]}


def test_api_can_probe_every_resource_its_storage_health_check_reads(synth):
    text = json.dumps(_role_policies(synth, F.API))
    assert "sqs:GetQueueAttributes" in text and "events:DescribeEventBus" in text
    for queue in synth.of_type("AWS::SQS::Queue"):
        if "Dlq" not in queue:
            assert queue in text, queue
    for table in contract.TABLES:
        assert f"{table.name}Table" in text
    for bucket in contract.BUCKETS:
        if bucket.env_var:
            assert bucket_logical_id(bucket.name) in text


def test_stripe_webhook_cannot_touch_buckets_or_user_tables(synth):
    text = json.dumps(_role_policies(synth, F.STRIPE_WEBHOOK))
    assert "s3:" not in text
    for table in ("SessionsTable", "CreditsTable", "BudgetLedgerTable"):
        assert table not in text
    assert ACCESS[F.STRIPE_WEBHOOK].sends_to == (contract.Queue.BILLING,)


# ------------------------------------------------------------------------ storage


def test_every_bucket_is_encrypted_private_and_tls_only(synth):
    buckets = synth.of_type("AWS::S3::Bucket")
    assert set(buckets) == {bucket_logical_id(b.name) for b in contract.BUCKETS}
    for bucket in buckets.values():
        props = bucket["Properties"]
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True,
            "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    policies = {p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"]
                for p in synth.of_type("AWS::S3::BucketPolicy").values()}
    assert set(policies) == set(buckets)
    for logical, doc in policies.items():
        deny = [s for s in doc["Statement"] if s["Effect"] == "Deny"
                and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
        assert deny and deny[0]["Action"] == "s3:*", logical


def test_data_buckets_send_access_logs_to_the_logs_bucket(synth):
    for spec in contract.BUCKETS:
        props = synth.props(bucket_logical_id(spec.name))
        if spec.name == "Logs":
            assert "LoggingConfiguration" not in props
        else:
            assert props["LoggingConfiguration"]["DestinationBucketName"] == {
                "Ref": bucket_logical_id("Logs")}


def test_lifecycle_follows_the_guide_and_expires_scratch_prefixes(synth):
    for spec in contract.BUCKETS:
        rules = {r["Id"]: r for r in
                 synth.props(bucket_logical_id(spec.name))["LifecycleConfiguration"]["Rules"]}
        policy = LIFECYCLE[spec.name]
        if policy.long_kept:
            long_kept = rules["long-kept"]
            assert long_kept["Transitions"] == [
                {"StorageClass": "STANDARD_IA", "TransitionInDays": 30},
                {"StorageClass": "GLACIER", "TransitionInDays": 90},
                {"StorageClass": "DEEP_ARCHIVE", "TransitionInDays": 365},
            ]
            assert long_kept["ExpirationInDays"] == 2555
        for prefix, days in policy.short_prefixes:
            rule = next(r for r in rules.values() if r.get("Prefix") == prefix)
            assert rule["ExpirationInDays"] == days < 30
    uploads = synth.props(bucket_logical_id("Uploads"))["LifecycleConfiguration"]["Rules"]
    assert {r.get("Prefix") for r in uploads} >= {"temp/", "processing/"}


# ------------------------------------------------------------------------ queues, events


def test_every_work_queue_has_a_dlq_after_three_receives(synth):
    queues = synth.of_type("AWS::SQS::Queue")
    work = {k: v for k, v in queues.items() if "RedrivePolicy" in v["Properties"]}
    assert len(work) == len(contract.Queue)
    assert len(queues) == 2 * len(contract.Queue)
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    for queue in work.values():
        redrive = queue["Properties"]["RedrivePolicy"]
        assert redrive["maxReceiveCount"] == contract.DLQ_MAX_RECEIVE_COUNT == 3
        assert redrive["deadLetterTargetArn"]["Fn::GetAtt"][0] in queues


def test_event_bus_and_rules_have_contract_names_and_targets(synth):
    stage = synth.stage.value
    synth.assertions.has_resource_properties(
        "AWS::Events::EventBus", {"Name": contract.event_bus_name(stage)})
    rules = {r["Properties"]["Name"]: r for r in synth.of_type("AWS::Events::Rule").values()}
    assert set(rules) == {contract.rule_name(spec, stage) for spec in contract.RULES}
    for spec in contract.RULES:
        rule = rules[contract.rule_name(spec, stage)]
        props = rule["Properties"]
        bus = next(iter(synth.of_type("AWS::Events::EventBus")))
        assert props["EventBusName"] == {"Ref": bus}
        assert props["EventPattern"] == {"source": [spec.source],
                                         "detail-type": [str(d) for d in spec.detail_types]}
        assert len(props.get("Targets", [])) == (1 if spec.target_queue else 0)


# ------------------------------------------------------------------------ api


def test_rest_api_name_throttling_and_access_logs(synth):
    stage = synth.stage.value
    config = STAGES[synth.stage]
    synth.assertions.has_resource_properties("AWS::ApiGateway::RestApi",
                                             {"Name": contract.api_name(stage)})
    stage_props = next(iter(synth.of_type("AWS::ApiGateway::Stage").values()))["Properties"]
    assert stage_props["StageName"] == contract.api_stage_name(stage)
    settings = stage_props["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] == config.api_rate_limit
    assert settings["ThrottlingBurstLimit"] == config.api_burst_limit
    group_ref = stage_props["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    assert synth.props(group_ref)["LogGroupName"] == contract.api_access_log_group(stage)
    assert bool(synth.of_type("AWS::ApiGateway::UsagePlan")) is config.features.usage_plan


def _methods(synth) -> dict[tuple[str, str], dict]:
    """(path, verb) -> method properties, paths rebuilt from the Resource tree."""
    resources = synth.of_type("AWS::ApiGateway::Resource")

    def path_of(ref) -> str:
        if isinstance(ref, dict) and "Fn::GetAtt" in ref:  # the root resource
            return ""
        props = resources[ref["Ref"]]["Properties"]
        return f"{path_of(props['ParentId'])}/{props['PathPart']}"

    return {(path_of(m["Properties"]["ResourceId"]), m["Properties"]["HttpMethod"]):
            m["Properties"] for m in synth.of_type("AWS::ApiGateway::Method").values()}


def test_routes_reach_the_right_function_and_cognito_guards_all_but_health_and_webhook(synth):
    methods = _methods(synth)
    assert set(methods) == {
        ("/api/health", "GET"), ("/api/health/storage", "GET"),
        ("/api/tryon/sessions", "POST"), ("/api/tryon/sessions/{id}", "GET"),
        ("/api/render", "POST"), ("/api/render/{id}", "GET"),
        (contract.STRIPE_WEBHOOK_PATH, "POST"),
    }
    cognito = STAGES[synth.stage].features.cognito
    public = {("/api/health", "GET"), ("/api/health/storage", "GET"),
              (contract.STRIPE_WEBHOOK_PATH, "POST")}
    api_fn = _logical_id_of_function(synth, F.API)
    webhook_fn = _logical_id_of_function(synth, F.STRIPE_WEBHOOK)
    for key, props in methods.items():
        expected = "COGNITO_USER_POOLS" if cognito and key not in public else "NONE"
        assert props["AuthorizationType"] == expected, key
        target = webhook_fn if key[0] == contract.STRIPE_WEBHOOK_PATH else api_fn
        assert target in json.dumps(props["Integration"]["Uri"]), key
        assert props["Integration"]["Type"] == "AWS_PROXY"
    assert bool(synth.of_type("AWS::Cognito::UserPool")) is cognito


# ------------------------------------------------------------------------ data


def test_tables_match_the_contract_with_ttl_on_demand_and_pitr_in_prod(synth):
    pitr = STAGES[synth.stage].point_in_time_recovery
    assert pitr is (synth.stage is Stage.PROD)
    for spec in contract.TABLES:
        props = synth.props(f"{spec.name}Table")
        keys = {k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]}
        assert keys == {spec.partition_key: "HASH",
                        **({spec.sort_key: "RANGE"} if spec.sort_key else {})}
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["SSESpecification"]["SSEEnabled"] is True
        spec_pitr = props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        assert spec_pitr is pitr
        if spec.ttl_attribute:
            assert props["TimeToLiveSpecification"] == {
                "AttributeName": spec.ttl_attribute, "Enabled": True}


def test_stage_sizing_for_database_cache_ecs_and_nat(synth):
    stage = synth.stage
    nat = synth.of_type("AWS::EC2::NatGateway")
    assert len(nat) == EXPECTED_NAT[stage]
    instances = [r["Properties"] for r in synth.of_type("AWS::RDS::DBInstance").values()]
    caches = [r["Properties"] for r in
              synth.of_type("AWS::ElastiCache::ReplicationGroup").values()]
    tasks = [r["Properties"] for r in synth.of_type("AWS::ECS::TaskDefinition").values()]
    if stage is Stage.LOCAL:
        assert not instances and not caches and not tasks
        assert not synth.of_type("AWS::EC2::VPC")
        return
    assert {i["DBInstanceClass"] for i in instances} == {EXPECTED_RDS[stage]}
    assert len(instances) == (2 if stage is Stage.PROD else 1)  # writer (+ reader: multi-AZ)
    assert len({json.dumps(i.get("AvailabilityZone")) for i in instances}) >= 1
    assert [c["CacheNodeType"] for c in caches] == [EXPECTED_CACHE[stage]]
    assert [(t["Cpu"], t["Memory"]) for t in tasks] == [EXPECTED_ECS[stage]]
    service = next(iter(synth.of_type("AWS::ECS::Service").values()))["Properties"]
    assert service["DesiredCount"] == STAGES[stage].ecs_desired_count
    image = tasks[0]["ContainerDefinitions"][0]["Image"]
    assert image == STAGES[stage].ecs_image  # pulled from a registry, not built
    azs = {s["Properties"]["AvailabilityZone"] for s in synth.of_type("AWS::EC2::Subnet").values()}
    assert azs == set(STAGES[stage].availability_zones)


def test_aurora_is_encrypted_with_seven_day_backups_and_identified_as_the_guide_does(synth):
    if synth.stage is Stage.LOCAL:
        pytest.skip("LOCAL has no database (features.database is off)")
    cluster = synth.props("DatabaseCluster")
    assert cluster["Engine"] == "aurora-mysql"
    assert cluster["StorageEncrypted"] is True
    assert cluster["BackupRetentionPeriod"] == 7
    assert cluster["DBClusterIdentifier"] == contract.database_cluster_id(synth.stage.value)
    assert cluster["DeletionProtection"] is (synth.stage is Stage.PROD)
    assert "MasterUserPassword" not in json.dumps(cluster) or "resolve:secretsmanager" in \
        json.dumps(cluster["MasterUserPassword"])
    cache = next(iter(synth.of_type("AWS::ElastiCache::ReplicationGroup").values()))
    props = cache["Properties"]
    assert props["AtRestEncryptionEnabled"] is True and props["TransitEncryptionEnabled"] is True
    assert "resolve:secretsmanager" in json.dumps(props["AuthToken"])


# ------------------------------------------------------------------------ stateful


STATEFUL = ([bucket_logical_id(b.name) for b in contract.BUCKETS]
            + [f"{t.name}Table" for t in contract.TABLES])


def test_stateful_resources_keep_their_pinned_logical_ids(synth):
    for logical in STATEFUL:
        assert logical in synth.resources, logical
    config = STAGES[synth.stage]
    assert ("DatabaseCluster" in synth.resources) is config.features.database
    assert ("UserPool" in synth.resources) is config.features.cognito


def test_stateful_resources_are_retained_in_prod_only(synth):
    retain = synth.stage is Stage.PROD
    names = STATEFUL + [n for n in ("DatabaseCluster", "UserPool") if n in synth.resources]
    for logical in names:
        policy = synth.resources[logical].get("DeletionPolicy")
        if retain:
            assert policy == "Retain", logical
            assert synth.resources[logical].get("UpdateReplacePolicy") == "Retain", logical
        else:
            assert policy in {"Delete", "Snapshot"}, (logical, policy)


# ------------------------------------------------------------------------ monitoring


def test_alarms_have_contract_names_and_the_activity_alarm_starts_disabled(synth):
    stage = synth.stage.value
    alarms = {a["Properties"]["AlarmName"]: a["Properties"]
              for a in synth.of_type("AWS::CloudWatch::Alarm").values()}
    assert set(alarms) == {contract.alarm_name(a, stage) for a in contract.Alarm}
    for name, props in alarms.items():
        assert props["AlarmActions"], name
        expected = name != contract.alarm_name(contract.Alarm.ACTIVITY, stage)
        assert props["ActionsEnabled"] is expected, name
    api = alarms[contract.alarm_name(contract.Alarm.API_5XX, stage)]
    assert (api["Namespace"], api["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    # The activity alarm's metric: tests/infra/test_infra_first_deploy.py.
    for queue in contract.Queue:
        dlq_alarm = alarms[contract.alarm_name(f"{queue}DlqNotEmpty", stage)]
        assert dlq_alarm["Threshold"] == 0
        assert dlq_alarm["ComparisonOperator"] == "GreaterThanThreshold"
    # SUM([...]) counts the errors of any function in a period; "m0 + ... + m4" would
    # have no datapoint unless all five functions reported one (CloudWatch's arithmetic).
    errors = alarms[contract.alarm_name(contract.Alarm.LAMBDA_ERRORS, stage)]
    (expression,) = [m["Expression"] for m in errors["Metrics"] if "Expression" in m]
    metric_ids = sorted(m["Id"] for m in errors["Metrics"] if "MetricStat" in m)
    assert len(metric_ids) == 5
    assert expression == f"SUM([{', '.join(metric_ids)}])"
    synth.assertions.has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": contract.dashboard_name(stage)})


def test_alert_topic_has_the_email_subscription(synth, alert_email):
    subs = [s["Properties"] for s in synth.of_type("AWS::SNS::Subscription").values()]
    assert [(s["Protocol"], s["Endpoint"]) for s in subs] == [("email", alert_email)]
    topic = next(iter(synth.of_type("AWS::SNS::Topic")))
    assert subs[0]["TopicArn"] == {"Ref": topic}


def test_daily_cost_budget_notifies_at_80_90_100_percent_where_enabled(synth):
    config = STAGES[synth.stage]
    budgets = list(synth.of_type("AWS::Budgets::Budget").values())
    if not config.features.budgets:
        assert budgets == []
        return
    (budget,) = budgets
    data = budget["Properties"]["Budget"]
    assert data["BudgetType"] == "COST" and data["TimeUnit"] == "DAILY"
    assert data["BudgetName"] == contract.budget_name(synth.stage.value)
    assert data["BudgetLimit"] == {"Amount": config.budgets.daily_usd, "Unit": "USD"}
    notes = budget["Properties"]["NotificationsWithSubscribers"]
    assert sorted(n["Notification"]["Threshold"] for n in notes) == [80, 90, 100]


# ------------------------------------------------------------------------ outputs, tags


def test_outputs_are_exactly_the_contract_keys_the_stage_deploys(synth):
    features = STAGES[synth.stage].features
    expected = set(ALWAYS_OUTPUTS)
    if features.cognito:
        expected |= {contract.OutputKey.USER_POOL_ID, contract.OutputKey.USER_POOL_CLIENT_ID}
    if features.database:
        expected.add(contract.OutputKey.DATABASE_CLUSTER_ID)
    if features.cache:
        expected.add(contract.OutputKey.CACHE_CLUSTER_ID)
    if features.ecs:
        expected |= {contract.OutputKey.ECS_CLUSTER_NAME, contract.OutputKey.ECS_SERVICE_NAME,
                     contract.OutputKey.SMPL_PLACEHOLDER}
    if features.budgets:
        expected.add(contract.OutputKey.BUDGET_NAME)
    assert set(synth.template["Outputs"]) == {k.value for k in expected}
    outputs = synth.template["Outputs"]
    assert outputs["EventBusName"]["Value"] == {"Fn::GetAtt": [
        next(iter(synth.of_type("AWS::Events::EventBus"))), "Name"]} or \
        outputs["EventBusName"]["Value"] == {"Ref": next(iter(
            synth.of_type("AWS::Events::EventBus")))}
    assert outputs["UploadsBucketName"]["Value"] == {"Ref": "UploadsBucket"}
    api_url = json.dumps(outputs["ApiUrl"]["Value"])
    assert f"/{contract.api_stage_name(synth.stage.value)}/" in api_url
    assert "Stage" not in api_url  # no Ref to the Stage resource (moto has none)


TAGGABLE = ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SQS::Queue",
            "AWS::Lambda::Function", "AWS::Logs::LogGroup", "AWS::IAM::Role",
            "AWS::SNS::Topic", "AWS::ApiGateway::RestApi", "AWS::ApiGateway::Stage",
            "AWS::Events::EventBus", "AWS::CloudWatch::Alarm", "AWS::EC2::VPC",
            "AWS::EC2::Subnet", "AWS::RDS::DBCluster", "AWS::RDS::DBInstance",
            "AWS::ElastiCache::ReplicationGroup", "AWS::ECS::Cluster", "AWS::ECS::Service",
            "AWS::SecretsManager::Secret", "AWS::Lambda::EventSourceMapping")


def test_every_taggable_resource_carries_the_stage_tag(synth):
    stage_tag = {"Key": contract.TAG_STAGE, "Value": synth.stage.value}
    for logical, res in synth.resources.items():
        props = res.get("Properties", {})
        tags = props.get("Tags")
        if res["Type"] in TAGGABLE:
            assert isinstance(tags, list) and stage_tag in tags, (logical, res["Type"])
        elif isinstance(tags, list):
            assert stage_tag in tags, (logical, res["Type"])
        elif isinstance(tags, dict):
            assert tags.get(contract.TAG_STAGE) == synth.stage.value, logical
    if "UserPool" in synth.resources:
        assert synth.props("UserPool")["UserPoolTags"][contract.TAG_STAGE] == synth.stage.value


def test_each_function_carries_its_function_tag_for_cost_reports(synth):
    # `cost report --by function` groups Cost Explorer by this tag (docs/cost.md).
    found = {}
    for res in synth.of_type("AWS::Lambda::Function").values():
        tags = {t["Key"]: t["Value"] for t in res["Properties"]["Tags"]}
        found[res["Properties"]["FunctionName"]] = tags.get(contract.TAG_FUNCTION)
    assert found == {contract.function_name(f, synth.stage.value): f.value
                     for f in contract.Function}


def test_template_has_a_single_match_for_core_assertions(synth):
    # aws_cdk.assertions on the same template, as a cross-check of the dict-based tests.
    synth.assertions.resource_count_is("AWS::Lambda::Function", len(contract.Function))
    synth.assertions.has_resource_properties("AWS::Lambda::Function", {
        "FunctionName": contract.function_name(F.API, synth.stage.value),
        "MemorySize": EXPECTED_MEMORY[synth.stage],
        "LoggingConfig": Match.object_like({"LogGroup": Match.any_value()}),
    })
