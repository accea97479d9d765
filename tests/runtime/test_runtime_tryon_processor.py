"""TryonProcessor: queued -> processing -> preview_ready | failed, partial batch failures."""

from __future__ import annotations

import json

from rt_helpers import USER, call_api, create_session, drain, load_event

from runtime.domain.images import png_size
from runtime.handlers import tryon_processor
from runtime.testing import LambdaContext, sqs_event


def run(*bodies, receive_count=1):
    event = sqs_event(*bodies, receive_count=receive_count)
    return event, tryon_processor.lambda_handler(event, LambdaContext())


def session(stack, session_id):
    return stack.item("Sessions", pk=f"SESSION#{session_id}")


def test_session_reaches_preview_ready_with_a_preview_in_s3(stack):
    session_id = create_session(stack)
    assert drain(stack, "Tryon", tryon_processor.lambda_handler) == []
    item = session(stack, session_id)
    assert item["status"] == "preview_ready"
    assert item["previewKey"] == f"previews/{USER}/{session_id}.png"
    assert item["poseFit"]["placeholder"] is True
    assert "placeholder" in item["poseFit"]["notes"]
    obj = stack.s3.get_object(Bucket=stack.bucket("Renders"), Key=item["previewKey"])
    assert obj["ContentType"] == "image/png" and png_size(obj["Body"].read()) == (96, 96)
    assert stack.receive("Tryon") == []  # deleted by the worker: it succeeded
    status, body = call_api("GET", f"/api/tryon/sessions/{session_id}")
    assert (status, body["status"]) == (200, "preview_ready")
    assert body["poseFit"]["estimator"] == "placeholder"


def test_uploaded_keys_are_checked_and_a_missing_upload_fails_the_session(stack):
    stack.s3.put_object(Bucket=stack.bucket("Uploads"), Key=f"users/{USER}/avatars/me.png",
                        Body=b"png")
    ok = create_session(stack, avatarKey="avatars/me.png", avatarUrl=None)
    missing = create_session(stack, avatarKey="avatars/gone.png", avatarUrl=None)
    assert drain(stack, "Tryon", tryon_processor.lambda_handler) == []
    assert session(stack, ok)["status"] == "preview_ready"
    failed = session(stack, missing)
    assert failed["status"] == "failed" and failed["error"]["code"] == "upload_not_found"
    assert "previewKey" not in failed


def test_redelivered_message_of_a_finished_session_changes_nothing(stack):
    session_id = create_session(stack)
    [message] = stack.receive("Tryon")
    _, first = run(message["Body"])
    before = session(stack, session_id)
    _, second = run(message["Body"])
    assert first == second == {"batchItemFailures": []}
    assert session(stack, session_id) == before


def test_malformed_and_unknown_messages_fail_alone(stack):
    session_id = create_session(stack)
    [message] = stack.receive("Tryon")
    event, result = run("{oops", message["Body"],
                        {"sessionId": "f" * 32, "userId": USER}, {"userId": USER})
    ids = [r["messageId"] for r in event["Records"]]
    assert result["batchItemFailures"] == [{"itemIdentifier": i} for i in (ids[0], ids[2],
                                                                           ids[3])]
    assert session(stack, session_id)["status"] == "preview_ready"


def test_message_for_another_users_session_is_refused(stack):
    session_id = create_session(stack)
    _, result = run({"sessionId": session_id, "userId": "intruder"})
    assert len(result["batchItemFailures"]) == 1
    assert session(stack, session_id)["status"] == "queued"


def test_transient_failure_is_retried_and_marks_failed_on_the_last_receive(stack, monkeypatch):
    session_id = create_session(stack)
    [message] = stack.receive("Tryon")
    monkeypatch.setenv("RENDERS_BUCKET", "no-such-bucket")
    _, result = run(message["Body"], receive_count=1)
    assert len(result["batchItemFailures"]) == 1
    assert session(stack, session_id)["status"] == "processing"
    _, result = run(message["Body"], receive_count=3)  # contract.DLQ_MAX_RECEIVE_COUNT
    assert len(result["batchItemFailures"]) == 1  # still goes to the DLQ...
    item = session(stack, session_id)
    assert item["status"] == "failed"  # ...but the session does not stay "processing"


def test_fixture_shaped_sqs_event_is_processed(stack):
    session_id = create_session(stack)
    event = load_event("sqs_event.json")
    event["Records"][0]["body"] = json.dumps({"sessionId": session_id, "userId": USER})
    assert tryon_processor.lambda_handler(event, LambdaContext()) == {"batchItemFailures": []}
    assert session(stack, session_id)["status"] == "preview_ready"


def test_processed_event_is_published_on_the_bus(stack):
    """The TryonProcessed rule exists (contract.RULES); route it to a probe queue."""
    arn = stack.sqs.get_queue_attributes(
        QueueUrl=stack.sqs.create_queue(QueueName="probe")["QueueUrl"],
        AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.events.put_targets(Rule="GarmaxAi-TryonProcessed-LOCAL",
                             EventBusName="GarmaxAi-Tryon-LOCAL",
                             Targets=[{"Id": "probe", "Arn": arn}])
    session_id = create_session(stack)
    drain(stack, "Tryon", tryon_processor.lambda_handler)
    url = stack.sqs.get_queue_url(QueueName="probe")["QueueUrl"]
    [message] = stack.sqs.receive_message(QueueUrl=url).get("Messages", [])
    event = json.loads(message["Body"])
    assert event["detail-type"] == "TryonSessionProcessed" and event["source"] == "garmaxai.tryon"
    assert event["detail"]["sessionId"] == session_id and event["detail"]["placeholderPose"]
