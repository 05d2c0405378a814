"""Sources of an agent's knowledge: create (upload, text, URL, Q&A), list, read, delete, retry.

Every create returns at once: the work happens in the ingestion worker. Uploads go straight
from the client to S3 through a presigned PUT, whose notification queues the document; other
sources are stored (text, Q&A) or described (URL) and queued by a message.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import secrets
from dataclasses import dataclass
from typing import Any

from agenthub import outbox
from agenthub.errors import Conflict
from agenthub.events import Actor, utc_now_iso
from agents.logic import agent_still_exists, get_agent
from knowledge.dal import repository
from knowledge.logic import builds, storage
from knowledge.models import (
    Document,
    DocumentCreated,
    DocumentCreatedData,
    DocumentDeleted,
    DocumentDeletedData,
    ImportJob,
    IngestionWorkItem,
    Progress,
    QASource,
    SourceCreate,
    TextSource,
    UploadSource,
    UrlSource,
)

UPLOAD_URL_SECONDS = 900
RETRYABLE = ("failed", "indexed")

CONTENT_TYPES = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".csv": "text/csv",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


@dataclass(frozen=True)
class Places:
    """Where this deployment keeps documents and queues work (from settings)."""

    bucket: str
    queue_url: str


@dataclass(frozen=True)
class UploadTicket:
    url: str
    method: str
    headers: dict[str, str]
    expires_in: int


def new_document_id() -> str:
    return "doc_" + secrets.token_hex(8)


def content_type_for(file_name: str) -> str:
    suffix = "." + file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(file_name)[0] or "text/plain"


def create_source(
    tenant_id: str,
    agent_id: str,
    source: SourceCreate,
    actor: Actor,
    places: Places,
) -> tuple[Document, UploadTicket | None]:
    get_agent(tenant_id, agent_id)  # another tenant's agent is a 404
    alive = [agent_still_exists(tenant_id, agent_id)]  # and a deleted one, at once
    now = utc_now_iso()
    doc = Document(
        id=new_document_id(),
        tenant_id=tenant_id,
        agent_id=agent_id,
        type=source.type,
        title=source.title or _default_title(source),
        title_given=bool(source.title),
        status="awaiting_upload" if isinstance(source, UploadSource) else "queued",
        tags=sorted(set(source.tags)),
        chunking=source.chunking.model_dump(),
        created_at=now,
        updated_at=now,
    )
    ticket = None
    if isinstance(source, UploadSource):
        content_type = content_type_for(source.file_name)
        doc = doc.model_copy(
            update={
                "file_name": source.file_name,
                "content_type": content_type,
                "size": source.size,
            }
        )
        repository.create_document(doc, [_created(doc, actor)], alive)
        key = storage.upload_key(tenant_id, agent_id, doc.id, source.file_name)
        ticket = _ticket(places.bucket, key, content_type, source.size)
    elif isinstance(source, UrlSource):
        doc = doc.model_copy(update={"source_url": str(source.url)})
        repository.create_document(doc, [_created(doc, actor)], alive)
        _queue(places, doc)
    else:
        body, content_type = _inline_content(source)
        doc = doc.model_copy(update={"content_type": content_type, "size": len(body)})
        repository.put_object(
            places.bucket, storage.source_key(tenant_id, agent_id, doc.id), body, content_type
        )
        repository.create_document(doc, [_created(doc, actor)], alive)
        _queue(places, doc)
    return doc, ticket


def imported_document_id(import_id: str, url: str) -> str:
    """The same page of the same import is the same document (a re-run creates nothing)."""
    return "doc_" + hashlib.sha256(f"{import_id} {url}".encode()).hexdigest()[:16]


Page = tuple[str, tuple[bytes, str] | None]  # URL, and (bytes, content type) if fetched


def create_imported(job: ImportJob, pages: list[Page], places: Places) -> None:
    """URL sources an import found, queued for ingestion; a page the crawl fetched already
    (bytes and content type) is stored and not fetched again. Created together in one
    transaction; idempotent (a page's id derives from the import and its URL)."""
    docs = [_imported(job, url) for url, _ in pages]
    for doc, (_, page) in zip(docs, pages, strict=True):
        if page is not None:
            key = storage.source_key(job.tenant_id, job.agent_id, doc.id)
            repository.put_object(places.bucket, key, *page)
    system = Actor(kind="system")
    alive = [agent_still_exists(job.tenant_id, job.agent_id)]
    try:
        repository.create_documents(docs, [_created(doc, system) for doc in docs], alive)
        queued = docs
    except Conflict:  # a re-run: create what is missing, queue what is still queued
        queued = [doc for doc in docs if _created_or_queued(doc, system, alive)]
    stored = {doc.id for doc, (_, page) in zip(docs, pages, strict=True) if page is not None}
    items = [
        IngestionWorkItem(
            action="ingest",
            tenant_id=doc.tenant_id,
            agent_id=doc.agent_id,
            document_id=doc.id,
            trigger="import" if doc.id in stored else None,
        )
        for doc in queued
    ]
    repository.enqueue_many(places.queue_url, items)


def _imported(job: ImportJob, url: str) -> Document:
    now = utc_now_iso()
    return Document(
        id=imported_document_id(job.id, url),
        tenant_id=job.tenant_id,
        agent_id=job.agent_id,
        type="url",
        title=url,
        status="queued",
        source_url=url,
        tags=job.tags,
        chunking=job.chunking,
        import_id=job.id,
        import_pending=True,
        created_at=now,
        updated_at=now,
    )


def _created_or_queued(doc: Document, actor: Actor, alive: list[outbox.Required]) -> bool:
    try:
        repository.create_document(doc, [_created(doc, actor)], alive)
        return True
    except Conflict:
        existing = repository.find_document(doc.tenant_id, doc.agent_id, doc.id)
        return existing is not None and existing.status == "queued"


def _created(doc: Document, actor: Actor) -> DocumentCreated:
    return DocumentCreated(
        tenant_id=doc.tenant_id,
        actor=actor,
        subject=f"document/{doc.id}",
        data=DocumentCreatedData(agent_id=doc.agent_id, document_id=doc.id, type=doc.type),
    )


def _default_title(source: SourceCreate) -> str:
    if isinstance(source, UploadSource):
        return source.file_name
    if isinstance(source, UrlSource):
        return str(source.url)
    if isinstance(source, QASource):
        return "Questions and answers"
    first_line = source.text.strip().splitlines()[0].lstrip("# ").strip()
    return first_line[:120] or "Text"


def _inline_content(source: TextSource | QASource) -> tuple[bytes, str]:
    if isinstance(source, TextSource):
        kind = "text/markdown" if source.format == "markdown" else "text/plain"
        return source.text.encode(), kind
    pairs = [pair.model_dump() for pair in source.pairs]
    return json.dumps({"pairs": pairs}).encode(), "application/vnd.agenthub.qa+json"


def _ticket(bucket: str, key: str, content_type: str, size: int) -> UploadTicket:
    url = repository.presign_upload(bucket, key, content_type, size, UPLOAD_URL_SECONDS)
    return UploadTicket(
        url=url,
        method="PUT",
        headers={"Content-Type": content_type},
        expires_in=UPLOAD_URL_SECONDS,
    )


def _queue(places: Places, doc: Document) -> None:
    item = IngestionWorkItem(
        action="ingest", tenant_id=doc.tenant_id, agent_id=doc.agent_id, document_id=doc.id
    )
    repository.enqueue(places.queue_url, item)


def get_document(tenant_id: str, agent_id: str, document_id: str) -> Document:
    get_agent(tenant_id, agent_id)
    return repository.get_document(tenant_id, agent_id, document_id)


def list_documents(
    tenant_id: str, agent_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Document], dict[str, Any] | None]:
    get_agent(tenant_id, agent_id)
    return repository.list_documents(tenant_id, agent_id, limit, start_key)


def new_upload_url(
    tenant_id: str, agent_id: str, document_id: str, size: int, places: Places
) -> tuple[Document, UploadTicket]:
    """Replace an uploaded document's file: the new upload re-ingests it, and the index swaps
    to the new chunks only once they are complete."""
    doc = get_document(tenant_id, agent_id, document_id)
    if doc.type != "upload" or not doc.file_name or not doc.content_type:
        raise Conflict("only uploaded documents take a new file; create a new source instead")
    if doc.status == "processing":
        raise Conflict("the document is being processed; try again when it is done")
    key = storage.upload_key(tenant_id, agent_id, doc.id, doc.file_name)
    return doc, _ticket(places.bucket, key, doc.content_type, size)


def retry(tenant_id: str, agent_id: str, document_id: str, places: Places) -> Document:
    """Queue a failed document again (or re-read an indexed one: a URL is fetched anew)."""
    doc = get_document(tenant_id, agent_id, document_id)
    if doc.status not in RETRYABLE:
        raise Conflict(
            f"a document that is {doc.status} cannot be retried",
            details={"status": doc.status, "retryable": list(RETRYABLE)},
        )
    if doc.type == "upload" and doc.status == "failed" and doc.content_hash is None:
        head = repository.head_object(
            places.bucket, storage.upload_key(tenant_id, agent_id, doc.id, doc.file_name or "")
        )
        if head is None:
            raise Conflict("the file was never uploaded; request a new upload URL")
    doc = repository.update_document(
        doc,
        expected_statuses=RETRYABLE,
        status="queued",
        failure=None,
        progress=Progress(),
        updated_at=utc_now_iso(),
    )
    _queue(places, doc)
    return doc


def delete_document(
    tenant_id: str, agent_id: str, document_id: str, actor: Actor, places: Places
) -> None:
    """Remove the document now; the next build leaves it out."""
    doc = get_document(tenant_id, agent_id, document_id)
    deleted = DocumentDeleted(
        tenant_id=tenant_id,
        actor=actor,
        subject=f"document/{doc.id}",
        data=DocumentDeletedData(
            agent_id=agent_id, document_id=doc.id, stored_bytes=doc.usage.stored_bytes
        ),
    )
    repository.delete_document(tenant_id, agent_id, document_id, [deleted])
    builds.request_build(tenant_id, agent_id, places.queue_url)


def forget_agent(tenant_id: str, agent_id: str, bucket: str) -> int:
    """Remove a deleted agent's knowledge: its documents, imports and index pointer, then every
    object of it in ``bucket`` (uploads, sources, chunks, index artifacts). The number of
    objects removed. Idempotent."""
    repository.delete_agent_partition(tenant_id, agent_id)
    return sum(
        repository.delete_prefix(bucket, prefix)
        for prefix in storage.agent_prefixes(tenant_id, agent_id)
    )
