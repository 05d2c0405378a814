"""DynamoDB Streams event source mappings of the local runtime, against a real moto stream and
real worker processes (the fixture template's StreamFunction on StreamTable: BatchSize 3, a 1 s
window, a filter on INSERT/MODIFY of ``entity = job``, ReportBatchItemFailures, bisection, two
retries, and an SQS on-failure destination). Every item a test writes carries its own ``run``
marker; the handler records each invocation under that marker."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests

from infra.local.resources import boto_client
from infra.local.runtime import LocalRuntime
from tests.e2e.support import eventually

pytestmark = pytest.mark.slow
STREAM_TABLE = "fixture-stream-test"
RECORDS_TABLE = "fixture-test"


def _item(run: str, name: str, outcome: str = "ok", entity: str = "job") -> dict[str, Any]:
    return {
        "pk": {"S": f"{run}#{name}"},
        "run": {"S": run},
        "name": {"S": name},
        "entity": {"S": entity},
        "outcome": {"S": outcome},
    }


def _write_together(rt: LocalRuntime, items: list[dict[str, Any]]) -> None:
    """One BatchWriteItem: the records land in the stream back to back, in this order."""
    ddb = boto_client("dynamodb", rt.moto_url)
    ddb.batch_write_item(RequestItems={STREAM_TABLE: [{"PutRequest": {"Item": i}} for i in items]})


def _invocations(rt: LocalRuntime, run: str) -> list[dict[str, Any]]:
    """Every invocation that saw records of ``run``, oldest first."""
    ddb = boto_client("dynamodb", rt.moto_url)
    items = ddb.query(
        TableName=RECORDS_TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"STREAMRUN#{run}"}},
    )["Items"]
    return [
        {"records": json.loads(item["records"]["S"]), "crashed": item["crashed"]["BOOL"]}
        for item in sorted(items, key=lambda i: i["sk"]["S"])
    ]


def _names(invocation: dict[str, Any]) -> list[str]:
    return [r["dynamodb"]["Keys"]["pk"]["S"].split("#", 1)[1] for r in invocation["records"]]


def _sequence(invocations: list[dict[str, Any]], name: str) -> str | None:
    """The sequence number of ``name``'s record, once it has been delivered."""
    for invocation in invocations:
        for record in invocation["records"]:
            if record["dynamodb"]["Keys"]["pk"]["S"].endswith(f"#{name}"):
                return str(record["dynamodb"]["SequenceNumber"])
    return None


def _failure_records(rt: LocalRuntime) -> list[dict[str, Any]]:
    sqs = boto_client("sqs", rt.moto_url)
    response = sqs.receive_message(
        QueueUrl=rt.stack.refs["StreamFailureQueue"], MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    return [json.loads(m["Body"]) for m in response.get("Messages", [])]


def _failure_starting_at(rt: LocalRuntime, sequence: str) -> dict[str, Any] | None:
    for record in _failure_records(rt):
        if record["DDBStreamBatchInfo"]["startSequenceNumber"] == sequence:
            return record
    return None


def test_matching_changes_arrive_as_lambda_stream_records(fixture_runtime: LocalRuntime) -> None:
    ddb = boto_client("dynamodb", fixture_runtime.moto_url)
    run = uuid.uuid4().hex
    # Given a job item that is created, changed and deleted, and an item of another entity
    job = _item(run, "job") | {"blob": {"B": b"\x00\xff"}}
    ddb.put_item(TableName=STREAM_TABLE, Item=job)
    ddb.put_item(TableName=STREAM_TABLE, Item=_item(run, "other", entity="other"))
    ddb.put_item(TableName=STREAM_TABLE, Item=job | {"outcome": {"S": "ok"}, "n": {"N": "2"}})
    ddb.delete_item(TableName=STREAM_TABLE, Key={"pk": job["pk"]})
    # and a last job item: once it is delivered, everything before it has been judged
    ddb.put_item(TableName=STREAM_TABLE, Item=_item(run, "last"))
    invocations = eventually(
        lambda: (
            (found := _invocations(fixture_runtime, run)) and "last" in _names(found[-1]) and found
        )
    )
    records = [r for invocation in invocations for r in invocation["records"]]
    # Then only what the filter matches reached the function: the job's INSERT and MODIFY, in
    # stream order; not the other entity, not the REMOVE
    assert [(r["eventName"], _names({"records": [r]})[0]) for r in records] == [
        ("INSERT", "job"),
        ("MODIFY", "job"),
        ("INSERT", "last"),
    ]
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequences == sorted(sequences)
    # and each record has Lambda's DynamoDB Streams shape
    inserted, modified = records[0], records[1]
    assert set(inserted) == {
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    }
    assert inserted["eventSource"] == "aws:dynamodb"
    assert inserted["awsRegion"] == "us-east-1"
    assert inserted["eventSourceARN"] == fixture_runtime.stack.attrs["StreamTable"]["StreamArn"]
    assert set(inserted["dynamodb"]) == {
        "ApproximateCreationDateTime",
        "Keys",
        "NewImage",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    }
    assert isinstance(inserted["dynamodb"]["ApproximateCreationDateTime"], int)
    assert inserted["dynamodb"]["Keys"] == {"pk": job["pk"]}
    assert inserted["dynamodb"]["NewImage"]["blob"] == {"B": "AP8="}  # binary as base64
    assert inserted["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert modified["dynamodb"]["OldImage"]["outcome"] == {"S": "ok"}
    assert modified["dynamodb"]["NewImage"]["n"] == {"N": "2"}


def test_a_cancelled_transaction_leaves_no_records_and_the_stream_keeps_flowing(
    fixture_runtime: LocalRuntime,
) -> None:
    ddb = boto_client("dynamodb", fixture_runtime.moto_url)
    run = uuid.uuid4().hex
    existing = _item(run, "existing")
    ddb.put_item(TableName=STREAM_TABLE, Item=existing)
    changed = _item(run, "changed")
    ddb.put_item(TableName=STREAM_TABLE, Item=changed)
    # Given a transaction (an outbox write, say) cancelled by its last condition
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": STREAM_TABLE, "Item": _item(run, "phantom")}},
                {"Put": {"TableName": STREAM_TABLE, "Item": _item(run, "changed", "bad")}},
                {
                    "Put": {
                        "TableName": STREAM_TABLE,
                        "Item": existing,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )

    # Then none of its writes stays: not the new item, not the change
    def stored(name: str) -> dict[str, Any] | None:
        key = {"pk": {"S": f"{run}#{name}"}}
        return ddb.get_item(TableName=STREAM_TABLE, Key=key).get("Item")

    assert stored("phantom") is None
    assert stored("changed") == changed
    # When a committed transaction follows
    ddb.transact_write_items(
        TransactItems=[{"Put": {"TableName": STREAM_TABLE, "Item": _item(run, "committed")}}]
    )
    # Then the committed write reaches the function (the stream did not go blind), and the
    # cancelled one never does (no record of a write that did not happen)
    invocations = eventually(
        lambda: (
            (found := _invocations(fixture_runtime, run))
            and any("committed" in _names(i) for i in found)
            and found
        )
    )
    assert [n for i in invocations for n in _names(i)] == ["existing", "changed", "committed"]


def test_batches_hold_at_most_batch_size_records_in_order(fixture_runtime: LocalRuntime) -> None:
    run = uuid.uuid4().hex
    names = [f"n{i}" for i in range(5)]
    # Given five changes written at once (BatchSize is 3)
    _write_together(fixture_runtime, [_item(run, name) for name in names])
    # When they have all been delivered
    invocations = eventually(
        lambda: (
            (found := _invocations(fixture_runtime, run))
            and sum(len(i["records"]) for i in found) >= 5
            and found
        )
    )
    # Then no batch was larger than BatchSize, and each record came once, in order
    assert all(len(i["records"]) <= 3 for i in invocations)
    assert len(invocations) >= 2
    assert [name for i in invocations for name in _names(i)] == names


def test_reported_failure_retries_from_its_checkpoint_then_goes_to_the_destination(
    fixture_runtime: LocalRuntime,
) -> None:
    run = uuid.uuid4().hex
    # Given a batch whose middle record the function reports as failed, every time
    _write_together(
        fixture_runtime,
        [_item(run, "first"), _item(run, "bad", outcome="fail"), _item(run, "third")],
    )
    # When the mapping has given up on it (MaximumRetryAttempts: 2)
    bad = eventually(lambda: _sequence(_invocations(fixture_runtime, run), "bad"))
    failure = eventually(lambda: _failure_starting_at(fixture_runtime, bad))
    invocations = _invocations(fixture_runtime, run)
    # Then the record before the checkpoint was delivered once and never retried
    assert sum(_names(i).count("first") for i in invocations) == 1
    # and the batch was retried from the failed record: one try plus two retries
    with_bad = [i for i in invocations if "bad" in _names(i)]
    assert len(with_bad) == 3
    assert all(_names(i)[0] == "bad" for i in with_bad[1:])
    # and Lambda's invocation record (metadata, not the records) went to the destination
    retried = with_bad[-1]["records"]
    info = failure["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == bad
    assert info["endSequenceNumber"] == retried[-1]["dynamodb"]["SequenceNumber"]
    assert info["batchSize"] == len(retried)
    assert info["streamArn"] == fixture_runtime.stack.attrs["StreamTable"]["StreamArn"]
    assert info["shardId"].startswith("shardId-")
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["requestContext"]["functionArn"].endswith(":function:StreamFunction:live")
    assert failure["responseContext"] == {"statusCode": 200, "executedVersion": "1"}
    assert failure["version"] == "1.0"
    # and the shard moved on: a later change is delivered
    _write_together(fixture_runtime, [_item(run, "later")])
    eventually(lambda: any("later" in _names(i) for i in _invocations(fixture_runtime, run)))


def test_function_error_bisects_the_batch_down_to_the_poison_record(
    fixture_runtime: LocalRuntime,
) -> None:
    run = uuid.uuid4().hex
    # Given a batch in which one record makes the function raise
    _write_together(
        fixture_runtime,
        [_item(run, "before"), _item(run, "poison", outcome="crash"), _item(run, "after")],
    )
    # When the mapping has given up on the poison record
    poison = eventually(lambda: _sequence(_invocations(fixture_runtime, run), "poison"))
    failure = eventually(lambda: _failure_starting_at(fixture_runtime, poison))
    # Then the batch was split until the poison record stood alone, and only it was skipped
    info = failure["DDBStreamBatchInfo"]
    assert info["endSequenceNumber"] == poison
    assert info["batchSize"] == 1
    assert failure["responseContext"]["functionError"] == "Unhandled"
    # and its neighbours were each processed by an invocation that succeeded
    invocations = eventually(
        lambda: (
            (found := _invocations(fixture_runtime, run))
            and {"before", "after"} <= {n for i in found if not i["crashed"] for n in _names(i)}
            and found
        )
    )
    assert not any("poison" in _names(i) for i in invocations if not i["crashed"])


def test_control_endpoint_describes_the_stream_mapping(fixture_runtime: LocalRuntime) -> None:
    # When a developer asks the runtime what its event sources have done
    sources = requests.get(fixture_runtime.api_url + "/__local__/event-sources", timeout=30)
    stream = next(s for s in sources.json() if s["function"] == "StreamFunction")
    # Then the stream mapping is listed with its stream and on-failure queue
    assert stream["type"] == "DynamoDB"
    assert stream["source"] == fixture_runtime.stack.attrs["StreamTable"]["StreamArn"]
    assert stream["on_failure"] == fixture_runtime.stack.attrs["StreamFailureQueue"]["Arn"]
    assert stream["shards"] == 1
    assert {"batches", "filtered_out", "discarded"} <= set(stream)
