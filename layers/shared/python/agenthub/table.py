"""pynamodb base for the single table.

The table name is bound when settings load (``bind_table``), not at import time. Entities
share one table through pynamodb's discriminator (``entity`` attribute). pynamodb classes
stay inside each domain's ``dal/``; the dal returns pydantic models.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    DiscriminatorAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from agenthub.environment import on_reset

TTL_ATTRIBUTE = "expires_at"
GSI1_NAME = "gsi1"


class Gsi1(GlobalSecondaryIndex[Any]):
    class Meta:
        index_name = GSI1_NAME
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class TableItem(Model):
    """Base of every item: generic keys, the discriminator, optional gsi1 keys and TTL."""

    class Meta:
        table_name = "unbound"  # replaced by bind_table() before first use
        # Fail fast: a request must not hang on a slow table (Lambda's timeout is longer).
        connect_timeout_seconds = 2
        read_timeout_seconds = 4
        max_retry_attempts = 2

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    entity = DiscriminatorAttribute(attr_name="entity")
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True, attr_name=TTL_ATTRIBUTE)
    version = NumberAttribute(default=1)

    gsi1 = Gsi1()


def bind_table(table_name: str) -> None:
    """Point the table base (and so every entity) at ``table_name``, with new connections; a
    no-op when it already is."""
    if TableItem.Meta.table_name != table_name:
        _rebind(table_name)


def _rebind(table_name: str) -> None:
    TableItem.Meta.table_name = table_name
    for cls in _all_subclasses(TableItem):
        cls.Meta.table_name = table_name
        cls._connection = None
    TableItem._connection = None
    Gsi1._connection = None  # type: ignore[attr-defined]


on_reset(lambda: _rebind("unbound"), cold=True)


def _all_subclasses(cls: type[TableItem]) -> list[type[TableItem]]:
    found: list[type[TableItem]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


def delete_partition(pk: str) -> int:
    """Delete every item of partition ``pk`` (BatchWriteItem, 25 at a time); the count.
    Idempotent: an empty or missing partition deletes nothing."""
    deleted = 0
    with TableItem.batch_write() as batch:
        for item in TableItem.query(pk, attributes_to_get=["pk", "sk"]):
            batch.delete(item)
            deleted += 1
    return deleted
