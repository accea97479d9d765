"""LOCAL deployed into a fresh emulator with the real CDK CLI (issue 4, acceptance 2, 3).

The `local_stack` session fixture (tests/conftest.py) runs `garmaxctl local up --detach`
once: emulator, bootstrap, deploy, gateway and workers, in a subprocess.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from garmaxctl.shared import contract
from tests.conftest import api_request, wait_for

pytestmark = pytest.mark.slow
STAGE = "LOCAL"


def test_every_output_names_a_resource_that_exists(local_stack) -> None:
    outputs = local_stack.outputs
    lambda_client = local_stack.client("lambda")
    for function in contract.Function:
        config = lambda_client.get_function_configuration(
            FunctionName=contract.function_name(function, STAGE))
        assert config["Runtime"].startswith("python3")
        # No secret in a function's environment: only names (docs/runtime.md).
        for key, value in config.get("Environment", {}).get("Variables", {}).items():
            assert key not in contract.SECRET_ENV_KEYS
            assert not value.startswith(("sk_", "whsec_", "r8_"))

    sqs = local_stack.client("sqs")
    for queue, (queue_key, dlq_key) in contract.QUEUE_OUTPUTS.items():
        attributes = sqs.get_queue_attributes(QueueUrl=outputs[queue_key],
                                              AttributeNames=["All"])["Attributes"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=outputs[dlq_key],
                                           AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = json.loads(attributes["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == dlq_arn, queue
        assert int(redrive["maxReceiveCount"]) == contract.DLQ_MAX_RECEIVE_COUNT
        mappings = local_stack.client("lambda").list_event_source_mappings(
            FunctionName=contract.function_name(contract.CONSUMERS[queue], STAGE))
        assert [m["EventSourceArn"] for m in mappings["EventSourceMappings"]] == \
            [attributes["QueueArn"]]

    events = local_stack.client("events")
    bus = outputs[contract.OutputKey.EVENT_BUS_NAME]
    assert bus == contract.event_bus_name(STAGE)
    rules = {r["Name"] for r in events.list_rules(EventBusName=bus)["Rules"]}
    assert {contract.rule_name(rule, STAGE) for rule in contract.RULES} <= rules

    dynamodb = local_stack.client("dynamodb")
    for table in contract.TABLES:
        described = dynamodb.describe_table(TableName=outputs[table.output])["Table"]
        assert described["TableStatus"] == "ACTIVE"
        assert described["KeySchema"][0]["AttributeName"] == table.partition_key

    s3 = local_stack.client("s3")
    for bucket in contract.BUCKETS:
        s3.head_bucket(Bucket=outputs[bucket.output])

    alarms = {a["AlarmName"]: a for a in local_stack.client("cloudwatch").describe_alarms(
        AlarmNamePrefix="GarmaxAI-")["MetricAlarms"]}
    assert outputs[contract.OutputKey.ACTIVITY_ALARM_NAME] in alarms
    assert alarms[contract.alarm_name(contract.Alarm.ACTIVITY, STAGE)]["ActionsEnabled"] is False
    for dlq_alarm in (contract.Alarm.TRYON_DLQ, contract.Alarm.RENDER_DLQ,
                      contract.Alarm.BILLING_DLQ):
        assert contract.alarm_name(dlq_alarm, STAGE) in alarms

    logs = local_stack.client("logs")
    groups = {g["logGroupName"] for g in logs.describe_log_groups(
        logGroupNamePrefix="/aws/lambda/GarmaxAi-")["logGroups"]}
    assert {contract.function_log_group(f, STAGE) for f in contract.Function} <= groups


def test_outputs_command_lists_every_output(local_stack) -> None:
    done = local_stack.garmaxctl("-o", "json", "outputs")
    document = json.loads(done.stdout)
    assert document["data"]["outputs"] == local_stack.outputs
    expected = {contract.OutputKey.API_URL, contract.OutputKey.EVENT_BUS_NAME,
                *(t.output for t in contract.TABLES), *(b.output for b in contract.BUCKETS)}
    assert {str(k) for k in expected} <= set(local_stack.outputs)


def _request(local_stack, method: str, path: str, body: dict | None = None,
             user: str | None = "alice") -> tuple[int, dict]:
    return api_request(f"{local_stack.api_url}{path}", method, body, user)


def test_health_and_a_tryon_round_trip_through_the_local_api(local_stack) -> None:
    status, health = _request(local_stack, "GET", "/api/health", user=None)
    assert status == 200 and health["status"] == "ok" and health["stage"] == STAGE

    uploads = local_stack.outputs[contract.OutputKey.UPLOADS_BUCKET]
    renders = local_stack.outputs[contract.OutputKey.RENDERS_BUCKET]
    s3 = local_stack.client("s3")
    user = f"user-{uuid.uuid4().hex[:8]}"
    for key in ("avatar.jpg", "garment.jpg"):  # a caller's keys live under users/{sub}/
        s3.put_object(Bucket=uploads, Key=f"users/{user}/{key}",
                      Body=b"\xff\xd8\xff fake jpeg " + key.encode())

    status, session = _request(local_stack, "POST", "/api/tryon/sessions",
                               {"avatarKey": "avatar.jpg", "garmentKey": "garment.jpg",
                                "quality": "sd"}, user)
    assert status == 201, session
    session_id = session["sessionId"]

    def preview_ready():
        code, body = _request(local_stack, "GET", f"/api/tryon/sessions/{session_id}",
                              user=user)
        assert code == 200 and body["status"] != "failed", body
        return body if body["status"] == "preview_ready" else None

    ready = wait_for(preview_ready)
    status, render = _request(local_stack, "POST", "/api/render",
                              {"sessionId": session_id, "quality": "sd"}, user)
    assert status == 202, render

    expected = {ready["previewKey"], f"renders/{user}/{render['renderId']}.png"}

    def rendered():
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket=renders).get("Contents", [])}
        return expected <= keys

    assert wait_for(rendered), expected

    sqs = local_stack.client("sqs")

    def drained():
        for queue_key, dlq_key in contract.QUEUE_OUTPUTS.values():
            for url in (local_stack.outputs[queue_key], local_stack.outputs[dlq_key]):
                attrs = sqs.get_queue_attributes(
                    QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                  "ApproximateNumberOfMessagesNotVisible"]
                )["Attributes"]
                if int(attrs["ApproximateNumberOfMessages"]) or \
                        int(attrs["ApproximateNumberOfMessagesNotVisible"]):
                    return False
        return True

    assert wait_for(drained), "messages left in a queue or a DLQ"


def test_messages_sent_to_the_queues_are_processed_none_in_a_dlq(local_stack) -> None:
    sqs = local_stack.client("sqs")
    billing = local_stack.outputs[contract.OutputKey.BILLING_QUEUE_URL]
    billing_dlq = local_stack.outputs[contract.OutputKey.BILLING_DLQ_URL]
    users = [f"buyer-{uuid.uuid4().hex[:8]}" for _ in range(5)]
    for user in users:
        sqs.send_message(QueueUrl=billing, MessageBody=json.dumps({
            "object": "event", "id": f"evt_{uuid.uuid4().hex}",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "data": {"object": {"id": f"cs_{uuid.uuid4().hex}", "mode": "payment",
                                "payment_status": "paid", "client_reference_id": user,
                                "customer": f"cus_{user}", "metadata": {"credits": "10"}}}}))

    def empty(url: str) -> bool:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return not int(attrs["ApproximateNumberOfMessages"]) and \
            not int(attrs["ApproximateNumberOfMessagesNotVisible"])

    assert wait_for(lambda: empty(billing))
    assert empty(billing_dlq)
    from runtime.domain.billing import get_account

    credits_table = local_stack.outputs[contract.OutputKey.CREDITS_TABLE]
    for user in users:
        account = get_account(local_stack.client("dynamodb"), credits_table, user)
        assert account["credits"] == 10, account


def test_second_deploy_is_a_no_op(local_stack) -> None:
    cloudformation = local_stack.client("cloudformation")
    before = cloudformation.describe_stacks(StackName="GarmaxAiStack-LOCAL")["Stacks"][0]
    done = local_stack.garmaxctl("-o", "json", "deploy")
    document = json.loads(done.stdout)
    assert document["ok"] is True
    assert document["data"]["changed"] is False
    after = cloudformation.describe_stacks(StackName="GarmaxAiStack-LOCAL")["Stacks"][0]
    assert after.get("LastUpdatedTime") == before.get("LastUpdatedTime")
    marker = json.loads(local_stack.client("ssm").get_parameter(
        Name="/garmaxai/ops/LOCAL/deploy/marker")["Parameter"]["Value"])
    assert marker["tool_version"] and marker["stage"] == STAGE and marker["time"]


def test_a_changed_stack_updates(local_stack) -> None:
    done = local_stack.garmaxctl("-o", "json", "deploy",
                                 extra_env={"ALERT_EMAIL": "oncall@garmax.example"})
    document = json.loads(done.stdout)
    assert document["ok"] is True and document["data"]["changed"] is True
    assert document["data"]["status"] == "UPDATE_COMPLETE"
    topic = local_stack.outputs[contract.OutputKey.ALERT_TOPIC_ARN]
    subscriptions = local_stack.client("sns").list_subscriptions_by_topic(TopicArn=topic)
    # Beside LOCAL's own alert inbox (an SQS queue the platform subscribes: docs/local.md).
    from garmaxctl.local.inbox import QUEUE_NAME

    assert [s["Endpoint"] for s in subscriptions["Subscriptions"]
            if not s["Endpoint"].endswith(f":{QUEUE_NAME}")] == ["oncall@garmax.example"]
    status, _ = _request(local_stack, "GET", "/api/health", user=None)
    assert status == 200


def test_diff_exit_code_prints_one_document_and_exits_3_on_changes(local_stack) -> None:
    email = {"ALERT_EMAIL": "oncall@garmax.example"}
    # The stack as this test needs it, whatever ran before (alone, it has no e-mail yet).
    local_stack.garmaxctl("-o", "json", "deploy", extra_env=email)
    same = local_stack.garmaxctl("-o", "json", "diff", "--exit-code", extra_env=email,
                                 check=False)
    document = json.loads(same.stdout)  # exactly one document
    assert same.returncode == 0 and document["data"]["has_changes"] is False
    # Without the e-mail the subscription would go: a change.
    changed = local_stack.garmaxctl("-o", "json", "diff", "--exit-code", check=False)
    document = json.loads(changed.stdout)
    assert changed.returncode == 3
    assert document["exit_code"] == 3 and document["ok"] is False
    assert document["error"]["code"] == "changes"
    assert document["data"]["has_changes"] is True
