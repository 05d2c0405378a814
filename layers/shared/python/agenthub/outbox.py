"""Transactional outbox: a domain event is written in the same DynamoDB transaction as the
change it reports, so the two happen together or not at all. The table's stream carries each
outbox item to the relay function (relay.handlers.on_table_stream), which publishes it on the
bus; outbox items expire after a day through the table's TTL.

A request that changes something therefore makes one DynamoDB call (a TransactWriteItems) and
no EventBridge call, and a failure between "saved" and "published" cannot lose the event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import JSONAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from agenthub.errors import AppError, is_condition_failure
from agenthub.events import DomainEvent
from agenthub.keys import outbox_pk
from agenthub.table import TableItem

ENTITY = "outbox"
KEEP_FOR = timedelta(days=1)


class OutboxItem(TableItem, discriminator=ENTITY):
    event_id = UnicodeAttribute()
    source = UnicodeAttribute()
    detail_type = UnicodeAttribute()
    detail = JSONAttribute()


def outbox_item(event: DomainEvent) -> OutboxItem:
    entry = event.to_entry("")
    return OutboxItem(
        pk=outbox_pk(event.tenant_id),
        sk=f"{event.occurred_at}#{event.event_id}",
        event_id=event.event_id,
        source=entry["Source"],
        detail_type=entry["DetailType"],
        detail=_json(entry["Detail"]),
        expires_at=datetime.now(UTC) + KEEP_FOR,
    )


def _json(text: str) -> Any:
    import json

    return json.loads(text)


def write(
    build: Callable[[TransactWrite], None],
    events: Sequence[DomainEvent],
    *,
    on_condition_failure: AppError | None = None,
) -> None:
    """Run ``build``'s operations and stage ``events`` in one DynamoDB transaction (at most
    100 operations in all). A failed condition raises ``on_condition_failure`` when given;
    otherwise (and for every other fault) pynamodb's TransactWriteError propagates, for
    callers that tell failed conditions apart with ``agenthub.errors.is_condition_failure``."""
    try:
        with TransactWrite(connection=TableItem._get_connection().connection) as transaction:
            build(transaction)
            for event in events:
                transaction.save(outbox_item(event), condition=OutboxItem.pk.does_not_exist())
    except TransactWriteError as exc:
        if on_condition_failure is not None and is_condition_failure(exc):
            raise on_condition_failure from exc
        raise


def entry_from_image(image: dict[str, Any], bus_name: str) -> dict[str, Any] | None:
    """The PutEvents entry stored in an outbox item's stream image (DynamoDB JSON), or None
    for any other item."""
    import json

    if image.get("entity", {}).get("S") != ENTITY:
        return None
    detail = image["detail"]["S"]
    json.loads(detail)  # a corrupt item fails here, not at EventBridge
    return {
        "Source": image["source"]["S"],
        "DetailType": image["detail_type"]["S"],
        "Detail": detail,
        "EventBusName": bus_name,
    }
