"""The moto server, in its own process (so AWS calls never take the gateway's GIL).

``python -m infra.local.moto_server --port 0`` binds, prints ``READY <port>`` and serves until
its parent goes away. Fixes to moto are applied here, all documented in docs/local-runtime.md:

- moto leaves ``account`` out of the events its EventBridge rules deliver to SQS; real
  EventBridge always sends it (Powertools' EventBridgeModel requires it).
- ``TransactWriteItems`` and DynamoDB Streams: moto writes each item's stream record as the
  transaction goes, so a cancelled transaction leaves records of writes that never happened;
  and its rollback swaps the table for a deep copy with a copied stream shard, so every open
  shard iterator goes blind to later writes. Here a transaction's stream records are written
  only when it commits, and the live shard survives a rollback. moto also deep-copies the
  whole table once per item of every transaction (its rollback backup), so a transaction
  cost grew with the table (~240 ms each at 100 documents); here the items the transaction
  names are copied instead, and put back if it is cancelled.
- S3 event notifications lack fields real S3 sends (``userIdentity``, ``requestParameters``,
  ``responseElements``, ``bucket.ownerIdentity``, ``object.sequencer``, ``object.versionId``);
  they are added, so parsers that expect S3's full record (Powertools' S3Model) work. moto
  also encodes the key's slashes (``uploads%2Fa.txt``); S3 keeps them (``uploads/a.txt``).
- a browser's CORS preflight (``OPTIONS``) to a presigned URL of an object that does not exist
  yet was judged as a signed request (403 SignatureDoesNotMatch: the preflight carries none of
  the signed headers); S3 answers preflights from the bucket's CORS rules alone.
- consumed stream iterators are forgotten beyond the newest 10,000 (moto keeps every one, and
  a poller makes four a second).
- request logging is off: one line per AWS call drowns the function logs.

And made faster where it spends CPU for nothing (same answers): DynamoDB item answers and
stream records written with json.dumps instead of a walk over botocore's shapes, rule targets
filled without compiling jsonpath per event, SQS's clock and retention check without
counting the backlog per message, the service of a request found without listing moto's
package directory each time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

READY = "READY"


@dataclass
class MotoProcess:
    """A running moto server child process."""

    process: subprocess.Popen[str]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the server (and wait for it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_moto(port: int = 0, *, startup_timeout: float = 30.0) -> MotoProcess:
    """Start a moto server on 127.0.0.1:``port`` (0 = a free port) and wait until it serves."""
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local.moto_server", "--port", str(port)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        # Own session: Ctrl+C in a terminal reaches the runtime, which then stops moto cleanly.
        start_new_session=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    line = _read_line(process.stdout, startup_timeout)
    if not line.startswith(READY):
        process.kill()
        raise RuntimeError(f"moto server did not start: {line!r}")
    return MotoProcess(process, int(line.split()[1]))


def _read_line(stream: IO[str] | None, timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline() if stream else ""))
    reader.daemon = True
    reader.start()
    reader.join(timeout)
    return result[0].strip() if result else "timeout"


def _patch_moto() -> None:
    from moto.events.utils import EventTemplateParser

    EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = (
        '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
        '"account": "<account>", "time": <time>, "region": "<region>", '
        '"resources": <resources>, "detail": <detail>}'
    )


def _patch_transactions() -> None:
    import copy

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard, Table

    pending = threading.local()  # the stream records of the transaction on this thread
    add_record = StreamShard.add
    transact = DynamoDBBackend.transact_write_items

    def add(self: StreamShard, old: Any, new: Any) -> None:
        records = getattr(pending, "records", None)
        if records is None:
            add_record(self, old, new)
        else:
            records.append((self, old, new))

    def deepcopy_shard(self: StreamShard, memo: dict[int, Any]) -> Any:
        if getattr(pending, "records", None) is not None:
            return self  # the transaction's backup table keeps the live shard
        clone = StreamShard.__new__(StreamShard)
        memo[id(self)] = clone
        clone.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return clone

    def deepcopy_table(self: Table, memo: dict[int, Any]) -> Any:
        if getattr(pending, "records", None) is not None:
            return self  # no whole-table backup: the transaction's undo log restores its items
        clone = Table.__new__(Table)
        memo[id(self)] = clone
        clone.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return clone

    def transact_write_items(self: DynamoDBBackend, transact_items: list) -> None:
        pending.records = []
        undo = _undo_log(self, transact_items)
        try:
            transact(self, transact_items)
            committed = pending.records
        except Exception:
            _rollback(undo)
            raise
        finally:
            pending.records = None
            for table in self.tables.values():  # after a rollback: point the shard home
                if table.stream_shard is not None:
                    table.stream_shard.table = table
        for shard, old, new in committed:
            add_record(shard, old, new)

    StreamShard.add = add  # type: ignore[method-assign]
    StreamShard.__deepcopy__ = deepcopy_shard  # type: ignore[attr-defined]
    Table.__deepcopy__ = deepcopy_table  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _undo_log(backend: Any, transact_items: list) -> list[tuple[Any, Any, Any, Any]]:
    """(table, hash, range, a copy of the item or None) for every item the transaction names,
    taken before it runs: what a cancelled transaction puts back."""
    import copy

    from moto.dynamodb.models.dynamo_type import DynamoType

    saved = []
    for entry in transact_items:
        op = next(iter(entry.values()), None)
        if not isinstance(op, dict):
            continue
        table = backend.tables.get(op.get("TableName"))
        key = op.get("Key") or op.get("Item")
        if table is None or not key or table.hash_key_attr not in key:
            continue  # moto refuses it before writing anything
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = None
        if table.range_key_attr is not None:
            if table.range_key_attr not in key:
                continue
            range_value = DynamoType(key[table.range_key_attr])
        current = table.get_item(hash_value, range_value)
        saved.append((table, hash_value, range_value, copy.deepcopy(current)))
    return saved


def _rollback(undo: list[tuple[Any, Any, Any, Any]]) -> None:
    for table, hash_value, range_value, item in reversed(undo):
        _restore(table, hash_value, range_value, item)


def _restore(table: Any, hash_value: Any, range_value: Any, item: Any) -> None:
    if range_value is None:
        if item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item
        return
    if item is None:
        table.items[hash_value].pop(range_value, None)
        if not table.items[hash_value]:
            del table.items[hash_value]
    else:
        table.items[hash_value][range_value] = item


def _serialize_dynamodb() -> None:
    """One DynamoDB (and DynamoDB Streams) request at a time. moto's threaded server lets a
    TransactWriteItems deep-copy every table (its rollback copy) while another thread writes
    to one of them ("dictionary changed size during iteration"); DynamoDB itself never shows
    such a state, so the local emulation must not either."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    lock = threading.RLock()
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        original = handler.call_action

        def call_action(self: Any, _original: Any = original) -> Any:
            with lock:
                return _original(self)

        handler.call_action = call_action  # type: ignore[method-assign]


# DynamoDB operations whose answer is items and counts, nothing the wire shape reformats
# beyond binary values (base64) and absent members.
_DATA_PLANE = frozenset(
    {
        "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
        "BatchWriteItem", "TransactGetItems", "TransactWriteItems",
    }
)  # fmt: skip


def _patch_dynamodb_answers() -> None:
    """moto serializes every DynamoDB answer by walking botocore's shape of the operation,
    value by value: ~30% of the server's CPU while a site import runs (item answers, and the
    stream records the relay reads four times a second). Those answers are already DynamoDB
    JSON apart from binary values (bytes, sent as base64), times (datetimes, sent as epoch
    seconds), absent members (None, left out) and members the operation does not have
    (moto adds some): they are written with json.dumps. Errors and the control plane
    (tables, TTL, stream descriptions) keep moto's serializer."""
    import base64
    import calendar
    import datetime
    import functools

    from moto.core.responses import get_service_model
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    @functools.cache
    def members(service: str, action: str) -> frozenset[str]:
        shape = get_service_model(service).operation_model(action).output_shape
        return frozenset(shape.members if shape is not None else ())

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, bytes):
            return base64.b64encode(value).decode("ascii")
        if isinstance(value, datetime.datetime):
            seconds = calendar.timegm(value.timetuple())  # milliseconds, truncated, as moto
            return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds
        return value

    for handler, service, actions in (
        (DynamoHandler, "dynamodb", _DATA_PLANE),
        (DynamoDBStreamsHandler, "dynamodbstreams", frozenset({"GetRecords"})),
    ):
        original = handler.serialized

        def serialized(
            self: Any,
            action_result: Any,
            _original: Any = original,
            _service: str = service,
            _actions: frozenset[str] = actions,
        ) -> Any:
            result, action = action_result.result, self._get_action()
            if not isinstance(result, dict) or action not in _actions:
                return _original(self, action_result)
            known = members(_service, action)
            body = json.dumps(plain({k: v for k, v in result.items() if k in known}))
            headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
            return 200, headers, body

        handler.serialized = serialized  # type: ignore[method-assign]


def _patch_dispatch() -> None:
    """moto finds a request's service by listing its own package directory (an isdir per
    entry, ~180 of them) on every request: listed once here."""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


def _patch_sqs_retention() -> None:
    """ReceiveMessage checks each message's retention period through GetQueueAttributes,
    which counts the queue's messages for its other attributes: O(messages²) per receive on
    a queue with a backlog (a site import's 50 batches). Read the one attribute instead."""
    from moto.sqs.models import SQSBackend

    def valid(self: SQSBackend, queue_name: str, message: Any) -> bool:
        queue: Any = self.get_queue(queue_name)  # its attributes are set from the API's names
        retention = int(queue.message_retention_period)
        return retention + message.sent_timestamp / 1000 > time.time()

    SQSBackend.is_message_valid_based_on_retention_period = valid  # type: ignore[method-assign]


def _patch_sqs_clock() -> None:
    """SQS reads the clock for every message it looks at (visible? delayed?), through a
    datetime round trip (utcnow minus the epoch); counting a backlog's messages, which every
    SendMessage does for the queue's attributes, made ~15% of the server's CPU. The same
    epoch time from time.time()."""
    from moto.sqs import models

    slow, slow_millis = models.unix_time, models.unix_time_millis

    def unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else slow(dt)

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else slow_millis(dt)

    models.unix_time, models.unix_time_millis = unix_time, unix_time_millis


def _patch_event_targets() -> None:
    """moto fills a rule target's input template (its default one, or an archive's) from
    paths it compiles with jsonpath, a yacc grammar built anew for every path of every event
    and target: ~18% of the server's CPU while the outbox relays a site import's events.
    Simple paths ("$.detail", "$.detail.agent_id") are read from the event's keys here, with
    moto's own replacement rules; any other path still goes through jsonpath."""
    from moto.events.utils import EventTemplateParser as Parser

    transform = Parser.parse
    simple = re.compile(r"^\$(?:\.[A-Za-z0-9_-]+)+$")
    missing = object()

    def lookup(event: Any, path: str) -> Any:
        value = event
        for key in path.split(".")[1:]:
            if not isinstance(value, dict) or key not in value:
                return missing
            value = value[key]
        return value

    def parse(input_template: Any, input_paths_map: Any, event: Any) -> Any:
        paths = input_paths_map or Parser.DEFAULT_EVENT_INPUT_PATHS_MAP
        if not all(isinstance(p, str) and simple.match(p) for p in paths.values()):
            return transform(input_template, input_paths_map, event)
        template = input_template or Parser.DEFAULT_EVENT_INPUT_TEMPLATE
        for name, path in paths.items():
            value = lookup(event, path)
            result = Parser._stringify(value) if value is not missing else None
            if result:
                template = template.replace(f"<{name}>", result)
        defaults = {
            "aws.events.event.json": event,
            "aws.events.event.ingestion-time": event["ingestion-time"],
        }
        for name, value in defaults.items():
            template = template.replace(f"<{name}>", Parser._stringify(value))
        return json.loads(template)

    Parser.parse = staticmethod(parse)  # type: ignore[method-assign]


def _patch_s3_notifications() -> None:
    import itertools
    from urllib.parse import quote_plus

    from moto.s3 import notifications

    build = notifications._get_s3_event
    sequencer = itertools.count(0x0055AED6DCD90281E5)

    def complete(event_name: str, bucket: Any, key: Any, notification_id: str) -> Any:
        event = build(event_name, bucket, key, notification_id)
        for record in event["Records"]:
            record.setdefault("userIdentity", {"principalId": "AWS:AIDALOCALRUNTIME"})
            record.setdefault("requestParameters", {"sourceIPAddress": "127.0.0.1"})
            record.setdefault(
                "responseElements",
                {"x-amz-request-id": "LOCALREQUEST0000", "x-amz-id-2": "local/runtime"},
            )
            s3 = record["s3"]
            s3["bucket"].setdefault("ownerIdentity", {"principalId": "LOCALOWNER"})
            s3["object"]["key"] = quote_plus(key.name, safe="/")
            s3["object"].setdefault("sequencer", f"{next(sequencer):018X}")
            version = getattr(key, "version_id", None)
            if version and version != "null":
                s3["object"].setdefault("versionId", version)
        return event

    notifications._get_s3_event = complete


def _patch_s3_preflight() -> None:
    from moto.s3.responses import S3Response

    key_response = S3Response._key_response

    def preflight_first(self: S3Response, request: Any, full_url: str) -> Any:
        if request.method == "OPTIONS":
            bucket = self.parse_bucket_name_from_url(request, full_url)
            return self._response_options(request.headers, bucket)
        return key_response(self, request, full_url)

    S3Response._key_response = preflight_first  # type: ignore[method-assign]


def _patch_stream_iterators(keep: int = 10_000) -> None:
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    get_records = DynamoDBStreamsBackend.get_records

    def bounded(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> Any:
        result = get_records(self, iterator_arn, limit)
        while len(self.shard_iterators) > keep:  # dicts keep insertion order: oldest first
            del self.shard_iterators[next(iter(self.shard_iterators))]
        return result

    DynamoDBStreamsBackend.get_records = bounded  # type: ignore[method-assign]


# What the provisioner creates; loading these before READY overlaps with the runtime reading
# the template instead of delaying the first create call. (SSM loads slowly: on demand.)
PRELOAD = (
    "dynamodb",
    "dynamodbstreams",
    "sqs",
    "sns",
    "s3",
    "secretsmanager",
    "events",
    "logs",
)


def _preload(app: Any, create_backend_app: Any) -> None:
    from moto.backends import get_backend

    from infra.local import ACCOUNT_ID, REGION

    for service in PRELOAD:
        app.app_instances[service] = create_backend_app(service)
        backends = get_backend(service)[ACCOUNT_ID]  # type: ignore[call-overload]
        # Global services (S3) are keyed by partition, the others by region.
        backends[REGION if REGION in backends.regions else "aws"]


def _watch_parent(parent_pid: int) -> None:
    # If the runtime dies without stopping us (kill -9), exit instead of lingering.
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    _patch_moto()
    _patch_transactions()
    _serialize_dynamodb()
    _patch_dynamodb_answers()
    _patch_dispatch()
    _patch_sqs_retention()
    _patch_sqs_clock()
    _patch_event_targets()
    _patch_s3_notifications()
    _patch_s3_preflight()
    _patch_stream_iterators()

    class QuietHandler(MotoRequestHandler):
        def log_request(self, *args: object, **kwargs: object) -> None:
            pass

    app = DomainDispatcherApplication(create_backend_app)
    _preload(app, create_backend_app)
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=QuietHandler)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    print(f"{READY} {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
