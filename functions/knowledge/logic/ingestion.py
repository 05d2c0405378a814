"""The ingestion worker's behaviour: one document through parse → normalize → chunk → embed →
store chunks; then each agent touched notes its changes for the next coalesced index build
(knowledge.logic.builds), and a ``reindex`` message runs that build.

Idempotent: a document whose bytes and chunking settings hash to what the index already holds
is not processed again, chunk artifacts are keyed by that hash, and index versions are only
made live by a conditional write. At-least-once delivery therefore never duplicates work that
a reader could see, and a crash at any step leaves the previous index serving.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from agenthub.errors import AppError, Conflict
from agenthub.events import utc_now_iso
from agenthub.observability import logger
from knowledge.dal import repository
from knowledge.logic import builds, chunk_codec, storage
from knowledge.logic.builds import SYSTEM
from knowledge.logic.types import Chunk, ChunkingSettings, ParsedDocument
from knowledge.models import (
    Document,
    DocumentFailed,
    DocumentFailedData,
    Failure,
    IngestionWorkItem,
    Progress,
    Usage,
)

PROGRESS_EVERY = 64  # chunks between progress writes while embedding


@dataclass(frozen=True)
class WorkerConfig:
    bucket: str
    queue_url: str
    max_receives: int
    embedding_provider: str = "none"
    embedding_model: str | None = None
    embedding_dimensions: int = 512
    allow_private_urls: bool = False  # local runtime only: lets URL import reach 127.0.0.1


@dataclass
class Outcome:
    """What one batch did: per agent, documents now waiting for a build, and the agents whose
    scheduled build (a ``reindex`` message) is in the batch."""

    changed: dict[tuple[str, str], int] = field(default_factory=dict)
    build: set[tuple[str, str]] = field(default_factory=set)

    def add(self, doc: Document) -> None:
        key = (doc.tenant_id, doc.agent_id)
        self.changed[key] = self.changed.get(key, 0) + 1


class DocumentProblem(AppError):
    """A problem the user can act on (bad file, blocked URL...): the document is marked failed
    with this reason and the message is not retried."""

    status, code = 422, "document_rejected"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def messages_of(body: dict[str, Any]) -> list[IngestionWorkItem]:
    """Work items in one SQS message: an S3 notification (uploads) or one of ours."""
    if "Records" in body:
        from urllib.parse import unquote_plus

        items = []
        for record in body["Records"]:
            if not str(record.get("eventName", "")).startswith("ObjectCreated"):
                continue
            parsed = storage.parse_upload_key(unquote_plus(record["s3"]["object"]["key"]))
            if parsed:
                tenant_id, agent_id, document_id, _ = parsed
                items.append(
                    IngestionWorkItem(
                        action="ingest",
                        tenant_id=tenant_id,
                        agent_id=agent_id,
                        document_id=document_id,
                        trigger="upload",
                    )
                )
        return items
    if body.get("Event") == "s3:TestEvent":
        return []
    try:
        return [IngestionWorkItem.model_validate(body)]
    except ValidationError:
        raise ValueError("not an ingestion message") from None


def ingest(
    item: IngestionWorkItem,
    config: WorkerConfig,
    outcome: Outcome,
    receive_count: int,
) -> None:
    """Process one document (or run the agent's build for ``reindex``, or discover the pages
    of a bulk ``import``)."""
    tenant_id, agent_id = item.tenant_id, item.agent_id
    if item.action == "import":
        from knowledge.logic import imports, sources

        places = sources.Places(bucket=config.bucket, queue_url=config.queue_url)
        imports.run_import(item, places, imports.fetcher(config.allow_private_urls))
        return
    if item.action == "reindex" or item.document_id is None:
        outcome.build.add((tenant_id, agent_id))
        return
    doc = repository.find_document(tenant_id, agent_id, item.document_id)
    if doc is None:
        return  # deleted since it was queued
    if doc.status in ("indexed", "failed") and item.trigger != "upload":
        return  # a redelivered message for work already finished
    try:
        doc = repository.update_document(
            doc,
            expected_version=doc.version,
            status="processing",
            failure=None,
            content_hash=None,  # set again once this content's chunks are stored
            attempts=doc.attempts + 1,
            updated_at=utc_now_iso(),
        )
    except Conflict:
        return  # another delivery of the same work took it
    try:
        _process(doc, config, outcome, stored=item.trigger == "import")
    except DocumentProblem as problem:
        _fail(doc, problem.reason, problem.message)
    except Exception:
        if receive_count >= config.max_receives:
            _fail(
                doc,
                "processing_error",
                f"processing failed {receive_count} times; retry the document later",
            )
        raise


class Batch:
    """One batch of queue messages: each message's documents are processed as it arrives,
    then (``finish``) each agent touched notes its changes for the next build, and the builds
    scheduled into this batch run."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.outcome = Outcome()
        self._agents_of: dict[str, set[tuple[str, str]]] = {}

    def add(self, message_id: str, body: str, receive_count: int) -> None:
        """Process one message; raises when it must be delivered again."""
        items = messages_of(json.loads(body))
        self._agents_of[message_id] = {(item.tenant_id, item.agent_id) for item in items}
        for item in items:
            ingest(item, self.config, self.outcome, receive_count)

    def finish(self) -> list[str]:
        """Note each agent's changes, then run the builds; returns the ids of the messages
        whose agent's step failed, so their work is redone."""
        failed: set[tuple[str, str]] = set()
        config = self.config
        for agent, count in sorted(self.outcome.changed.items()):
            try:
                builds.request_build(*agent, config.queue_url, count)
            except Exception:
                logger().exception("index build request failed", extra={"agent_id": agent[1]})
                failed.add(agent)
        for agent in sorted(self.outcome.build):
            try:
                builds.build(*agent, config.bucket, config.queue_url)
            except Exception:
                logger().exception("index build failed", extra={"agent_id": agent[1]})
                failed.add(agent)
        return [message for message, agents in self._agents_of.items() if agents & failed]


def _process(doc: Document, config: WorkerConfig, outcome: Outcome, *, stored: bool) -> None:
    data, content_type, file_name = _read_source(doc, config, stored=stored)
    digest = storage.content_hash(data, doc.chunking)
    if digest == doc.indexed_hash:
        # Same content, same settings: the live index already holds it.
        version = repository.get_pointer(doc.tenant_id, doc.agent_id).version
        builds.mark_indexed(doc.model_copy(update={"content_hash": digest}), version)
        return
    parsed = _parse(doc, data, content_type, file_name)
    # A title the user gave wins (even one equal to the file name); a default (file name, URL,
    # first line) gives way to the document's own.
    title = doc.title if doc.title_given else (parsed.title or doc.title)
    parsed = dataclasses.replace(parsed, title=title)
    settings = ChunkingSettings(**{k: v for k, v in doc.chunking.items() if k != "min_chars"})
    chunks = [
        dataclasses.replace(chunk, source_type=doc.type)
        for chunk in _chunk(doc, parsed, settings, file_name)
    ]
    if not chunks:
        raise DocumentProblem("no_text", "the document has no text to index")
    vectors, tokens = _embed(doc, chunks, config)
    key = storage.chunks_key(doc.tenant_id, doc.agent_id, doc.id, digest)
    encoded = chunk_codec.encode(
        chunks,
        content_hash=digest,
        settings=doc.chunking,
        vectors=vectors,
        embedding_model=config.embedding_model if vectors is not None else None,
    )
    repository.put_object(config.bucket, key, encoded, "application/json")
    usage = Usage(
        pages=parsed.pages or 0,
        characters=parsed.characters,
        chunks=len(chunks),
        embedding_tokens=tokens,
        stored_bytes=len(data) + len(encoded),
    )
    updated = repository.update_document(
        doc,
        expected_statuses=("processing",),
        chunks_key=key,
        content_hash=digest,
        title=title,
        usage=usage,
        progress=Progress(chunks_done=len(chunks), chunks_total=len(chunks)),
        updated_at=utc_now_iso(),
    )
    outcome.add(updated)


def _read_source(
    doc: Document, config: WorkerConfig, *, stored: bool
) -> tuple[bytes, str | None, str]:
    """The document's bytes. A URL is fetched, unless ``stored``: a crawl kept the page."""
    from knowledge.logic import parsing

    limit = parsing.Limits().max_bytes
    try:
        if doc.type == "upload":
            key = storage.upload_key(doc.tenant_id, doc.agent_id, doc.id, doc.file_name or "")
            data, content_type = repository.get_object(config.bucket, key, limit)
            return data, doc.content_type or content_type, doc.file_name or "upload"
        if doc.type == "url" and not stored:
            return _fetch(doc, config)
        key = storage.source_key(doc.tenant_id, doc.agent_id, doc.id)
        data, content_type = repository.get_object(config.bucket, key, limit)
        if doc.type == "url":
            from knowledge.logic.fetch import file_name_for

            return data, content_type, file_name_for(doc.source_url or "", content_type or "")
        return data, content_type, doc.file_name or "source"
    except repository.ObjectTooLarge as exc:
        raise DocumentProblem(
            "too_large", f"the file is {exc.size} bytes; the limit is {limit} bytes"
        ) from exc


def _fetch(doc: Document, config: WorkerConfig) -> tuple[bytes, str | None, str]:
    from knowledge.logic import fetch

    try:
        fetched = fetch.fetch_url(
            doc.source_url or "",
            limits=fetch.FetchLimits(),
            allow_private=config.allow_private_urls,
        )
    except fetch.UrlRejected as exc:
        raise DocumentProblem(exc.reason, exc.message) from exc
    # Keep what was fetched: a re-index of this version reads it back, not the live page.
    repository.put_object(
        config.bucket,
        storage.source_key(doc.tenant_id, doc.agent_id, doc.id),
        fetched.data,
        fetched.content_type or "application/octet-stream",
    )
    return fetched.data, fetched.content_type, fetched.file_name


def _parse(doc: Document, data: bytes, content_type: str | None, file_name: str) -> ParsedDocument:
    from knowledge.logic import parsing

    try:
        if doc.type == "qa":
            return parsing.parse_qa(json.loads(data)["pairs"])
        if doc.type == "text":
            kind = "markdown" if content_type == "text/markdown" else "text"
            return parsing.parse_text(data.decode("utf-8"), kind=kind)
        return parsing.parse(
            data, file_name=file_name, content_type=content_type, limits=parsing.Limits()
        )
    except parsing.DocumentRejected as exc:
        raise DocumentProblem(exc.reason, exc.message) from exc


def _chunk(
    doc: Document, parsed: ParsedDocument, settings: ChunkingSettings, file_name: str
) -> list[Chunk]:
    from knowledge.logic import chunking

    return chunking.chunk(
        parsed,
        document_id=doc.id,
        settings=settings,
        source_url=doc.source_url,
        file_name=doc.file_name or (file_name if doc.type == "url" else None),
        tags=tuple(doc.tags),
    )


def _embed(doc: Document, chunks: list[Chunk], config: WorkerConfig) -> tuple[Any, int]:
    from knowledge.logic.retrieval import embedder as configured

    embedder = configured(
        config.embedding_provider, config.embedding_model, config.embedding_dimensions
    )
    if embedder is None:
        return None, 0
    import numpy as np

    from knowledge.logic import search_index

    tokens_before = embedder.tokens_used

    parts = []
    for start in range(0, len(chunks), PROGRESS_EVERY):
        batch = chunks[start : start + PROGRESS_EVERY]
        parts.append(embedder.embed_documents([search_index.embedding_text(c) for c in batch]))
        done = min(start + PROGRESS_EVERY, len(chunks))
        if done < len(chunks):
            repository.update_document(
                doc, progress=Progress(chunks_done=done, chunks_total=len(chunks))
            )
    return np.vstack(parts), embedder.tokens_used - tokens_before


def _fail(doc: Document, reason: str, message: str) -> None:
    event = DocumentFailed(
        tenant_id=doc.tenant_id,
        actor=SYSTEM,
        subject=f"document/{doc.id}",
        data=DocumentFailedData(
            agent_id=doc.agent_id, document_id=doc.id, reason=reason, message=message
        ),
    )
    try:
        repository.update_document(
            doc,
            events=[event],
            status="failed",
            failure=Failure(reason=reason, message=message),
            updated_at=utc_now_iso(),
        )
    except Conflict:
        return  # deleted meanwhile
