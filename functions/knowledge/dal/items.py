"""pynamodb items of the knowledge domain (stay inside dal/)."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)

from agenthub.table import TableItem


class DocumentItem(TableItem, discriminator="document"):
    tenant_id = UnicodeAttribute()
    agent_id = UnicodeAttribute()
    document_id = UnicodeAttribute()
    source_type = UnicodeAttribute()
    title = UnicodeAttribute()
    title_given = BooleanAttribute(null=True)
    status = UnicodeAttribute()
    file_name = UnicodeAttribute(null=True)
    source_url = UnicodeAttribute(null=True)
    content_type = UnicodeAttribute(null=True)
    size = NumberAttribute(null=True)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    chunking = JSONAttribute(default=dict)
    content_hash = UnicodeAttribute(null=True)
    indexed_hash = UnicodeAttribute(null=True)
    chunks_key = UnicodeAttribute(null=True)
    failure = JSONAttribute(null=True)
    progress = JSONAttribute(default=dict)
    usage = JSONAttribute(default=dict)
    attempts = NumberAttribute(default=0)
    import_id = UnicodeAttribute(null=True)
    import_pending = BooleanAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class ImportJobItem(TableItem, discriminator="import_job"):
    tenant_id = UnicodeAttribute()
    agent_id = UnicodeAttribute()
    import_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    url = UnicodeAttribute()
    max_pages = NumberAttribute()
    max_depth = NumberAttribute()
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    chunking = JSONAttribute(default=dict)
    status = UnicodeAttribute()
    pages_found = NumberAttribute(default=0)
    documents = NumberAttribute(default=0)
    skipped = NumberAttribute(default=0)
    indexed = NumberAttribute(default=0)
    failed = NumberAttribute(default=0)
    failure = JSONAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class IndexPointerItem(TableItem, discriminator="index_pointer"):
    tenant_id = UnicodeAttribute()
    agent_id = UnicodeAttribute()
    index_version = NumberAttribute(default=0)
    prefix = UnicodeAttribute(null=True)
    documents = NumberAttribute(default=0)
    chunks = NumberAttribute(default=0)
    embedding_model = UnicodeAttribute(null=True)
    built_at = UnicodeAttribute(null=True)
    # Coalesced builds: changes noted by ingestion and deletes, how many of them the live
    # version holds, when the one scheduled build is due (epoch seconds, absent: none) and
    # how long the last build took (it sets the next build's delay).
    changes = NumberAttribute(default=0)
    built_changes = NumberAttribute(default=0)
    build_due_at = NumberAttribute(null=True)
    build_seconds = NumberAttribute(null=True)
