"""moto's synchronous SQS -> Lambda delivery is off in the bridged emulator."""

from __future__ import annotations

from .templates import ROLE, function, queue_with_dlq


def test_messages_stay_in_the_queue_for_local_workers(emu, deploy):
    outputs = deploy(
        "workers",
        {
            "Resources": {
                "Role": ROLE,
                "Fn": function("GarmaxAi-TryonProcessor-LOCAL"),
                **queue_with_dlq(max_receive_count=1),
                "Mapping": {
                    "Type": "AWS::Lambda::EventSourceMapping",
                    "Properties": {
                        "FunctionName": {"Ref": "Fn"},
                        "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]},
                        "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    },
                },
            },
            "Outputs": {
                "Queue": {"Value": {"Ref": "Queue"}},
                "Dlq": {"Value": {"Ref": "Dlq"}},
                "Mapping": {"Value": {"Ref": "Mapping"}},
            },
        },
    )
    sqs = emu.client("sqs")
    assert emu.client("lambda").get_event_source_mapping(UUID=outputs["Mapping"])["State"] == (
        "Enabled"
    )
    for i in range(3):  # moto would receive, fail to invoke without Docker, and redrive
        sqs.send_message(QueueUrl=outputs["Queue"], MessageBody=f"m{i}")

    def count(url: str) -> int:
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    assert count(outputs["Queue"]) == 3
    assert count(outputs["Dlq"]) == 0
    received = sqs.receive_message(QueueUrl=outputs["Queue"], MaxNumberOfMessages=10)
    assert sorted(m["Body"] for m in received["Messages"]) == ["m0", "m1", "m2"]
    assert all(
        m.get("Attributes", {}).get("ApproximateReceiveCount", "1") == "1"
        for m in received["Messages"]
    )


def test_mapping_registration_survives_concurrent_sends(emu, deploy):
    """Disabling and re-enabling a mapping (what idle does) still works after sends."""
    outputs = deploy(
        "workers",
        {
            "Resources": {
                "Role": ROLE,
                "Fn": function("GarmaxAi-BillingProcessor-LOCAL"),
                **queue_with_dlq(),
                "Mapping": {
                    "Type": "AWS::Lambda::EventSourceMapping",
                    "Properties": {
                        "FunctionName": {"Ref": "Fn"},
                        "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]},
                    },
                },
            },
            "Outputs": {
                "Queue": {"Value": {"Ref": "Queue"}},
                "Mapping": {"Value": {"Ref": "Mapping"}},
            },
        },
    )
    lam = emu.client("lambda")
    emu.client("sqs").send_message(QueueUrl=outputs["Queue"], MessageBody="x")
    lam.update_event_source_mapping(UUID=outputs["Mapping"], Enabled=False)
    assert lam.get_event_source_mapping(UUID=outputs["Mapping"])["State"] == "Disabled"
    lam.update_event_source_mapping(UUID=outputs["Mapping"], Enabled=True)
    assert lam.get_event_source_mapping(UUID=outputs["Mapping"])["State"] == "Enabled"
