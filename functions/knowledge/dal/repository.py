"""Knowledge persistence: documents and the index pointer in the table, content and index
artifacts in S3. The only module of this domain that touches DynamoDB or S3."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action

from agenthub import keys, outbox
from agenthub.clients import client
from agenthub.errors import Conflict, NotFound, is_condition_failure
from agenthub.events import DomainEvent, utc_now_iso
from agenthub.table import delete_partition
from knowledge.dal.items import DocumentItem, ImportJobItem, IndexPointerItem
from knowledge.models import (
    Document,
    Failure,
    ImportCounts,
    ImportJob,
    IndexPointer,
    IngestionWorkItem,
    Progress,
    Usage,
)


# ---------------------------------------------------------------- documents
def _document(item: DocumentItem) -> Document:
    return Document(
        id=item.document_id,
        tenant_id=item.tenant_id,
        agent_id=item.agent_id,
        type=item.source_type,
        title=item.title,
        title_given=bool(item.title_given),
        status=item.status,
        file_name=item.file_name,
        source_url=item.source_url,
        content_type=item.content_type,
        size=int(item.size) if item.size is not None else None,
        tags=list(item.tags or []),
        chunking=dict(item.chunking or {}),
        content_hash=item.content_hash,
        indexed_hash=item.indexed_hash,
        failure=Failure(**item.failure) if item.failure else None,
        progress=Progress(**(item.progress or {})),
        usage=Usage(**(item.usage or {})),
        attempts=int(item.attempts or 0),
        import_id=item.import_id,
        import_pending=bool(item.import_pending),
        version=int(item.version),
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def _key(tenant_id: str, agent_id: str, document_id: str) -> tuple[str, str]:
    return keys.knowledge_pk(tenant_id, agent_id), keys.document_sk(document_id)


def _new_document_item(doc: Document) -> DocumentItem:
    pk, sk = _key(doc.tenant_id, doc.agent_id, doc.id)
    return DocumentItem(
        pk=pk,
        sk=sk,
        tenant_id=doc.tenant_id,
        agent_id=doc.agent_id,
        document_id=doc.id,
        source_type=doc.type,
        title=doc.title,
        title_given=doc.title_given,
        status=doc.status,
        file_name=doc.file_name,
        source_url=doc.source_url,
        content_type=doc.content_type,
        size=doc.size,
        tags=doc.tags,
        chunking=doc.chunking,
        progress=doc.progress.model_dump(),
        usage=doc.usage.model_dump(),
        import_id=doc.import_id,
        import_pending=doc.import_pending or None,
        created_at=doc.created_at,
        updated_at=doc.updated_at,
    )


def create_document(
    doc: Document, events: Sequence[DomainEvent], requires: Sequence[outbox.Required] = ()
) -> None:
    """Store a new document and its events, if every item ``requires`` names (the agent)
    still exists."""
    create_documents([doc], events, requires)


def create_documents(
    docs: Sequence[Document],
    events: Sequence[DomainEvent],
    requires: Sequence[outbox.Required] = (),
) -> None:
    """New documents with their events, in one transaction (at most 100 items in all, the
    ``requires`` checks included); Conflict, and nothing written, when any of the ids exists;
    the required item's own error when it is gone (a deleted agent)."""
    items = [_new_document_item(doc) for doc in docs]

    def build(t: Any) -> None:
        for item in items:
            t.save(item, condition=DocumentItem.pk.does_not_exist())

    outbox.write(
        build,
        events,
        on_condition_failure=Conflict("document id collision, retry"),
        requires=requires,
    )


def get_document(tenant_id: str, agent_id: str, document_id: str) -> Document:
    try:
        item = DocumentItem.get(*_key(tenant_id, agent_id, document_id))
    except DoesNotExist:
        raise NotFound("document not found") from None
    return _document(item)


def find_document(tenant_id: str, agent_id: str, document_id: str) -> Document | None:
    try:
        return get_document(tenant_id, agent_id, document_id)
    except NotFound:
        return None


def list_documents(
    tenant_id: str, agent_id: str, limit: int | None, start_key: dict[str, Any] | None
) -> tuple[list[Document], dict[str, Any] | None]:
    result = DocumentItem.query(
        keys.knowledge_pk(tenant_id, agent_id),
        DocumentItem.sk.startswith(keys.DOCUMENT_SK_PREFIX),
        limit=limit,
        page_size=limit,
        last_evaluated_key=start_key,
    )
    documents = [_document(item) for item in result]
    return documents, result.last_evaluated_key


SETTLED = ("indexed", "failed")


@dataclass
class _DocumentWrite:
    """One document's conditional update, and the import counter it moves (if it settles)."""

    item: DocumentItem
    actions: list[Any]
    condition: Any
    changes: dict[str, Any]
    settles: str | None  # "indexed" / "failed": the import counter to add to


def _document_write(
    doc: Document,
    changes: dict[str, Any],
    expected_statuses: tuple[str, ...] | None,
    expected_version: int | None,
) -> _DocumentWrite:
    pk, sk = _key(doc.tenant_id, doc.agent_id, doc.id)
    actions: list[Action] = [DocumentItem.version.add(1)]
    for name, value in changes.items():
        attribute = {"type": "source_type"}.get(name, name)
        stored = value.model_dump() if isinstance(value, Failure | Progress | Usage) else value
        actions.append(getattr(DocumentItem, attribute).set(stored))
    condition = DocumentItem.pk.exists()
    if expected_statuses is not None:
        condition &= DocumentItem.status.is_in(*expected_statuses)
    if expected_version is not None:
        condition &= DocumentItem.version == expected_version
    status = changes.get("status")
    settles = status if status in SETTLED and doc.import_pending and doc.import_id else None
    if settles:
        # The document's import counts it once, in the same write.
        actions.append(DocumentItem.import_pending.remove())
        changes = {**changes, "import_pending": False}
    return _DocumentWrite(DocumentItem(pk=pk, sk=sk), actions, condition, changes, settles)


def _import_counts(docs: Sequence[Document], writes: Sequence[_DocumentWrite]) -> list[Any]:
    """(job item, actions) adding each import's settled documents, one update per import."""
    added: dict[tuple[str, str, str], dict[str, int]] = {}
    for doc, write in zip(docs, writes, strict=True):
        if write.settles:
            counts = added.setdefault((doc.tenant_id, doc.agent_id, str(doc.import_id)), {})
            counts[write.settles] = counts.get(write.settles, 0) + 1
    return [
        (_import_key(*job), [getattr(ImportJobItem, name).add(n) for name, n in counts.items()])
        for job, counts in added.items()
    ]


def update_document(
    doc: Document,
    *,
    expected_statuses: tuple[str, ...] | None = None,
    expected_version: int | None = None,
    events: Sequence[DomainEvent] = (),
    **changes: Any,
) -> Document:
    """Set ``changes`` (model field names, and ``chunks_key``: the stored chunks the index
    reads) conditionally, with ``events`` in the same transaction when there are any; bumps
    the item version. Raises Conflict when the document
    moved on (another worker, a delete) in the meantime."""
    write = _document_write(doc, changes, expected_statuses, expected_version)
    try:
        if not events and not write.settles:
            write.item.update(actions=write.actions, condition=write.condition)
            return _document(write.item)
        _transact([doc], [write], events)
    except (UpdateError, TransactWriteError) as exc:
        if is_condition_failure(exc):
            raise Conflict("document changed concurrently") from exc
        raise
    fields = {name: value for name, value in write.changes.items() if name in Document.model_fields}
    return doc.model_copy(update={**fields, "version": doc.version + 1})


def update_documents(
    updates: Sequence[tuple[Document, dict[str, Any]]], events: Sequence[DomainEvent]
) -> None:
    """Several documents' changes, each conditional on the version read, with ``events``, in
    one transaction (at most 100 items in all). Conflict, and nothing written, when any of
    them moved on."""
    docs = [doc for doc, _ in updates]
    writes = [_document_write(doc, changes, None, doc.version) for doc, changes in updates]
    try:
        _transact(docs, writes, events)
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            raise Conflict("a document changed concurrently") from exc
        raise


def _transact(
    docs: Sequence[Document], writes: Sequence[_DocumentWrite], events: Sequence[DomainEvent]
) -> None:
    counts = _import_counts(docs, writes)

    def build(t: Any) -> None:
        for write in writes:
            t.update(write.item, actions=write.actions, condition=write.condition)
        for job, actions in counts:
            t.update(job, actions=actions, condition=ImportJobItem.pk.exists())

    outbox.write(build, events)


def delete_document(
    tenant_id: str, agent_id: str, document_id: str, events: Sequence[DomainEvent]
) -> None:
    item = DocumentItem(*_key(tenant_id, agent_id, document_id))
    outbox.write(
        lambda t: t.delete(item, condition=DocumentItem.pk.exists()),
        events,
        on_condition_failure=NotFound("document not found"),
    )


def indexed_documents(tenant_id: str, agent_id: str) -> list[tuple[Document, str]]:
    """Every document whose chunks are in the index, with its chunks' S3 key."""
    items = DocumentItem.query(
        keys.knowledge_pk(tenant_id, agent_id),
        DocumentItem.sk.startswith(keys.DOCUMENT_SK_PREFIX),
        filter_condition=DocumentItem.chunks_key.exists(),
        consistent_read=True,  # a build must see every document counted before it started
    )
    return [(_document(item), str(item.chunks_key)) for item in items]


# ---------------------------------------------------------------- bulk imports
def _import_key(tenant_id: str, agent_id: str, import_id: str) -> ImportJobItem:
    return ImportJobItem(keys.knowledge_pk(tenant_id, agent_id), keys.import_sk(import_id))


def _import(item: ImportJobItem) -> ImportJob:
    return ImportJob(
        id=item.import_id,
        tenant_id=item.tenant_id,
        agent_id=item.agent_id,
        type=item.kind,
        url=item.url,
        max_pages=int(item.max_pages),
        max_depth=int(item.max_depth),
        tags=list(item.tags or []),
        chunking=dict(item.chunking or {}),
        status=item.status,
        counts=ImportCounts(
            pages_found=int(item.pages_found or 0),
            documents=int(item.documents or 0),
            skipped=int(item.skipped or 0),
            indexed=int(item.indexed or 0),
            failed=int(item.failed or 0),
        ),
        failure=Failure(**item.failure) if item.failure else None,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def create_import(job: ImportJob, requires: Sequence[outbox.Required] = ()) -> None:
    """Store a new import job, if every item ``requires`` names (the agent) still exists."""
    item = _import_key(job.tenant_id, job.agent_id, job.id)
    for name, value in {
        "tenant_id": job.tenant_id,
        "agent_id": job.agent_id,
        "import_id": job.id,
        "kind": job.type,
        "url": job.url,
        "max_pages": job.max_pages,
        "max_depth": job.max_depth,
        "tags": job.tags,
        "chunking": job.chunking,
        "status": job.status,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    }.items():
        setattr(item, name, value)
    outbox.write(
        lambda t: t.save(item, condition=ImportJobItem.pk.does_not_exist()),
        [],
        on_condition_failure=Conflict("import id collision, retry"),
        requires=requires,
    )


def get_import(tenant_id: str, agent_id: str, import_id: str) -> ImportJob:
    try:
        item = ImportJobItem.get(keys.knowledge_pk(tenant_id, agent_id), keys.import_sk(import_id))
    except DoesNotExist:
        raise NotFound("import not found") from None
    return _import(item)


def update_import(
    job: ImportJob,
    *,
    status: str | None = None,
    failure: Failure | None = None,
    expected_statuses: tuple[str, ...] | None = None,
    counts: Mapping[str, int] | None = None,
) -> None:
    """Set the import's status (and failure) and the discovery's ``counts`` (pages_found,
    documents, skipped: only the discovery writes them; settling documents add to indexed and
    failed). Conflict when ``expected_statuses`` no longer hold."""
    item = _import_key(job.tenant_id, job.agent_id, job.id)
    actions: list[Any] = [ImportJobItem.updated_at.set(utc_now_iso())]
    if status is not None:
        actions.append(ImportJobItem.status.set(status))
    if failure is not None:
        actions.append(ImportJobItem.failure.set(failure.model_dump()))
    actions += [getattr(ImportJobItem, name).set(n) for name, n in (counts or {}).items()]
    condition = ImportJobItem.pk.exists()
    if expected_statuses is not None:
        condition &= ImportJobItem.status.is_in(*expected_statuses)
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            raise Conflict("import changed concurrently") from exc
        raise


# ---------------------------------------------------------------- index pointer
def _pointer_key(tenant_id: str, agent_id: str) -> IndexPointerItem:
    return IndexPointerItem(keys.knowledge_pk(tenant_id, agent_id), keys.INDEX_POINTER_SK)


def _pointer(tenant_id: str, agent_id: str, item: IndexPointerItem) -> IndexPointer:
    def number(value: Any) -> int:
        return int(value) if value is not None else 0

    return IndexPointer(
        tenant_id=tenant_id,
        agent_id=agent_id,
        version=number(item.index_version),
        prefix=item.prefix,
        documents=number(item.documents),
        chunks=number(item.chunks),
        embedding_model=item.embedding_model,
        built_at=item.built_at,
        changes=number(item.changes),
        built_changes=number(item.built_changes),
        build_due_at=float(item.build_due_at) if item.build_due_at is not None else None,
        build_seconds=float(item.build_seconds) if item.build_seconds is not None else None,
    )


def get_pointer(tenant_id: str, agent_id: str, *, consistent: bool = False) -> IndexPointer:
    try:
        pk = keys.knowledge_pk(tenant_id, agent_id)
        item = IndexPointerItem.get(pk, keys.INDEX_POINTER_SK, consistent_read=consistent)
    except DoesNotExist:
        return IndexPointer(tenant_id=tenant_id, agent_id=agent_id)
    return _pointer(tenant_id, agent_id, item)


def _identity(tenant_id: str, agent_id: str) -> list[Any]:
    """What an update that may create the pointer item sets first."""
    return [
        IndexPointerItem.entity.set(IndexPointerItem),
        IndexPointerItem.tenant_id.set(tenant_id),
        IndexPointerItem.agent_id.set(agent_id),
    ]


def swap_pointer(pointer: IndexPointer, expected_version: int) -> bool:
    """Make ``pointer`` live (with the changes it holds) if the live version is still
    ``expected_version``. False when another build won the race (the caller rebuilds from the
    newer document set). Counters and the build schedule on the item are left as they are."""
    if pointer.prefix is None or pointer.built_at is None:
        raise ValueError("only a built index (a prefix and a build time) can go live")
    item = _pointer_key(pointer.tenant_id, pointer.agent_id)
    actions = [
        *_identity(pointer.tenant_id, pointer.agent_id),
        IndexPointerItem.index_version.set(pointer.version),
        IndexPointerItem.prefix.set(pointer.prefix),
        IndexPointerItem.documents.set(pointer.documents),
        IndexPointerItem.chunks.set(pointer.chunks),
        IndexPointerItem.built_at.set(pointer.built_at),
        IndexPointerItem.built_changes.set(pointer.built_changes),
    ]
    actions.append(
        IndexPointerItem.embedding_model.set(pointer.embedding_model)
        if pointer.embedding_model is not None
        else IndexPointerItem.embedding_model.remove()
    )
    condition = (
        IndexPointerItem.index_version.does_not_exist()
        if expected_version == 0
        else IndexPointerItem.index_version == expected_version
    )
    try:
        item.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def note_changes(tenant_id: str, agent_id: str, count: int) -> IndexPointer:
    """Count ``count`` changes the index does not hold yet; the pointer as it now stands."""
    item = _pointer_key(tenant_id, agent_id)
    item.update(actions=[*_identity(tenant_id, agent_id), IndexPointerItem.changes.add(count)])
    return _pointer(tenant_id, agent_id, item)


def claim_build(tenant_id: str, agent_id: str, *, due_at: float, stale_before: float) -> bool:
    """Schedule the agent's next build for ``due_at`` unless one is scheduled already (one
    due before ``stale_before`` was lost and is replaced). True: the caller sends it."""
    item = _pointer_key(tenant_id, agent_id)
    condition = IndexPointerItem.build_due_at.does_not_exist() | (
        IndexPointerItem.build_due_at < stale_before
    )
    try:
        item.update(
            actions=[*_identity(tenant_id, agent_id), IndexPointerItem.build_due_at.set(due_at)],
            condition=condition,
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def unclaim_build(tenant_id: str, agent_id: str) -> None:
    """Forget a schedule whose message could not be sent."""
    _pointer_key(tenant_id, agent_id).update(actions=[IndexPointerItem.build_due_at.remove()])


def release_build(
    tenant_id: str, agent_id: str, *, built_changes: int, seconds: float, next_due_at: float
) -> bool:
    """After a build holding ``built_changes``: clear the schedule if no change came since
    (True), or keep it, due at ``next_due_at``, for the changes that did (False: the caller
    sends the next build). Either way the build's duration is kept."""
    item = _pointer_key(tenant_id, agent_id)
    duration = IndexPointerItem.build_seconds.set(round(seconds, 3))
    try:
        item.update(
            actions=[duration, IndexPointerItem.build_due_at.remove()],
            condition=IndexPointerItem.changes == built_changes,
        )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        item.update(actions=[duration, IndexPointerItem.build_due_at.set(next_due_at)])
        return False
    return True


# ---------------------------------------------------------------- S3 objects
def presign_upload(bucket: str, key: str, content_type: str, size: int, expires: int) -> str:
    return str(
        client("s3").generate_presigned_url(
            "put_object",
            Params={
                "Bucket": bucket,
                "Key": key,
                "ContentType": content_type,
                "ContentLength": size,
            },
            ExpiresIn=expires,
            HttpMethod="PUT",
        )
    )


def presign_download(bucket: str, key: str, file_name: str, expires: int) -> str:
    """A GET link to the object, shown in the browser under its file name."""
    safe = "".join(ch for ch in file_name if ch.isprintable() and ch not in '"\\')
    return str(
        client("s3").generate_presigned_url(
            "get_object",
            Params={
                "Bucket": bucket,
                "Key": key,
                "ResponseContentDisposition": f'inline; filename="{safe}"',
            },
            ExpiresIn=expires,
        )
    )


def put_object(bucket: str, key: str, body: bytes, content_type: str) -> None:
    client("s3").put_object(
        Bucket=bucket, Key=key, Body=body, ContentType=content_type, ServerSideEncryption="AES256"
    )


def get_object(bucket: str, key: str, max_bytes: int) -> tuple[bytes, str | None]:
    """The object's bytes (refusing more than ``max_bytes``) and its content type."""
    response = client("s3").get_object(Bucket=bucket, Key=key)
    if int(response.get("ContentLength") or 0) > max_bytes:
        response["Body"].close()
        raise ObjectTooLarge(int(response["ContentLength"]))
    data = response["Body"].read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ObjectTooLarge(len(data))
    return data, response.get("ContentType")


def head_object(bucket: str, key: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return dict(client("s3").head_object(Bucket=bucket, Key=key))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


class ObjectTooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(f"object of {size} bytes is over the limit")
        self.size = size


def child_prefixes(bucket: str, prefix: str) -> Iterator[str]:
    """The "folders" right under ``prefix`` (S3 delimiter listing, every page)."""
    pages = client("s3").get_paginator("list_objects_v2")
    for page in pages.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            yield str(common["Prefix"])


def objects_under(bucket: str, prefix: str) -> Iterator[tuple[str, datetime]]:
    """(key, last modified) of every object under ``prefix``, page by page."""
    pages = client("s3").get_paginator("list_objects_v2")
    for page in pages.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            yield str(obj["Key"]), obj["LastModified"]


def delete_objects(bucket: str, object_keys: Sequence[str]) -> int:
    """Delete ``object_keys`` (1,000 per request); the number S3 reports deleted."""
    deleted = 0
    s3 = client("s3")
    for start in range(0, len(object_keys), 1000):
        batch = [{"Key": key} for key in object_keys[start : start + 1000]]
        response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": False})
        deleted += len(response.get("Deleted", []))
        if response.get("Errors"):
            raise RuntimeError(f"S3 refused to delete {len(response['Errors'])} objects")
    return deleted


def chunk_keys_in_use(tenant_id: str, agent_id: str) -> set[str]:
    """The chunk artifacts the agent's documents point at (every document, any status)."""
    items = DocumentItem.query(
        keys.knowledge_pk(tenant_id, agent_id),
        DocumentItem.sk.startswith(keys.DOCUMENT_SK_PREFIX),
        attributes_to_get=["chunks_key"],
    )
    return {str(item.chunks_key) for item in items if item.chunks_key}


# ---------------------------------------------------------------- ingestion queue
def enqueue_many(queue_url: str, items: Sequence[IngestionWorkItem]) -> None:
    """Ten messages a call; raises if SQS refused any (a retry sends them again: consumers
    are idempotent)."""
    for start in range(0, len(items), 10):
        entries = [
            {"Id": str(n), "MessageBody": item.model_dump_json(exclude_none=True)}
            for n, item in enumerate(items[start : start + 10])
        ]
        response = client("sqs").send_message_batch(QueueUrl=queue_url, Entries=entries)
        if response.get("Failed"):
            raise RuntimeError(f"SQS refused {len(response['Failed'])} ingestion messages")


def enqueue(queue_url: str, item: IngestionWorkItem, delay_seconds: int = 0) -> None:
    body = item.model_dump_json(exclude_none=True)
    client("sqs").send_message(QueueUrl=queue_url, MessageBody=body, DelaySeconds=delay_seconds)


def delete_agent_partition(tenant_id: str, agent_id: str) -> int:
    """Delete the agent's documents and index pointer (its whole knowledge partition)."""
    return delete_partition(keys.knowledge_pk(tenant_id, agent_id))


def delete_prefix(bucket: str, prefix: str) -> int:
    """Delete every object under ``prefix`` (1,000 per call); the count."""
    s3 = client("s3")
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if found:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": found, "Quiet": True})
            deleted += len(found)
    return deleted


def stuck_documents(updated_before: str) -> list[Document]:
    """Documents still ``processing`` whose ``updated_at`` is before ``updated_before``: a
    filtered Scan of the table (the sweep runs every 15 minutes; no index holds documents by
    status, and adding one would cost every document write)."""
    found = DocumentItem.scan(
        filter_condition=(DocumentItem.entity == DocumentItem)
        & (DocumentItem.status == "processing")
        & (DocumentItem.updated_at < updated_before)
    )
    return [_document(item) for item in found]
