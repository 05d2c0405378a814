"""How the DynamoDB Streams poller walks shards, against a scripted stream: moto keeps one shard
per table forever, real DynamoDB splits and closes shards. No processes: the poller's stream
client and invoke function are stand-ins, its logic is the real one."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

from infra.local.streams import StreamPoller
from infra.local.template import StreamTrigger
from infra.local.workers import InvokeResult

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"


class ScriptedStream:
    """describe_stream / get_shard_iterator / get_records over shards the test defines."""

    def __init__(self) -> None:
        self.shards: list[dict[str, Any]] = []
        self.records: dict[str, list[dict[str, Any]]] = {}

    def add_shard(
        self,
        shard_id: str,
        sequences: list[int],
        *,
        parent: str | None = None,
        closed: bool = False,
    ) -> None:
        shard: dict[str, Any] = {"ShardId": shard_id, "SequenceNumberRange": {}}
        if parent:
            shard["ParentShardId"] = parent
        if closed:
            shard["SequenceNumberRange"]["EndingSequenceNumber"] = str(max(sequences))
        self.shards.append(shard)
        self.records[shard_id] = [_raw(shard_id, n) for n in sequences]

    def describe_stream(self, **kwargs: Any) -> dict[str, Any]:
        return {"StreamDescription": {"Shards": [dict(s) for s in self.shards]}}

    def get_shard_iterator(self, *, ShardId: str, ShardIteratorType: str, **kw: Any) -> dict:
        start = len(self.records[ShardId]) if ShardIteratorType == "LATEST" else 0
        return {"ShardIterator": json.dumps([ShardId, start])}

    def get_records(self, *, ShardIterator: str, Limit: int) -> dict[str, Any]:
        shard_id, position = json.loads(ShardIterator)
        records = self.records[shard_id][position : position + Limit]
        end = position + len(records)
        closed = any(
            s["ShardId"] == shard_id and "EndingSequenceNumber" in s["SequenceNumberRange"]
            for s in self.shards
        )
        response: dict[str, Any] = {"Records": records}
        if not (closed and end >= len(self.records[shard_id])):
            response["NextShardIterator"] = json.dumps([shard_id, end])
        return response


def _raw(shard_id: str, sequence: int) -> dict[str, Any]:
    return {
        "eventID": f"{shard_id}-{sequence}",
        "eventName": "INSERT",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime.now(UTC),
            "Keys": {"pk": {"S": str(sequence)}},
            "NewImage": {"pk": {"S": str(sequence)}},
            "SequenceNumber": str(sequence),
            "SizeBytes": 10,
            "StreamViewType": "NEW_IMAGE",
        },
    }


def _poller(stream: ScriptedStream, position: str) -> tuple[StreamPoller, list[list[str]]]:
    delivered: list[list[str]] = []

    def invoke(function: str, event: dict[str, Any]) -> InvokeResult:
        delivered.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        return InvokeResult(True, "null", "request", 1.0)

    trigger = StreamTrigger(
        function="Relay",
        event_name="Changes",
        stream_arn=ARN,
        starting_position=position,
        batch_size=10,
        window_s=0,
        report_item_failures=True,
        bisect_on_error=False,
        max_retries=-1,
        max_record_age_s=-1,
        on_failure=None,
        filter_criteria=None,
        enabled=True,
    )
    poller = StreamPoller(
        trigger,
        ARN,
        "http://127.0.0.1:9",  # never called: the client is replaced below
        invoke,
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:Relay",
        function_version="$LATEST",
        send_failure=lambda arn, message: None,
        on_failure_arn=None,
        retry_delay=0,
        stop=threading.Event(),
    )
    poller.streams = stream
    return poller, delivered


def _drain(poller: StreamPoller) -> None:
    for _ in range(10):
        poller._poll_once()


def test_a_child_shard_is_read_only_after_its_parent_is_finished() -> None:
    # Given a closed parent shard with records, and its child shard (listed first)
    stream = ScriptedStream()
    stream.add_shard("child", [5, 6], parent="parent")
    stream.add_shard("parent", [1, 2, 3], closed=True)
    poller, delivered = _poller(stream, "TRIM_HORIZON")
    # When the poller starts from the horizon and polls
    poller.start_positions()
    _drain(poller)
    # Then the parent's records all came before any of the child's
    assert [seq for batch in delivered for seq in batch] == ["1", "2", "3", "5", "6"]


def test_shards_that_appear_later_are_read_from_their_start() -> None:
    # Given a stream read from LATEST, whose only shard already holds old records
    stream = ScriptedStream()
    stream.add_shard("first", [1, 2])
    poller, delivered = _poller(stream, "LATEST")
    poller.start_positions()
    # When the shard closes and a new one appears with records, and the poller looks again
    stream.shards[0]["SequenceNumberRange"]["EndingSequenceNumber"] = "2"
    stream.add_shard("second", [7, 8], parent="first")
    poller._discover()
    _drain(poller)
    # Then the old records were not delivered (LATEST), the new shard's were, from its start
    assert [seq for batch in delivered for seq in batch] == ["7", "8"]
    assert poller.shards["first"].ended
