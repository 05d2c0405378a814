"""DynamoDB Streams event source mappings: poll the table's stream, filter, batch, invoke,
checkpoint, retry, and give up into the on-failure destination, as Lambda's poller does.

Per mapping, one thread walks the stream's shards (``describe_stream``; a shard whose parent
is still being read waits for it; shards that appear later are read from their start). Each
shard is read with ``get_records`` from ``StartingPosition`` (LATEST: from when the runtime
started). Records become Lambda's DynamoDB event records, ``FilterCriteria`` drops the ones
that match no filter, and the rest are batched: up to ``BatchSize``, gathered for at most
``MaximumBatchingWindowInSeconds`` since the first one arrived. One batch per shard is in
flight at a time, in sequence order.

Failures, as Lambda handles them for streams:

- the function raises or times out: the whole batch failed; with
  ``BisectBatchOnFunctionError`` it is split in two and each half retried on its own;
- with ``ReportBatchItemFailures``, the lowest reported ``itemIdentifier`` (a sequence number)
  is the checkpoint: the records before it are done, the batch is retried from it; an empty or
  null list is success, an unknown or empty identifier fails the whole batch;
- after ``MaximumRetryAttempts`` retries (a split counts as one), or once the oldest record is
  older than ``MaximumRecordAgeInSeconds``, the records still failing are skipped and Lambda's
  invocation record (``DDBStreamBatchInfo``: shard, first and last sequence number, batch size;
  not the records themselves) goes to ``DestinationConfig.OnFailure`` (SQS or SNS). Without
  limits (-1, the default) a failing batch is retried until it succeeds, which blocks its
  shard, as in Lambda.

Local shortcut: a retry happens after ``retry_delay`` seconds (Lambda backs off further).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra.local import REGION
from infra.local.filters import Predicate, compile_criteria
from infra.local.resources import boto_client
from infra.local.template import StreamTrigger
from infra.local.workers import InvokeResult

LOG = logging.getLogger("infra.local")
SyncInvoke = Callable[[str, dict[str, Any]], InvokeResult]
SendFailure = Callable[[str, dict[str, Any]], None]
POLL_INTERVAL_S = 0.25  # Lambda polls a stream's shards four times a second
DISCOVERY_INTERVAL_S = 5.0


def _plain(value: Any) -> Any:
    """botocore's parsed attribute values → the JSON Lambda sends (binary as base64)."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(item) for item in value]
    return value


def stream_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """One ``Records[]`` entry of Lambda's DynamoDB Streams event, from a GetRecords record."""
    source = raw["dynamodb"]
    created = source.get("ApproximateCreationDateTime")
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": int(created.timestamp())
        if isinstance(created, datetime)
        else created,
        "Keys": _plain(source.get("Keys", {})),
    }
    for image in ("NewImage", "OldImage"):
        if image in source:
            dynamodb[image] = _plain(source[image])
    dynamodb["SequenceNumber"] = source["SequenceNumber"]
    dynamodb["SizeBytes"] = source.get("SizeBytes", 0)
    dynamodb["StreamViewType"] = source.get("StreamViewType")
    record: dict[str, Any] = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": raw.get("awsRegion") or REGION,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in raw:  # TTL deletions
        record["userIdentity"] = raw["userIdentity"]
    return record


def first_failed_index(
    result: InvokeResult, records: list[dict[str, Any]], partial: bool
) -> int | None:
    """Where the batch failed (the checkpoint to retry from), or None when it succeeded."""
    if not result.ok:
        return 0
    if not partial:
        return None
    response = json.loads(result.payload)
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return None  # null, {}, a missing or empty list: success
    if not isinstance(failures, list):
        return 0
    positions = {r["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(records)}
    indexes = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in positions:
            return 0  # an invalid report fails the whole batch, as in Lambda
        indexes.append(positions[identifier])
    return min(indexes)


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def failure_record(
    *,
    records: list[dict[str, Any]],
    shard_id: str,
    stream_arn: str,
    condition: str,
    invoke_count: int,
    result: InvokeResult,
    function_arn: str,
    version: str,
) -> dict[str, Any]:
    """The invocation record Lambda sends to an on-failure destination for a stream batch."""
    response: dict[str, Any] = {"statusCode": 200, "executedVersion": version}
    if not result.ok:
        response["functionError"] = "Unhandled"
    first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
    return {
        "requestContext": {
            "requestId": result.request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first["SequenceNumber"],
            "endSequenceNumber": last["SequenceNumber"],
            "approximateArrivalOfFirstRecord": _iso(first.get("ApproximateCreationDateTime")),
            "approximateArrivalOfLastRecord": _iso(last.get("ApproximateCreationDateTime")),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


@dataclass
class _Shard:
    shard_id: str
    parent_id: str | None
    iterator: str | None = None
    last_sequence: str | None = None
    ended: bool = False  # read to its end (a closed shard); its children may start
    buffer: deque[tuple[float, dict[str, Any]]] = field(default_factory=deque)


class StreamPoller(threading.Thread):
    """Polls one DynamoDB stream for one function."""

    def __init__(
        self,
        trigger: StreamTrigger,
        stream_arn: str,
        endpoint_url: str,
        invoke: SyncInvoke,
        *,
        function_arn: str,
        function_version: str,
        send_failure: SendFailure,
        on_failure_arn: str | None,
        retry_delay: float,
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"ddb-{trigger.function}-{trigger.event_name}", daemon=True)
        self.trigger = trigger
        self.stream_arn = stream_arn
        self.invoke = invoke
        self.function_arn = function_arn
        self.function_version = function_version
        self.send_failure = send_failure
        self.on_failure_arn = on_failure_arn
        self.retry_delay = retry_delay
        self.stop_event = stop
        self.accepts: Predicate | None = compile_criteria(trigger.filter_criteria)
        self.streams = boto_client("dynamodbstreams", endpoint_url)
        self.shards: dict[str, _Shard] = {}
        self.ready = threading.Event()  # set once the starting positions are taken
        self.batches = 0
        self.filtered_out = 0
        self.discarded = 0
        self._next_discovery = 0.0

    # ------------------------------------------------------------------ shards
    def start_positions(self) -> None:
        """Take the starting iterators now (LATEST means "from now"), before records flow."""
        self._discover(initial=True)
        self.ready.set()

    def _discover(self, *, initial: bool = False) -> None:
        self._next_discovery = time.monotonic() + DISCOVERY_INTERVAL_S
        described: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            page = self.streams.describe_stream(**kwargs)["StreamDescription"]
            described.extend(page.get("Shards", []))
            if not page.get("LastEvaluatedShardId"):
                break
            kwargs["ExclusiveStartShardId"] = page["LastEvaluatedShardId"]
        for data in described:
            shard_id = data["ShardId"]
            if shard_id in self.shards:
                continue
            shard = _Shard(shard_id, data.get("ParentShardId"))
            closed = "EndingSequenceNumber" in data.get("SequenceNumberRange", {})
            if initial and self.trigger.starting_position == "LATEST":
                if closed:
                    shard.ended = True  # nothing new will ever come from it
                else:
                    shard.iterator = self._iterator(shard_id, "LATEST")
            else:
                # TRIM_HORIZON, or a shard that appeared while we ran: all of it is new to us.
                shard.iterator = self._iterator(shard_id, "TRIM_HORIZON")
            self.shards[shard_id] = shard

    def _iterator(self, shard_id: str, kind: str, sequence: str | None = None) -> str | None:
        kwargs: dict[str, Any] = {
            "StreamArn": self.stream_arn,
            "ShardId": shard_id,
            "ShardIteratorType": kind,
        }
        if sequence is not None:
            kwargs["SequenceNumber"] = sequence
        return self.streams.get_shard_iterator(**kwargs).get("ShardIterator")

    def _may_read(self, shard: _Shard) -> bool:
        parent = self.shards.get(shard.parent_id or "")
        return parent is None or (parent.ended and not parent.buffer)

    def _read(self, shard: _Shard) -> None:
        try:
            response = self.streams.get_records(
                ShardIterator=shard.iterator, Limit=max(100, self.trigger.batch_size)
            )
        except Exception:
            # An expired or unknown iterator: continue after the last record we saw.
            LOG.debug("%s: re-acquiring the iterator of %s", self.name, shard.shard_id)
            if shard.last_sequence is not None:
                shard.iterator = self._iterator(
                    shard.shard_id, "AFTER_SEQUENCE_NUMBER", shard.last_sequence
                )
            else:
                shard.iterator = self._iterator(shard.shard_id, "TRIM_HORIZON")
            return
        shard.iterator = response.get("NextShardIterator")
        if shard.iterator is None:
            shard.ended = True
        now = time.monotonic()
        for raw in response.get("Records", []):
            record = stream_record(raw, self.stream_arn)
            shard.last_sequence = record["dynamodb"]["SequenceNumber"]
            if self.accepts is not None and not self.accepts(record):
                self.filtered_out += 1
                continue
            shard.buffer.append((now, record))

    def _due(self, shard: _Shard) -> bool:
        if not shard.buffer:
            return False
        if len(shard.buffer) >= self.trigger.batch_size or shard.iterator is None:
            return True
        return time.monotonic() - shard.buffer[0][0] >= self.trigger.window_s

    # ------------------------------------------------------------------ loop
    def run(self) -> None:
        while not self.ready.is_set() and not self.stop_event.is_set():
            try:
                self.start_positions()
            except Exception:
                LOG.exception("%s: cannot read stream %s", self.name, self.stream_arn)
                self.stop_event.wait(1.0)
        while not self.stop_event.is_set():
            try:
                if time.monotonic() >= self._next_discovery:
                    self._discover()
                if not self._poll_once():
                    self.stop_event.wait(POLL_INTERVAL_S)
            except Exception:
                if self.stop_event.is_set():
                    return
                LOG.exception("%s: polling %s failed", self.name, self.stream_arn)
                self.stop_event.wait(1.0)

    def _poll_once(self) -> bool:
        """Read every readable shard and deliver due batches; True when a batch went out."""
        delivered = False
        for shard in list(self.shards.values()):
            if not self._may_read(shard):
                continue
            if shard.iterator is not None and len(shard.buffer) < self.trigger.batch_size:
                self._read(shard)
            while self._due(shard) and not self.stop_event.is_set():
                size = min(self.trigger.batch_size, len(shard.buffer))
                self._deliver(shard, [shard.buffer.popleft()[1] for _ in range(size)])
                delivered = True
        return delivered

    # ------------------------------------------------------------------ delivery
    def _deliver(self, shard: _Shard, batch: list[dict[str, Any]]) -> None:
        """Invoke until every record of ``batch`` succeeded or was given up on."""
        work: deque[tuple[list[dict[str, Any]], int]] = deque([(batch, 0)])
        trigger = self.trigger
        while work and not self.stop_event.is_set():
            records, retries = work.popleft()
            result = self.invoke(trigger.function, {"Records": records})
            self.batches += 1
            if not result.ok and self.stop_event.is_set():
                # Cut off by the runtime stopping: not a failure, nothing to give up on.
                LOG.debug(
                    "%s: batch of %d cut off by the runtime stopping", self.name, len(records)
                )
                return
            failed_at = first_failed_index(result, records, trigger.report_item_failures)
            if failed_at is None:
                continue
            remaining = records[failed_at:]
            if not result.ok:
                LOG.warning(
                    "%s: batch of %d failed (%s)", self.name, len(records), result.error_type
                )
            condition = self._give_up(remaining, retries)
            if condition is not None:
                self._discard(shard, remaining, condition, retries + 1, result)
                continue
            if trigger.bisect_on_error and not result.ok and len(remaining) > 1:
                middle = len(remaining) // 2
                work.appendleft((remaining[middle:], retries + 1))
                work.appendleft((remaining[:middle], retries + 1))
            else:
                self.stop_event.wait(self.retry_delay)
                work.appendleft((remaining, retries + 1))

    def _give_up(self, records: list[dict[str, Any]], retries: int) -> str | None:
        max_age = self.trigger.max_record_age_s
        created = records[0]["dynamodb"].get("ApproximateCreationDateTime")
        if max_age >= 0 and isinstance(created, int | float) and time.time() - created > max_age:
            return "RecordAgeExceeded"
        if 0 <= self.trigger.max_retries <= retries:
            return "RetryAttemptsExhausted"
        return None

    def _discard(
        self,
        shard: _Shard,
        records: list[dict[str, Any]],
        condition: str,
        invoke_count: int,
        result: InvokeResult,
    ) -> None:
        self.discarded += len(records)
        LOG.warning(
            "%s: %s; skipping %d record(s) from %s",
            self.name,
            condition,
            len(records),
            records[0]["dynamodb"]["SequenceNumber"],
        )
        if self.on_failure_arn is None:
            return
        message = failure_record(
            records=records,
            shard_id=shard.shard_id,
            stream_arn=self.stream_arn,
            condition=condition,
            invoke_count=invoke_count,
            result=result,
            function_arn=self.function_arn,
            version=self.function_version,
        )
        try:
            self.send_failure(self.on_failure_arn, message)
        except Exception:
            LOG.exception("%s: could not send to %s", self.name, self.on_failure_arn)
