"""SQS event source mappings: poll, batch, invoke, delete what succeeded.

As Lambda's poller does: up to ``BatchSize`` messages gathered for at most
``MaximumBatchingWindowInSeconds``, one SQS event per batch, and with
``ReportBatchItemFailures`` only the messages the function did not report are deleted. A failed
or timed-out invocation deletes nothing. Messages matching none of the mapping's
``FilterCriteria`` are deleted without an invocation (infra.local.filters).

One local shortcut: failed messages become visible again after ``retry_delay`` seconds instead
of the queue's visibility timeout, so a retry (and moto's redrive to the DLQ after
``maxReceiveCount``) happens within a test's patience.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from infra.local import REGION
from infra.local.filters import Predicate, compile_criteria
from infra.local.resources import boto_client
from infra.local.template import QueueTrigger
from infra.local.workers import InvokeResult

LOG = logging.getLogger("infra.local")
SyncInvoke = Callable[[str, dict[str, Any]], InvokeResult]


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """One ``Records[]`` entry of Lambda's SQS event, from a ReceiveMessage message."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    binary = value.get("BinaryValue")
    out: dict[str, Any] = {
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": [
            base64.b64encode(v).decode() for v in value.get("BinaryListValues", [])
        ],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if binary is not None:
        out["binaryValue"] = base64.b64encode(binary).decode()
    return out


def filter_view(record: dict[str, Any]) -> dict[str, Any]:
    """What Lambda matches an SQS record's filter against: a JSON body as an object."""
    try:
        body = json.loads(record["body"])
    except ValueError:
        return record
    return {**record, "body": body} if isinstance(body, dict) else record


def failed_message_ids(result: InvokeResult, batch_ids: list[str], partial: bool) -> set[str]:
    """Which messages of the batch failed, as Lambda judges the function's response."""
    everything = set(batch_ids)
    if not result.ok:
        return everything
    if not partial:
        return set()
    response = json.loads(result.payload)  # the worker produced it, so it is valid JSON
    # null, {}, [] or an empty list of failures mean "all succeeded"
    failures = response.get("batchItemFailures") if isinstance(response, dict) else response
    if not failures:
        return set()
    if not isinstance(failures, list):
        return everything
    identifiers = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
    reported = {i for i in identifiers if isinstance(i, str) and i in everything}
    if len(reported) != len(set(identifiers)):
        return everything  # an invalid report fails the whole batch, as in Lambda
    return reported


class QueuePoller(threading.Thread):
    """Polls one queue for one function (one batch in flight at a time)."""

    def __init__(
        self,
        trigger: QueueTrigger,
        queue_url: str,
        queue_arn: str,
        endpoint_url: str,
        invoke: SyncInvoke,
        *,
        retry_delay: float,
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"sqs-{trigger.function}-{trigger.event_name}", daemon=True)
        self.trigger = trigger
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.invoke = invoke
        self.retry_delay = retry_delay
        self.stop_event = stop
        self.sqs = boto_client("sqs", endpoint_url)
        self.accepts: Predicate | None = compile_criteria(trigger.filter_criteria)
        self.batches = 0
        self.filtered_out = 0

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                batch = self._collect()
                if batch and not self.stop_event.is_set():
                    self._dispatch(batch)
            except Exception:
                if self.stop_event.is_set():
                    return
                LOG.exception("%s: polling %s failed", self.name, self.queue_url)
                self.stop_event.wait(1.0)

    def _receive(self, count: int, wait: float) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=1 if wait >= 1 else 0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages and wait < 1:
            self.stop_event.wait(min(wait, 0.1))
        return messages

    def _collect(self) -> list[dict[str, Any]]:
        size, window = self.trigger.batch_size, self.trigger.window_s
        batch: list[dict[str, Any]] = []
        deadline = 0.0
        while not self.stop_event.is_set():
            wait = 1.0
            if batch:
                left = deadline - time.monotonic()
                if len(batch) >= size or left <= 0:
                    break
                wait = min(1.0, left)
            messages = self._drop_filtered(self._receive(min(10, size - len(batch)), wait))
            if messages:
                if not batch:
                    deadline = time.monotonic() + window
                batch.extend(messages)
            elif batch and window == 0:
                break
        return batch

    def _drop_filtered(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Messages matching no filter are deleted unseen, as Lambda's filtering does."""
        if self.accepts is None or not messages:
            return messages
        kept: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        for message in messages:
            record = sqs_record(message, self.queue_arn)
            (kept if self.accepts(filter_view(record)) else dropped).append(message)
        if dropped:
            self.filtered_out += len(dropped)
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(dropped)
            ]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        return kept

    def _dispatch(self, batch: list[dict[str, Any]]) -> None:
        event = {"Records": [sqs_record(message, self.queue_arn) for message in batch]}
        result = self.invoke(self.trigger.function, event)
        self.batches += 1
        if not result.ok and self.stop_event.is_set():
            # The runtime is stopping and took the environment down mid-batch: the messages
            # stay in the queue (as when Lambda shuts an environment down); not a failure.
            LOG.debug("%s: batch of %d cut off by the runtime stopping", self.name, len(batch))
            return
        ids = [message["MessageId"] for message in batch]
        failed = failed_message_ids(result, ids, self.trigger.report_item_failures)
        if not result.ok:
            LOG.warning("%s: batch of %d failed (%s)", self.name, len(batch), result.error_type)
        done = [m for m in batch if m["MessageId"] not in failed]
        retry = [m for m in batch if m["MessageId"] in failed]
        for start in range(0, len(done), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(done[start : start + 10])
            ]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        if retry:
            threading.Timer(self.retry_delay, self._make_visible, args=(retry,)).start()

    def _make_visible(self, messages: list[dict[str, Any]]) -> None:
        if self.stop_event.is_set():
            return
        for start in range(0, len(messages), 10):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(messages[start : start + 10])
            ]
            try:
                self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception:
                LOG.exception("%s: could not release failed messages", self.name)
