"""The local runtime's own mechanics, through real HTTP against a real moto server and real
worker processes, using the fixture template (tests/e2e/fixtures/). The project's domain
behaviour is tested elsewhere; the last test only checks that the real template boots."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.resources import boto_client
from infra.local.runtime import PROJECT_ROOT, LocalRuntime
from infra.local.schedules import next_fire

pytestmark = pytest.mark.slow
FIXTURES = Path(__file__).parent / "fixtures"


def eventually[T](check: Callable[[], T], *, within: float = 30.0) -> T:
    """Poll ``check`` until it returns something truthy (``within`` is only a safety net)."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met; last value {value!r}")
        time.sleep(0.2)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def echo(rt: LocalRuntime, path: str, token: str = "allow:t1", **kwargs: Any) -> dict[str, Any]:
    response = requests.get(rt.api_url + path, headers=auth(token), timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------------- routes and events
def test_path_parameters_and_query_strings_reach_the_event(fixture_runtime: LocalRuntime) -> None:
    # Given a route /echo/{id}
    # When it is called with a repeated and an empty query parameter
    event = echo(fixture_runtime, "/echo/abc?x=1&x=2&y=")["event"]
    # Then the REST (1.0) event has the resource, path parameters and both query maps
    assert event["resource"] == "/echo/{id}"
    assert event["path"] == "/echo/abc"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "abc"}
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["requestContext"]["stage"] == "test"
    assert event["isBase64Encoded"] is False


def test_repeated_headers_stay_separate_in_multi_value_headers(
    fixture_runtime: LocalRuntime,
) -> None:
    # Given a client that sends the same header twice
    connection = http.client.HTTPConnection("127.0.0.1", fixture_runtime.api_port, timeout=30)
    connection.putrequest("GET", "/echo/h")
    connection.putheader("Authorization", "Bearer allow:t1")
    connection.putheader("X-Trace", "first")
    connection.putheader("X-Trace", "second")
    connection.endheaders()
    # When the event is built
    event = json.loads(connection.getresponse().read())["event"]
    connection.close()
    # Then multiValueHeaders keeps both values and headers the last one, as API Gateway does
    assert event["multiValueHeaders"]["X-Trace"] == ["first", "second"]
    assert event["headers"]["X-Trace"] == "second"


def test_a_malformed_request_is_answered_400_not_dropped(fixture_runtime: LocalRuntime) -> None:
    # Given a request whose Content-Length is not a number
    with socket.create_connection(("127.0.0.1", fixture_runtime.api_port), timeout=30) as raw:
        raw.sendall(b"POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\nhi")
        # When the server reads it
        answer = raw.recv(4096)
    # Then the client gets a 400, not a closed connection
    assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n", 1)[0]


def test_each_request_gets_its_own_request_id(fixture_runtime: LocalRuntime) -> None:
    # Given two requests
    first = echo(fixture_runtime, "/echo/1")["event"]["requestContext"]["requestId"]
    second = echo(fixture_runtime, "/echo/2")["event"]["requestContext"]["requestId"]
    # Then they have different request ids (sam local reuses one for every request)
    assert first != second


def test_greedy_path_captures_the_rest_of_the_path(fixture_runtime: LocalRuntime) -> None:
    # Given an ANY /files/{proxy+} route
    # When a nested path is requested with POST
    response = requests.post(
        fixture_runtime.api_url + "/files/a/b/c.txt", headers=auth("allow:t1"), timeout=30
    )
    event = response.json()["event"]
    # Then the whole remainder is the proxy parameter
    assert event["resource"] == "/files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert event["httpMethod"] == "POST"


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/nowhere"), ("DELETE", "/echo/abc"), ("GET", "/echo")]
)
def test_unknown_routes_answer_missing_authentication_token(
    fixture_runtime: LocalRuntime, method: str, path: str
) -> None:
    # When a path or method the API does not have is called
    response = requests.request(method, fixture_runtime.api_url + path, timeout=30)
    # Then API Gateway's 403 comes back through the template's DEFAULT_4XX envelope
    assert response.status_code == 403
    assert response.json() == {
        "error": {"code": "bad_request", "message": "Missing Authentication Token"}
    }


# ---------------------------------------------------------------------- authorizer
def test_authorizer_context_reaches_the_function_as_strings(fixture_runtime: LocalRuntime) -> None:
    # When an allowed key calls a protected route
    authorizer = echo(fixture_runtime, "/echo/ctx", token="allow:tenant-ctx")["event"][
        "requestContext"
    ]["authorizer"]
    # Then the authorizer's context, principalId included, is in requestContext.authorizer
    assert authorizer["tenantId"] == "tenant-ctx"
    assert authorizer["principalId"] == "fixture-user"
    assert authorizer["type"] == "REQUEST"
    # and numbers and booleans arrive as strings, as in API Gateway
    assert authorizer["admin"] == "true"
    assert authorizer["calls"].isdigit()


@pytest.mark.parametrize(
    ("token", "status", "body"),
    [
        ("deny", 403, {"error": {"code": "forbidden", "message": "denied"}}),
        ("nope", 401, {"error": {"code": "unauthorized", "message": "no valid key"}}),
        ("broken", 500, {"error": {"code": "internal_error", "message": "internal error"}}),
    ],
)
def test_refusals_use_the_templates_gateway_responses(
    fixture_runtime: LocalRuntime, token: str, status: int, body: dict[str, Any]
) -> None:
    # When the authorizer denies, raises "Unauthorized" or answers nonsense
    response = requests.get(fixture_runtime.api_url + "/echo/x", headers=auth(token), timeout=30)
    # Then the answer is the template's gateway response, never Flask HTML
    assert response.status_code == status
    assert response.json() == body
    assert response.headers["Content-Type"] == "application/json"


def test_missing_identity_source_is_refused_without_calling_the_authorizer(
    fixture_runtime: LocalRuntime,
) -> None:
    # Given the authorizer's invocation count
    before = fixture_runtime.gateway.cache.invocations
    # When a protected route is called without the Authorization header
    response = requests.get(fixture_runtime.api_url + "/echo/x", timeout=30)
    # Then it is a 401 and the authorizer was not invoked
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert fixture_runtime.gateway.cache.invocations == before


def test_cached_verdict_is_reused_until_flushed(fixture_runtime: LocalRuntime) -> None:
    token = f"allow:{uuid.uuid4().hex}"
    # Given a first request with a fresh key (ReauthorizeEvery is 300 s in the template)
    first = echo(fixture_runtime, "/echo/1", token=token)["event"]["requestContext"]["authorizer"]
    # When the same key calls another route
    second = echo(fixture_runtime, "/files/x", token=token)["event"]["requestContext"]["authorizer"]
    # Then the cached verdict answered: the authorizer did not run again
    assert second["calls"] == first["calls"]
    # When the cache is flushed through the control endpoint
    flushed = requests.delete(fixture_runtime.api_url + "/__local__/authorizer-cache", timeout=30)
    assert flushed.json()["flushed"] >= 1
    third = echo(fixture_runtime, "/echo/3", token=token)["event"]["requestContext"]["authorizer"]
    # Then the authorizer runs again
    assert int(third["calls"]) > int(first["calls"])


def test_authorizer_with_zero_ttl_runs_on_every_request(fixture_runtime: LocalRuntime) -> None:
    # Given a route whose authorizer has ReauthorizeEvery: 0
    before = fixture_runtime.gateway.cache.invocations
    # When the same key calls it twice
    for _ in range(2):
        echo(fixture_runtime, "/uncached", token="allow:t0")
    # Then the authorizer ran both times
    assert fixture_runtime.gateway.cache.invocations == before + 2


def test_cached_policy_is_judged_against_each_method(fixture_runtime: LocalRuntime) -> None:
    token = f"scoped:{uuid.uuid4().hex}"
    # Given a key whose policy allows GET /echo/* only, cached after a first GET
    assert echo(fixture_runtime, "/echo/1", token=token)["event"]["httpMethod"] == "GET"
    # When the same key POSTs to /echo
    response = requests.post(fixture_runtime.api_url + "/echo", headers=auth(token), timeout=30)
    # Then the cached policy does not cover it: 403
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


# ---------------------------------------------------------------------- CORS, gzip, binary
def test_preflight_answers_from_the_api_cors_without_authorizer(
    fixture_runtime: LocalRuntime,
) -> None:
    # When a browser sends a preflight (no Authorization header)
    response = requests.options(
        fixture_runtime.api_url + "/echo/abc",
        headers={"Origin": "http://localhost:8080", "Access-Control-Request-Method": "GET"},
        timeout=30,
    )
    # Then the template's Cors answers it
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "GET,OPTIONS,POST"
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization,Content-Type"
    assert response.headers["Access-Control-Max-Age"] == "600"


def test_function_cors_headers_are_not_overwritten(fixture_runtime: LocalRuntime) -> None:
    # When the function sets its own Access-Control-Allow-Origin
    response = requests.get(
        fixture_runtime.api_url + "/echo/o?origin=https://shop.example",
        headers=auth("allow:t1"),
        timeout=30,
    )
    # Then it reaches the browser unchanged (sam local would replace it with the API's '*')
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"


@pytest.mark.parametrize(
    ("size", "accept", "compressed"),
    [(2000, "gzip", True), (1023, "gzip", False), (2000, "identity", False)],
)
def test_large_responses_are_gzipped_for_clients_that_accept_it(
    fixture_runtime: LocalRuntime, size: int, accept: str, compressed: bool
) -> None:
    # Given MinimumCompressionSize 1024 in the template
    # When a body of ``size`` bytes is requested with Accept-Encoding ``accept``
    connection = http.client.HTTPConnection("127.0.0.1", fixture_runtime.api_port, timeout=30)
    connection.request("GET", f"/public/p?size={size}", headers={"Accept-Encoding": accept})
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    # Then it is compressed only at or above the threshold, and only when accepted
    assert (response.getheader("Content-Encoding") == "gzip") is compressed
    body = gzip.decompress(raw) if compressed else raw
    assert body == b"x" * size


def test_binary_bodies_are_base64_both_ways(fixture_runtime: LocalRuntime) -> None:
    payload = bytes(range(256))
    # When a binary media type (image/png in BinaryMediaTypes) is posted and accepted back
    response = requests.post(
        fixture_runtime.api_url + "/binary",
        data=payload,
        headers={"Content-Type": "image/png", "Accept": "image/png"},
        timeout=30,
    )
    # Then the function got it base64-encoded, and its base64 answer was decoded for the client
    assert response.headers["X-Was-Base64"] == "True"
    assert response.content == payload


# ---------------------------------------------------------------------- workers
def test_function_gets_template_environment_and_lambda_context(
    fixture_runtime: LocalRuntime,
) -> None:
    # When a function reports its environment and context
    report = echo(fixture_runtime, "/echo/env")
    env, context = report["env"], report["context"]
    stack = fixture_runtime.stack
    # Then template variables point at the moto resources
    assert env["TABLE_NAME"] == stack.refs["Table"] == "fixture-test"
    assert env["WORK_QUEUE_URL"] == stack.refs["WorkQueue"]
    assert env["BUS_ARN"] == stack.attrs["Bus"]["Arn"]
    assert env["ADMIN_SECRET_ARN"] == stack.refs["AdminSecret"]
    assert env["GREETING"] == "hello from test"
    assert env["ECHO_ONLY"] == "yes"
    # and the AWS wiring is the emulator's, with nothing leaked from the developer's shell
    assert env["AWS_ENDPOINT_URL"] == fixture_runtime.moto_url
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_PROFILE"] is None
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
    # and the context looks like Lambda's, invoked through the live alias
    assert context["function_name"] == "EchoFunction"
    assert context["memory_limit_in_mb"] == "256"
    assert context["invoked_function_arn"].endswith(":function:EchoFunction:live")
    assert 0 < context["remaining_ms"] <= 3000
    # and both layers are importable: a prebuilt python/ layout and a BuildMethod one
    assert report["layers"] == ["fixture-kit", "fixture-built"]


@pytest.mark.parametrize("kind", ["raise", "malformed"])
def test_function_errors_are_502_internal_server_error(
    fixture_runtime: LocalRuntime, kind: str
) -> None:
    # When the handler raises, or returns keys a REST proxy response may not have
    response = requests.get(fixture_runtime.api_url + f"/fault/{kind}", timeout=30)
    # Then API Gateway's 502 comes back
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}


def test_crashed_environment_is_replaced(fixture_runtime: LocalRuntime) -> None:
    url = fixture_runtime.api_url + "/fault/ok"
    before = requests.get(url, timeout=30).json()["pid"]
    # When the function's process exits mid-invocation
    crashed = requests.get(fixture_runtime.api_url + "/fault/exit", timeout=30)
    # Then that request fails with a 502 and the next one runs in a new environment
    assert crashed.status_code == 502
    after = requests.get(url, timeout=30)
    assert after.status_code == 200
    assert after.json()["pid"] != before


def test_timeout_kills_the_environment_and_answers_504(fixture_runtime: LocalRuntime) -> None:
    # Given FaultFunction's Timeout of 1 s
    # When the handler sleeps past it
    response = requests.get(fixture_runtime.api_url + "/fault/slow", timeout=30)
    # Then the request ends with a 504 through DEFAULT_5XX, and the function still serves
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "internal_error"
    assert requests.get(fixture_runtime.api_url + "/fault/ok", timeout=30).status_code == 200


def test_overlapping_requests_run_in_separate_environments(fixture_runtime: LocalRuntime) -> None:
    # When two slow requests overlap
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: echo(fixture_runtime, "/echo/s?sleep=1"), range(2)))
    # Then each ran in its own environment (process), one request at a time
    assert reports[0]["pid"] != reports[1]["pid"]


# ---------------------------------------------------------------------- resources
def test_resources_come_from_the_template(fixture_runtime: LocalRuntime) -> None:
    stack = fixture_runtime.stack
    ddb = boto_client("dynamodb", fixture_runtime.moto_url)
    sqs = boto_client("sqs", fixture_runtime.moto_url)
    # Then the table has the template's keys, index, TTL and stream
    table = ddb.describe_table(TableName="fixture-test")["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["gsi1"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    ttl = ddb.describe_time_to_live(TableName="fixture-test")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    # and the work queue redrives to its DLQ after two receives
    attributes = sqs.get_queue_attributes(QueueUrl=stack.refs["WorkQueue"], AttributeNames=["All"])
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == stack.attrs["WorkDeadLetterQueue"]["Arn"]
    assert int(redrive["maxReceiveCount"]) == 2
    assert attributes["Attributes"]["VisibilityTimeout"] == "30"
    # and the generated secret has the template's shape; the runtime exposes it as admin token
    secrets = boto_client("secretsmanager", fixture_runtime.moto_url)
    secret = json.loads(
        secrets.get_secret_value(SecretId=stack.refs["AdminSecret"])["SecretString"]
    )
    assert set(secret) == {"token"}
    assert len(secret["token"]) == 40
    assert secret["token"].isalnum()
    assert fixture_runtime.admin_token == secret["token"]


def test_eventbridge_rule_with_prefix_pattern_delivers_to_its_queue(
    fixture_runtime: LocalRuntime,
) -> None:
    events = boto_client("events", fixture_runtime.moto_url)
    sqs = boto_client("sqs", fixture_runtime.moto_url)
    queue = fixture_runtime.stack.refs["EventsQueue"]
    marker = uuid.uuid4().hex
    # When one matching and one non-matching event are published on the bus
    events.put_events(
        Entries=[
            {
                "Source": "fixture.orders",
                "DetailType": "Placed",
                "Detail": json.dumps({"m": marker}),
                "EventBusName": "fixture-test",
            },
            {
                "Source": "other.orders",
                "DetailType": "Placed",
                "Detail": json.dumps({"m": marker}),
                "EventBusName": "fixture-test",
            },
        ]
    )
    # Then only the matching one arrives, shaped as EventBridge delivers it (account included)
    messages = eventually(
        lambda: sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages")
    )
    bodies = [json.loads(m["Body"]) for m in messages]
    assert [b["source"] for b in bodies if b["detail"]["m"] == marker] == ["fixture.orders"]
    assert bodies[0]["account"] == "123456789012"
    assert bodies[0]["detail-type"] == "Placed"


# ---------------------------------------------------------------------- SQS event source
def _attempts(rt: LocalRuntime, message_id: str) -> list[dict[str, Any]]:
    table = boto_client("dynamodb", rt.moto_url)
    items = table.query(
        TableName="fixture-test",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"MSG#{message_id}"}},
    )["Items"]
    return [json.loads(item["record"]["S"]) | {"sk": item["sk"]["S"]} for item in items]


def _dlq_bodies(rt: LocalRuntime) -> list[dict[str, Any]]:
    sqs = boto_client("sqs", rt.moto_url)
    response = sqs.receive_message(
        QueueUrl=rt.stack.refs["WorkDeadLetterQueue"], MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    return [json.loads(m["Body"]) for m in response.get("Messages", [])]


def test_partial_batch_failure_retries_failed_items_then_dead_letters_them(
    fixture_runtime: LocalRuntime,
) -> None:
    sqs = boto_client("sqs", fixture_runtime.moto_url)
    ok, fail = uuid.uuid4().hex, uuid.uuid4().hex
    # Given two messages that succeed and one the function reports as failed
    sqs.send_message_batch(
        QueueUrl=fixture_runtime.stack.refs["WorkQueue"],
        Entries=[
            {
                "Id": "1",
                "MessageBody": json.dumps({"id": ok, "outcome": "ok"}),
                "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "test"}},
            },
            {"Id": "2", "MessageBody": json.dumps({"id": ok + "-2", "outcome": "ok"})},
            {"Id": "3", "MessageBody": json.dumps({"id": fail, "outcome": "fail"})},
        ],
    )
    # When the event source mapping has delivered everything it will
    dead = eventually(lambda: [b for b in _dlq_bodies(fixture_runtime) if b["id"] == fail])
    # Then the failed message was tried maxReceiveCount (2) times and is in the DLQ
    assert dead == [{"id": fail, "outcome": "fail"}]
    assert sorted(a["sk"] for a in _attempts(fixture_runtime, fail)) == ["ATTEMPT#1", "ATTEMPT#2"]
    # and the successful ones were processed once and deleted, never retried
    assert [a["sk"] for a in _attempts(fixture_runtime, ok)] == ["ATTEMPT#1"]
    assert [a["sk"] for a in _attempts(fixture_runtime, ok + "-2")] == ["ATTEMPT#1"]
    # and the records had Lambda's SQS event shape
    record = _attempts(fixture_runtime, ok)[0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == fixture_runtime.stack.attrs["WorkQueue"]["Arn"]
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"messageId", "receiptHandle", "md5OfBody"} <= set(record)
    assert record["messageAttributes"]["kind"]["stringValue"] == "test"
    assert record["messageAttributes"]["kind"]["dataType"] == "String"


def test_whole_batch_exception_deletes_nothing(fixture_runtime: LocalRuntime) -> None:
    sqs = boto_client("sqs", fixture_runtime.moto_url)
    crash = uuid.uuid4().hex
    # Given a message whose batch raises
    sqs.send_message(
        QueueUrl=fixture_runtime.stack.refs["WorkQueue"],
        MessageBody=json.dumps({"id": crash, "outcome": "crash"}),
    )
    # When the mapping has given up on it
    eventually(lambda: [b for b in _dlq_bodies(fixture_runtime) if b["id"] == crash])
    # Then it was not deleted after the failure but received again, then dead-lettered
    assert sorted(a["sk"] for a in _attempts(fixture_runtime, crash)) == ["ATTEMPT#1", "ATTEMPT#2"]


def test_messages_matching_no_filter_are_deleted_without_an_invocation(
    fixture_runtime: LocalRuntime,
) -> None:
    sqs = boto_client("sqs", fixture_runtime.moto_url)
    skipped, kept = uuid.uuid4().hex, uuid.uuid4().hex
    # Given the consumer's FilterCriteria (outcome anything-but "skip"), a message it excludes
    # followed by one it accepts
    sqs.send_message_batch(
        QueueUrl=fixture_runtime.stack.refs["WorkQueue"],
        Entries=[
            {"Id": "1", "MessageBody": json.dumps({"id": skipped, "outcome": "skip"})},
            {"Id": "2", "MessageBody": json.dumps({"id": kept, "outcome": "ok"})},
        ],
    )
    # When the accepted one has been processed
    eventually(lambda: _attempts(fixture_runtime, kept))
    # Then the excluded one never reached the function, and left the queue (not to the DLQ)
    assert _attempts(fixture_runtime, skipped) == []
    assert not [b for b in _dlq_bodies(fixture_runtime) if b["id"] == skipped]
    attributes = sqs.get_queue_attributes(
        QueueUrl=fixture_runtime.stack.refs["WorkQueue"], AttributeNames=["All"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"


# ---------------------------------------------------------------------- schedules
def test_schedule_fires_on_demand_with_its_input(fixture_runtime: LocalRuntime) -> None:
    # When the ScheduleV2 event is fired through the control endpoint
    response = requests.post(
        fixture_runtime.api_url + "/__local__/schedules/TickFunction/Nightly", timeout=30
    )
    # Then the function ran synchronously with the schedule's Input and its result comes back
    assert response.status_code == 200
    assert response.json() == {"ticked": True, "event": {"job": "nightly"}}


def test_schedule_fired_with_a_body_gets_that_event_instead(
    fixture_runtime: LocalRuntime,
) -> None:
    base = fixture_runtime.api_url + "/__local__/schedules/TickFunction/Nightly"
    # When the schedule is fired with a JSON body (a backfill: {"as_of": ...})
    response = requests.post(base, json={"as_of": "2100-01-01"}, timeout=30)
    # Then the function got the body as its event, not the template's Input
    assert response.status_code == 200
    assert response.json()["event"] == {"as_of": "2100-01-01"}
    # and a body that is not JSON is refused without running anything
    refused = requests.post(base, data=b"as_of=2100", timeout=30)
    assert refused.status_code == 400


def test_classic_schedule_sends_a_scheduled_event(fixture_runtime: LocalRuntime) -> None:
    # When a Type: Schedule event is fired from the library API
    result = fixture_runtime.fire_schedule("TickFunction", "Hourly")
    # Then the function got EventBridge's "Scheduled Event"
    event = result.value()["event"]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"


def test_unknown_schedule_is_404(fixture_runtime: LocalRuntime) -> None:
    response = requests.post(
        fixture_runtime.api_url + "/__local__/schedules/TickFunction/Nope", timeout=30
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("rate(5 minutes)", "2026-01-01T10:00:00", "2026-01-01T10:05:00"),
        ("rate(1 day)", "2026-01-01T10:00:00", "2026-01-02T10:00:00"),
        ("cron(0 3 * * ? *)", "2026-01-01T04:00:00", "2026-01-02T03:00:00"),
        ("cron(15 10 ? * MON-FRI *)", "2026-01-03T12:00:00", "2026-01-05T10:15:00"),
        ("cron(0/30 * * * ? *)", "2026-01-01T10:10:00", "2026-01-01T10:30:00"),
    ],
)
def test_schedule_expressions(expression: str, after: str, expected: str) -> None:
    start = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert next_fire(expression, start) == datetime.fromisoformat(expected).replace(tzinfo=UTC)


# ---------------------------------------------------------------------- control, invoke
def test_control_endpoints_describe_the_runtime(fixture_runtime: LocalRuntime) -> None:
    base = fixture_runtime.api_url + "/__local__"
    assert requests.get(base + "/health", timeout=30).json() == {"status": "ok"}
    functions = {f["logical_id"]: f for f in requests.get(base + "/functions", timeout=30).json()}
    assert functions["ConsumerFunction"]["events"] == {"Work": "SQS"}
    queues = {q["logical_id"] for q in requests.get(base + "/queues", timeout=30).json()}
    assert {"WorkQueue", "WorkDeadLetterQueue", "EventsQueue"} <= queues
    invoked = requests.post(base + "/invoke/TickFunction", json={"direct": 1}, timeout=30)
    assert invoked.json()["event"] == {"direct": 1}


def _invoke_module(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.local.invoke", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )


def test_invoke_module_uses_the_running_runtimes_moto(fixture_runtime: LocalRuntime) -> None:
    # Given a running runtime that wrote its state file
    state = str(fixture_runtime.state_file)
    template = str(FIXTURES / "template.yaml")
    # When `make invoke` runs the echo function with an event file
    done = _invoke_module(
        "EchoFunction",
        str(FIXTURES / "events/echo_get.json"),
        "--template",
        template,
        "--state-file",
        state,
    )
    # Then the result JSON is on stdout, logs on stderr, and it used the runtime's moto
    assert done.returncode == 0, done.stderr
    body = json.loads(json.loads(done.stdout)["body"])
    assert body["event"]["pathParameters"] == {"id": "from-file"}
    assert body["env"]["AWS_ENDPOINT_URL"] == fixture_runtime.moto_url
    assert "START RequestId" in done.stderr


def test_invoke_module_without_a_runtime_starts_its_own_moto(
    fixture_runtime: LocalRuntime, tmp_path: Path
) -> None:
    # Given no running runtime (a state file that does not exist)
    # When a function that writes to the table is invoked
    done = _invoke_module(
        "TickFunction",
        str(FIXTURES / "events/tick.json"),
        "--template",
        str(FIXTURES / "template.yaml"),
        "--state-file",
        str(tmp_path / "none.json"),
    )
    # Then it ran against an ephemeral moto with the template's table
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"ticked": True, "event": {"job": "from-make-invoke"}}


def test_invoke_module_reports_function_errors(tmp_path: Path) -> None:
    event = tmp_path / "fault.json"
    event.write_text(json.dumps({"pathParameters": {"kind": "raise"}}))
    done = _invoke_module(
        "FaultFunction",
        str(event),
        "--template",
        str(FIXTURES / "template.yaml"),
        "--state-file",
        str(tmp_path / "none.json"),
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["errorType"] == "RuntimeError"


# ---------------------------------------------------------------------- lifecycle
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(")")[-1].split()[0] == "Z")


def test_stop_leaves_no_processes_behind(tmp_path: Path) -> None:
    # Given a runtime that has started a worker
    local = LocalRuntime(
        FIXTURES / "template.yaml", api_port=0, seed=False, log_dir=tmp_path, stack_name="lifecycle"
    )
    local.start()
    try:
        assert local.invoke("TickFunction", {}).ok
        pids = [w.process.pid for pool in local.pools.values() for w in pool.idle]
        pids.append(local.moto.process.pid)
        assert len(pids) >= 2
    finally:
        # When it stops
        local.stop()
    # Then the workers and moto are gone
    assert not [pid for pid in pids if _alive(pid)]


def test_real_template_boots_and_seeds_demo_data(runtime: LocalRuntime) -> None:
    # Given the project's template, started and seeded through its API
    seed = runtime.seed
    assert seed, runtime.seed_error
    assert seed["publishable_key"].startswith("pk_")
    # When the widget reads its agent's public config from an allowed origin
    response = requests.get(
        f"{runtime.api_url}/v1/public/agents/{seed['agent_id']}/config",
        headers={**auth(seed["publishable_key"]), "Origin": seed["allowed_origins"][0]},
        timeout=30,
    )
    # Then it gets it
    assert response.status_code == 200, response.text
    assert response.json()["agent_id"] == seed["agent_id"]
