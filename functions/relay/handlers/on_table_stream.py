"""Outbox relay: publishes the domain events that mutations staged in the table (see
agenthub.outbox) from the table's stream to the EventBridge bus.

The event source mapping only delivers INSERTs of outbox items (FilterCriteria); anything else
is skipped defensively. Entries go out in PutEvents batches of ten, in stream order; when a
batch still fails after the publisher's retries, its first record is reported as the batch
item failure, so Lambda resumes from there (records before it are checkpointed). Publishing is
at least once: every consumer is idempotent on the event id.
"""

from __future__ import annotations

from typing import Any

from agenthub.events import MAX_ENTRIES_PER_CALL, EventPublishError, publisher
from agenthub.observability import logger
from agenthub.outbox import entry_from_image
from agenthub.runtime import entry
from agenthub.settings import BaseSettings


class RelaySettings(BaseSettings):
    pass


@entry(RelaySettings)
def handler(event: dict[str, Any], context: Any, settings: RelaySettings) -> dict[str, Any]:
    pending: list[tuple[str, dict[str, Any]]] = []
    for record in event.get("Records", []):
        stream = record.get("dynamodb", {})
        sequence = str(stream.get("SequenceNumber", ""))
        if record.get("eventName") != "INSERT":
            continue
        try:
            entry = entry_from_image(stream.get("NewImage", {}), settings.event_bus_name)
        except (KeyError, ValueError):
            # A malformed outbox item can never be published; retrying would block the shard.
            logger().error("malformed outbox item skipped", extra={"sequence": sequence})
            continue
        if entry is not None:
            pending.append((sequence, entry))

    bus = publisher(settings.event_bus_name)
    for start in range(0, len(pending), MAX_ENTRIES_PER_CALL):
        chunk = pending[start : start + MAX_ENTRIES_PER_CALL]
        try:
            bus.publish_entries([entry for _, entry in chunk])
        except EventPublishError:
            logger().exception("outbox relay could not publish", extra={"from": chunk[0][0]})
            return {"batchItemFailures": [{"itemIdentifier": chunk[0][0]}]}
    return {"batchItemFailures": []}
