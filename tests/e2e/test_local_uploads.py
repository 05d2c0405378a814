"""S3 in the local runtime: a bucket's notifications to SQS (with key filters), its CORS rules,
and presigned PUT URLs made by a function and used by a plain HTTP client; plus local-only
environment overrides. Fixture template: UploadBucket → UploadQueue (uploads/*.txt only),
UploadFunction presigns PUTs (POST /uploads/{name})."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests

from infra.local.environment import parse_env_overrides
from infra.local.resources import boto_client
from infra.local.runtime import LocalRuntime
from tests.e2e.conftest import FIXTURES
from tests.e2e.support import eventually

pytestmark = pytest.mark.slow


def _notifications(rt: LocalRuntime) -> list[dict[str, Any]]:
    """S3 event records in the upload queue (moto's s3:TestEvent left out)."""
    sqs = boto_client("sqs", rt.moto_url)
    response = sqs.receive_message(
        QueueUrl=rt.stack.refs["UploadQueue"], MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    bodies = [json.loads(m["Body"]) for m in response.get("Messages", [])]
    return [record for body in bodies for record in body.get("Records", [])]


def _presign(rt: LocalRuntime, name: str) -> dict[str, Any]:
    response = requests.post(f"{rt.api_url}/uploads/{name}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_presigned_put_from_a_plain_client_lands_and_notifies_the_queue(
    fixture_runtime: LocalRuntime,
) -> None:
    s3 = boto_client("s3", fixture_runtime.moto_url)
    bucket = fixture_runtime.stack.refs["UploadBucket"]
    marker = uuid.uuid4().hex
    # Given objects outside the notification's filter (prefix uploads/, suffix .txt)
    s3.put_object(Bucket=bucket, Key=f"elsewhere/{marker}.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key=f"uploads/{marker}.pdf", Body=b"x")
    # and a URL presigned by a function with its own boto3 (AWS_ENDPOINT_URL is moto)
    ticket = _presign(fixture_runtime, f"{marker}.txt")
    # When a plain HTTP client PUTs the file with the headers the ticket names
    uploaded = requests.put(
        ticket["url"], data=b"hello, world", headers=ticket["headers"], timeout=30
    )
    # Then the object is in the bucket
    assert uploaded.status_code == 200, uploaded.text
    stored = s3.get_object(Bucket=bucket, Key=ticket["key"])
    assert stored["Body"].read() == b"hello, world"
    # and S3's notification reached the queue, shaped like S3's own record
    record = eventually(
        lambda: next(
            (r for r in _notifications(fixture_runtime) if marker in r["s3"]["object"]["key"]),
            None,
        )
    )
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["object"]["key"] == f"uploads/{marker}.txt"
    assert record["s3"]["object"]["size"] == len(b"hello, world")
    assert {"sequencer", "eTag"} <= set(record["s3"]["object"])
    assert {"userIdentity", "requestParameters", "responseElements"} <= set(record)
    # and the objects outside the filter notified nothing
    keys = [r["s3"]["object"]["key"] for r in _notifications(fixture_runtime)]
    assert [k for k in keys if marker in k] == [f"uploads/{marker}.txt"]


def test_bucket_cors_rules_answer_browser_preflights(fixture_runtime: LocalRuntime) -> None:
    ticket = _presign(fixture_runtime, f"{uuid.uuid4().hex}.txt")
    preflight = {
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "content-type",
    }
    # When a page on an allowed origin asks whether it may PUT to the presigned URL
    allowed = requests.options(
        ticket["url"], headers={"Origin": "http://localhost:8080", **preflight}, timeout=30
    )
    # Then the bucket's CorsConfiguration from the template answers yes, for that origin
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
    assert "PUT" in allowed.headers["Access-Control-Allow-Methods"]
    assert allowed.headers["Access-Control-Max-Age"] == "3000"
    # and a page on another origin is refused
    refused = requests.options(
        ticket["url"], headers={"Origin": "https://elsewhere.example", **preflight}, timeout=30
    )
    assert refused.status_code == 403


def test_env_override_replaces_a_template_variable_for_one_function(
    fixture_runtime: LocalRuntime,
) -> None:
    # Given the fixture runtime started with {"UploadFunction": {"ALLOW_PRIVATE": "true"}}
    # and a template that sets ALLOW_PRIVATE: "false"
    ticket = _presign(fixture_runtime, "x.txt")
    # Then the function sees the override
    assert ticket["allow_private"] == "true"
    # and other functions keep their own environment (no override leaks to them)
    report = requests.get(
        fixture_runtime.api_url + "/echo/env",
        headers={"Authorization": "Bearer allow:t1"},
        timeout=30,
    ).json()
    assert report["env"]["ALLOW_PRIVATE"] is None


def test_env_option_parses_per_function_and_global_overrides() -> None:
    parsed = parse_env_overrides(
        ["IngestionFunction.ALLOW_PRIVATE_URLS=true", "POWERTOOLS_LOG_LEVEL=DEBUG", "A.B=x=y"]
    )
    assert parsed == {
        "IngestionFunction": {"ALLOW_PRIVATE_URLS": "true"},
        "*": {"POWERTOOLS_LOG_LEVEL": "DEBUG"},
        "A": {"B": "x=y"},
    }
    with pytest.raises(ValueError):
        parse_env_overrides(["NO_VALUE"])


def test_env_override_for_an_unknown_function_stops_the_start(tmp_path: Any) -> None:
    # Given an override naming a function the template does not have (a typo)
    local = LocalRuntime(
        FIXTURES / "template.yaml",
        api_port=0,
        seed=False,
        log_dir=tmp_path,
        env_overrides={"UplodFunction": {"ALLOW_PRIVATE": "true"}},
    )
    # Then the runtime refuses to start rather than silently keep the template's value
    with pytest.raises(ValueError, match="UplodFunction"):
        local.start()
