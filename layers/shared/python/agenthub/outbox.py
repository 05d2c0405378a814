"""Transactional outbox: a domain event is written in the same DynamoDB transaction as the
change it reports, so the two happen together or not at all. The table's stream carries each
outbox item to the relay function (relay.handlers.on_table_stream), which publishes it on the
bus; outbox items expire after a day through the table's TTL.

A request that changes something therefore makes one DynamoDB call (a TransactWriteItems) and
no EventBridge call, and a failure between "saved" and "published" cannot lose the event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Required:
    """An item that must still exist when a transaction commits (a ConditionCheck in it), and
    the error to raise when it does not: e.g. the agent a conversation is written for."""

    pk: str
    sk: str
    missing: AppError


class _KeyedTransactWrite(TransactWrite):
    def sent_keys(self) -> list[tuple[str, str]]:
        """The (pk, sk) of every operation in the order TransactItems are sent: pynamodb
        groups them as condition checks, deletes, puts, updates, whatever the build order
        (so cancellation reasons cannot be read by the position of a call in ``build``)."""
        operations = [
            *self._condition_check_items,
            *self._delete_items,
            *self._put_items,
            *self._update_items,
        ]
        return [_key_of(operation) for operation in operations]


def _key_of(operation: dict[str, Any]) -> tuple[str, str]:
    item = operation.get("Key") or operation["Item"]
    return item["pk"]["S"], item["sk"]["S"]


def failed_keys(exc: TransactWriteError) -> frozenset[tuple[str, str]]:
    """The (pk, sk) of the items whose condition failed in a transaction ``write`` ran."""
    return getattr(exc, "failed_keys", frozenset())


def write(
    build: Callable[[TransactWrite], None],
    events: Sequence[DomainEvent],
    *,
    on_condition_failure: AppError | None = None,
    requires: Sequence[Required] = (),
) -> None:
    """Run ``build``'s operations and stage ``events`` in one DynamoDB transaction (at most
    100 operations in all), on the condition that every item ``requires`` names still exists
    (its ``missing`` error is raised first when one does not). A failed condition raises
    ``on_condition_failure`` when given; otherwise (and for every other fault) pynamodb's
    TransactWriteError propagates, carrying ``failed_keys(exc)``: which items' conditions
    failed, by identity."""
    transaction = _KeyedTransactWrite(connection=TableItem._get_connection().connection)
    try:
        with transaction:
            for required in requires:
                transaction.condition_check(
                    TableItem, required.pk, required.sk, condition=TableItem.pk.exists()
                )
            build(transaction)
            for event in events:
                transaction.save(outbox_item(event), condition=OutboxItem.pk.does_not_exist())
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        failed = frozenset(
            key
            for key, reason in zip(transaction.sent_keys(), reasons, strict=False)
            if reason is not None and reason.code == "ConditionalCheckFailed"
        )
        exc.failed_keys = failed  # type: ignore[attr-defined]
        for required in requires:
            if (required.pk, required.sk) in failed:
                raise required.missing from exc
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
