"""The local runtime's queue poller when the runtime stops mid-batch."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from infra.local.sqs import QueuePoller
from infra.local.template import QueueTrigger
from infra.local.workers import InvokeResult


class RecordingSqs:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def delete_message_batch(self, **_: Any) -> None:
        self.calls.append("delete")

    def change_message_visibility_batch(self, **_: Any) -> None:
        self.calls.append("release")


def poller(stop: threading.Event, result: InvokeResult) -> tuple[QueuePoller, RecordingSqs]:
    trigger = QueueTrigger("Worker", "Jobs", "arn:aws:sqs:us-east-1:1:jobs", 10, 0.0, True, True)
    p = QueuePoller(
        trigger,
        "http://localhost/1/jobs",
        "arn:aws:sqs:us-east-1:1:jobs",
        "http://127.0.0.1:1",
        lambda function, event: result,
        retry_delay=0.0,
        stop=stop,
    )
    sqs = RecordingSqs()
    p.sqs = sqs
    return p, sqs


MESSAGE = {
    "MessageId": "m-1",
    "ReceiptHandle": "r-1",
    "Body": "{}",
    "MD5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
}
EXITED = InvokeResult(
    False,
    json.dumps({"errorMessage": "Runtime exited", "errorType": "Runtime.ExitError"}),
    "req-1",
    1.0,
)


def test_a_batch_cut_off_by_the_runtime_stopping_is_neither_a_failure_nor_deleted(caplog):
    stop = threading.Event()
    stop.set()
    p, sqs = poller(stop, EXITED)
    with caplog.at_level(logging.DEBUG, logger="infra.local"):
        p._dispatch([MESSAGE])
    assert sqs.calls == []  # left in the queue
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "cut off by the runtime stopping" in caplog.text


def test_a_batch_that_fails_while_running_is_reported_and_kept_for_a_retry(caplog):
    p, sqs = poller(threading.Event(), EXITED)
    with caplog.at_level(logging.WARNING, logger="infra.local"):
        p._dispatch([MESSAGE])
    assert "batch of 1 failed (Runtime.ExitError)" in caplog.text
    deadline = time.monotonic() + 10
    while not sqs.calls and time.monotonic() < deadline:  # the retry timer's thread
        time.sleep(0.01)
    assert sqs.calls == ["release"]  # made visible again for a retry, never deleted
