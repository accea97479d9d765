"""Lambda's and API Gateway's logs and metrics as LOCAL writes them (local/telemetry.py,
local/access_log.py, local/samplers.py), read back through the CloudWatch APIs."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading

import boto3
import pytest

from garmaxctl.local.access_log import ApiRequest, ApiStage, ApiTelemetry, resource_path
from garmaxctl.local.samplers import sample_queues
from garmaxctl.local.telemetry import LambdaTelemetry, Sink

pytestmark = pytest.mark.usefixtures("aws")
FN = "GarmaxAi-TryonProcessor-LOCAL"
STREAM = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")


def _events(group: str) -> list[dict]:
    return boto3.client("logs", region_name="us-east-1").filter_log_events(
        logGroupName=group)["events"]


def _sum(namespace: str, metric: str, dims: dict[str, str], clock) -> float:
    points = boto3.client("cloudwatch", region_name="us-east-1").get_metric_statistics(
        Namespace=namespace, MetricName=metric, Statistics=["Sum"], Period=3600,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=clock.now - dt.timedelta(hours=1), EndTime=clock.now + dt.timedelta(hours=1),
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


def test_each_invocation_logs_its_own_output_between_start_and_report(clock,
                                                                      route_output) -> None:
    route_output()
    telemetry = LambdaTelemetry(Sink(clock=clock))
    barrier = threading.Barrier(2)

    def run(name: str, word: str) -> None:
        with telemetry.invocation(name, 512):
            barrier.wait()  # both invocations write at the same time, in two threads
            for i in range(20):
                print(json.dumps({"level": "INFO", "message": f"{word} {i}"}))

    threads = [threading.Thread(target=run, args=(FN, "tryon")),
               threading.Thread(target=run, args=("GarmaxAi-Api-LOCAL", "api"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    events = _events(f"/aws/lambda/{FN}")
    messages = [e["message"] for e in events]
    assert messages[0].startswith("START RequestId: ") and messages[0].endswith(
        " Version: $LATEST")
    request_id = messages[0].split()[2]
    assert [json.loads(m)["message"] for m in messages[1:21]] == [f"tryon {i}"
                                                                  for i in range(20)]
    assert messages[21] == f"END RequestId: {request_id}"
    report = messages[22].split("\t")
    assert report[0] == f"REPORT RequestId: {request_id}"
    assert re.fullmatch(r"Duration: \d+\.\d{2} ms", report[1])
    assert re.fullmatch(r"Billed Duration: \d+ ms", report[2])
    assert report[3] == "Memory Size: 512 MB"
    assert "Max Memory Used" not in messages[22]  # not observable on LOCAL: left out
    assert len(messages) == 23
    assert all(STREAM.match(e["logStreamName"]) for e in events)
    assert not any("api" in m for m in messages[1:21])

    assert _sum("AWS/Lambda", "Invocations", {"FunctionName": FN}, clock) == 1
    assert _sum("AWS/Lambda", "Errors", {"FunctionName": FN}, clock) == 0


def test_powertools_logger_built_before_install_is_captured(clock, route_output) -> None:
    from aws_lambda_powertools import Logger

    logger = Logger(service="early-logger")  # writes to the stream of the moment
    route_output()  # routes, and adopts the logger's handler
    telemetry = LambdaTelemetry(Sink(clock=clock))
    with telemetry.invocation(FN, 512):
        logger.info("from powertools")
    messages = [e["message"] for e in _events(f"/aws/lambda/{FN}")]
    assert json.loads(messages[1])["message"] == "from powertools"
    logging.getLogger("early-logger").handlers.clear()


def test_a_raising_handler_is_an_error_with_lambdas_error_line(clock, route_output) -> None:
    route_output()
    telemetry = LambdaTelemetry(Sink(clock=clock))
    with pytest.raises(RuntimeError), telemetry.invocation(FN, 512):
        raise RuntimeError("boom")
    messages = [e["message"] for e in _events(f"/aws/lambda/{FN}")]
    assert messages[1].startswith("[ERROR] RuntimeError: boom\nTraceback")
    assert _sum("AWS/Lambda", "Errors", {"FunctionName": FN}, clock) == 1
    assert _sum("AWS/Lambda", "Invocations", {"FunctionName": FN}, clock) == 1


def test_one_stream_per_environment_and_a_new_one_after_a_deploy(clock) -> None:
    telemetry = LambdaTelemetry(Sink(clock=clock))
    for _ in range(2):
        with telemetry.invocation(FN, 512):
            pass
    telemetry.new_deployment()
    with telemetry.invocation(FN, 512):
        pass
    telemetry.throttled(FN)
    streams = [e["logStreamName"] for e in _events(f"/aws/lambda/{FN}")
               if e["message"].startswith("START")]
    assert streams[0] == streams[1] != streams[2]
    assert _sum("AWS/Lambda", "Throttles", {"FunctionName": FN}, clock) == 1
    assert _sum("AWS/Lambda", "Invocations", {"FunctionName": FN}, clock) == 3


FORMAT = ('{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
          '"user":"$context.identity.user","requestTime":"$context.requestTime",'
          '"httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath",'
          '"status":"$context.status","protocol":"$context.protocol",'
          '"responseLength":"$context.responseLength"}')


def test_access_log_line_in_the_stage_format_and_api_metrics(clock) -> None:
    stage = ApiStage(api_id="abc", api_name="GarmaxAi-LOCAL", stage="local",
                     access_log_destination=("arn:aws:logs:us-east-1:123456789012:log-group:"
                                             "/aws/apigateway/GarmaxAi-LOCAL"),
                     access_log_format=FORMAT,
                     resources=["/", "/api", "/api/tryon", "/api/tryon/{id}"])
    api = ApiTelemetry(Sink(clock=clock))
    api.record(stage, ApiRequest("r-1", "GET", "/api/tryon/123", 200, 42, clock.now, 12.5, 9.0))
    api.record(stage, ApiRequest("r-2", "POST", "/api/nothing", 404, 10, clock.now, 1.0))
    api.record(stage, ApiRequest("r-3", "GET", "/api/tryon", 500, 35, clock.now, 3.0, 2.0))
    lines = {line["requestId"]: line for line in (
        json.loads(e["message"]) for e in _events("/aws/apigateway/GarmaxAi-LOCAL"))}
    assert lines["r-1"] == {
        "requestId": "r-1", "ip": "127.0.0.1", "user": "-",
        "requestTime": clock.now.strftime("%d/%b/%Y:%H:%M:%S +0000"), "httpMethod": "GET",
        "resourcePath": "/api/tryon/{id}", "status": "200", "protocol": "HTTP/1.1",
        "responseLength": "42"}
    assert {k: line["status"] for k, line in lines.items()} == {
        "r-1": "200", "r-2": "404", "r-3": "500"}
    dims = {"ApiName": "GarmaxAi-LOCAL", "Stage": "local"}
    assert _sum("AWS/ApiGateway", "Count", dims, clock) == 3
    assert _sum("AWS/ApiGateway", "4XXError", dims, clock) == 1
    assert _sum("AWS/ApiGateway", "5XXError", dims, clock) == 1


def test_resource_path_prefers_the_most_literal_template() -> None:
    resources = ["/api/{proxy+}", "/api/tryon/{id}", "/api/tryon/latest"]
    assert resource_path("/api/tryon/latest", resources) == "/api/tryon/latest"
    assert resource_path("/api/tryon/42", resources) == "/api/tryon/{id}"
    assert resource_path("/api/a/b/c", resources) == "/api/{proxy+}"
    assert resource_path("/other", resources) == "/other"


def test_queue_sampler_publishes_visible_messages_per_queue(clock) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="work-dlq")["QueueUrl"]
    sqs.create_queue(QueueName="empty")
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    assert sample_queues(Sink(clock=clock)) == 2
    points = boto3.client("cloudwatch", region_name="us-east-1").get_metric_statistics(
        Namespace="AWS/SQS", MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": "work-dlq"}], Statistics=["Maximum"],
        Period=60, StartTime=clock.now - dt.timedelta(minutes=5),
        EndTime=clock.now + dt.timedelta(minutes=5))["Datapoints"]
    assert [p["Maximum"] for p in points] == [1.0]


def test_powertools_state_is_per_thread(clock, route_output) -> None:
    """Two functions' handlers at once in one process: each line keeps its own
    function_name and each EMF flush only its own metrics (Powertools keeps both on
    module-level objects)."""
    from aws_lambda_powertools import Logger, Metrics

    from garmaxctl.local import capture

    route_output()
    logger, metrics = Logger(service="shared"), Metrics(namespace="Shared")
    capture.adopt_logging()
    capture.thread_local_attributes(logger.registered_formatter, ("log_format",))
    capture.thread_local_attributes(metrics.provider,
                                    ("metric_set", "dimension_set", "metadata_set"))
    telemetry = LambdaTelemetry(Sink(clock=clock))
    barrier = threading.Barrier(2)

    def run(name: str) -> None:
        with telemetry.invocation(name, 512):
            logger.append_keys(function_name=name)
            metrics.add_metric(name=f"{name}Done", unit="Count", value=1)
            barrier.wait()  # both have set their keys and metrics before either logs
            logger.info("working")
            metrics.flush_metrics()

    threads = [threading.Thread(target=run, args=(n,)) for n in ("FnA", "FnB")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name in ("FnA", "FnB"):
        lines = [json.loads(e["message"]) for e in _events(f"/aws/lambda/{name}")
                 if e["message"].startswith("{")]
        assert [line["function_name"] for line in lines if "function_name" in line] == [name]
        emf = [line for line in lines if "_aws" in line]
        assert [m["Name"] for m in emf[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == [
            f"{name}Done"]
    logging.getLogger("shared").handlers.clear()
