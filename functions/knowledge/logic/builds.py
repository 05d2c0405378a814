"""Coalesced index builds: at most one scheduled build per agent, later changes folded into it.

Ingestion and deletes only *note* a change on the agent's index pointer (a counter) and, if no
build is scheduled, schedule one: a ``reindex`` message on the ingestion queue, delayed by as
long as the agent's last build took. The build reads every document's stored chunks, makes the
new version live with a conditional write, marks the documents waiting for it indexed, and
clears the schedule only if no change arrived meanwhile (else it schedules the next one).

So documents arriving while a build waits or runs share the next build, and since a build
waits at least as long as the previous one took, builds take at most about half of the
worker's time however many documents arrive: ingesting N documents costs O(N) work, not one
full rebuild per batch. Readers never wait on a build: search keeps the live version until
the pointer moves.

A build whose message is lost (its schedule older than ``STALE_AFTER_SECONDS``) is replaced
by the next change's; a build that fails is retried by the queue like any message.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from agenthub.environment import on_reset
from agenthub.errors import Conflict
from agenthub.events import Actor, utc_now_iso
from agenthub.observability import logger
from knowledge.dal import repository
from knowledge.logic import chunk_codec, storage
from knowledge.logic.types import Chunk
from knowledge.models import (
    Document,
    DocumentIndexed,
    DocumentIndexedData,
    IndexPointer,
    IngestionWorkItem,
)

SYSTEM = Actor(kind="system")
SWAP_ATTEMPTS = 4
MAX_DELAY_SECONDS = 60  # SQS allows 900; a minute keeps a large agent's new documents fresh
STALE_AFTER_SECONDS = 900  # a schedule this far past due lost its message
MAX_ARTIFACT_BYTES = 512 * 1024 * 1024
# Documents marked indexed per transaction: an update and an event each, plus one counter per
# import, within DynamoDB's 100 items.
MARK_TOGETHER = 32
# Decoded chunk artifacts kept per warm worker: their keys hold the content hash, so they never
# change, and the next build of the same agent re-reads only the documents that did.
CACHED_CHUNK_BYTES = 128 * 1024 * 1024  # serialized; decoded they take ~3x
# Chunk artifacts read at once by a build: each is one S3 GET (tens of ms in AWS), so 500
# documents read one after the other would wait ~10 s on round trips alone.
READ_THREADS = 8


class _ChunkCache:
    """Decoded chunk artifacts by key, least recently used out past ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.entries: OrderedDict[str, tuple[list[Chunk], Any, str | None, int]] = OrderedDict()
        self.size = 0

    def get(self, key: str) -> tuple[list[Chunk], Any, str | None] | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        self.entries.move_to_end(key)
        return entry[0], entry[1], entry[2]

    def put(self, key: str, value: tuple[list[Chunk], Any, str | None], size: int) -> None:
        self.entries[key] = (*value, size)
        self.size += size
        while self.size > self.max_bytes and len(self.entries) > 1:
            self.size -= self.entries.popitem(last=False)[1][3]

    def clear(self) -> None:
        self.entries.clear()
        self.size = 0


_decoded = _ChunkCache(CACHED_CHUNK_BYTES)
on_reset(_decoded.clear)


@dataclass(frozen=True)
class Built:
    pointer: IndexPointer
    indexed: list[Document]  # the documents this version made indexed


def delay_after(build_seconds: float | None) -> int:
    """Seconds the next build waits: about as long as the last one took (SQS counts whole
    seconds, so a build under half a second is followed at once)."""
    return min(MAX_DELAY_SECONDS, round(build_seconds or 0.0))


def request_build(tenant_id: str, agent_id: str, queue_url: str, changes: int = 1) -> None:
    """Note ``changes`` the index does not hold yet and make sure a build will fold them in."""
    state = repository.note_changes(tenant_id, agent_id, changes)
    delay = delay_after(state.build_seconds)
    now = time.time()
    if not repository.claim_build(
        tenant_id, agent_id, due_at=now + delay, stale_before=now - STALE_AFTER_SECONDS
    ):
        return  # the scheduled build will see these changes
    try:
        _send(tenant_id, agent_id, queue_url, delay)
    except Exception:
        # Without its message the schedule would only end as stale: let the caller retry.
        repository.unclaim_build(tenant_id, agent_id)
        raise


def _send(tenant_id: str, agent_id: str, queue_url: str, delay: int) -> None:
    item = IngestionWorkItem(action="reindex", tenant_id=tenant_id, agent_id=agent_id)
    repository.enqueue(queue_url, item, delay_seconds=delay)


def build(tenant_id: str, agent_id: str, bucket: str, queue_url: str) -> Built | None:
    """The scheduled build: make a version holding every change noted so far live (None when
    there was nothing to build), then clear the schedule or schedule the next build."""
    state = repository.get_pointer(tenant_id, agent_id, consistent=True)
    built: Built | None = None
    seconds = state.build_seconds or 0.0
    if state.version == 0 or state.pending_changes:
        started = time.perf_counter()
        built = rebuild(tenant_id, agent_id, bucket)
        seconds = time.perf_counter() - started
        held = built.pointer.built_changes
    else:
        held = state.changes
    delay = delay_after(seconds)
    if not repository.release_build(
        tenant_id, agent_id, built_changes=held, seconds=seconds, next_due_at=time.time() + delay
    ):
        _send(tenant_id, agent_id, queue_url, delay)
    return built


def rebuild(tenant_id: str, agent_id: str, bucket: str) -> Built:
    """Build the agent's index from every document's stored chunks and make it live, then
    mark the documents that waited for it indexed.

    The new version's artifacts are written under a fresh prefix first; the pointer swap is a
    conditional write on the version it started from, so a reader sees the old index or the
    new one, never a mix. Losing the race to another build means rebuilding from the newer
    document set.
    """
    from knowledge.logic import search_index

    for _ in range(SWAP_ATTEMPTS):
        phases = _Phases()
        # Changes are counted after their document's chunks are stored: the count read first
        # is held by the documents read next.
        live = repository.get_pointer(tenant_id, agent_id, consistent=True)
        documents = repository.indexed_documents(tenant_id, agent_id)
        phases.mark("list_s")
        chunks: list[Chunk] = []
        vectors = []
        model = None
        for doc_chunks, doc_vectors, doc_model in _read_all(bucket, [k for _, k in documents]):
            chunks.extend(doc_chunks)
            if doc_vectors is not None:
                vectors.append(doc_vectors)
                model = doc_model
        dense = None
        if vectors and sum(len(v) for v in vectors) == len(chunks):
            import numpy as np

            dense = np.vstack(vectors)
        phases.mark("read_s")
        artifacts = search_index.build_index(chunks, vectors=dense, embedding_model=model)
        phases.mark("index_s")
        version = live.version + 1
        prefix = storage.index_prefix(tenant_id, agent_id, version)
        for name, blob in artifacts.files().items():
            repository.put_object(bucket, prefix + name, blob, "application/octet-stream")
        phases.mark("write_s")
        pointer = live.model_copy(
            update={
                "version": version,
                "prefix": prefix,
                "documents": len(documents),
                "chunks": len(chunks),
                "embedding_model": model if dense is not None else None,
                "built_at": utc_now_iso(),
                "built_changes": live.changes,
            }
        )
        if repository.swap_pointer(pointer, expected_version=live.version):
            waiting = [doc for doc, key in documents if _waiting(doc, key)]
            indexed = mark_all_indexed(waiting, version)
            phases.mark("mark_s")
            logger().info(
                "index built",
                extra={
                    "agent_id": agent_id,
                    "index_version": version,
                    "documents": len(documents),
                    "chunks": len(chunks),
                    "indexed": len(indexed),
                    **phases.seconds,
                },
            )
            return Built(pointer, indexed)
    raise Conflict("the index kept changing while it was rebuilt; the message will retry")


class _Phases:
    """Seconds per phase of a build, for its log line."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def mark(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._last, 3)
        self._last = now


def _waiting(doc: Document, chunks_key: str) -> bool:
    """Processed, its chunks stored, and not yet marked indexed."""
    return (
        doc.status == "processing"
        and doc.content_hash is not None
        and chunks_key == storage.chunks_key(doc.tenant_id, doc.agent_id, doc.id, doc.content_hash)
    )


def mark_all_indexed(docs: list[Document], index_version: int) -> list[Document]:
    """``mark_indexed`` for many documents, MARK_TOGETHER to a transaction; a group with a
    document that moved on is marked one by one. The documents marked."""
    marked: list[Document] = []
    for start in range(0, len(docs), MARK_TOGETHER):
        group = docs[start : start + MARK_TOGETHER]
        try:
            repository.update_documents(
                [(doc, _indexed_changes(doc)) for doc in group],
                [_indexed(doc, index_version) for doc in group],
            )
            marked += group
        except Conflict:
            marked += [doc for doc in group if mark_indexed(doc, index_version)]
    return marked


def _indexed_changes(doc: Document) -> dict[str, Any]:
    return {
        "status": "indexed",
        "content_hash": doc.content_hash,
        "indexed_hash": doc.content_hash,
        "updated_at": utc_now_iso(),
    }


def _indexed(doc: Document, index_version: int) -> DocumentIndexed:
    return DocumentIndexed(
        tenant_id=doc.tenant_id,
        actor=SYSTEM,
        subject=f"document/{doc.id}",
        data=DocumentIndexedData(
            agent_id=doc.agent_id,
            document_id=doc.id,
            index_version=index_version,
            **doc.usage.model_dump(),
        ),
    )


def mark_indexed(doc: Document, index_version: int) -> bool:
    """The document is in the live index: indexed, with its DocumentIndexed event, in one
    write conditional on the version read (a document re-queued meanwhile stays as it is)."""
    try:
        repository.update_document(
            doc,
            expected_version=doc.version,
            events=[_indexed(doc, index_version)],
            **_indexed_changes(doc),
        )
    except Conflict:
        return False  # deleted or re-queued meanwhile
    return True


def _read_all(bucket: str, keys: list[str]) -> list[tuple[list[Chunk], Any, str | None]]:
    """The decoded artifacts of ``keys``, in order: from the warm cache, else read from S3
    READ_THREADS at a time."""
    found = {key: _decoded.get(key) for key in keys}
    missing = [key for key, value in found.items() if value is None]
    if missing:
        with ThreadPoolExecutor(min(READ_THREADS, len(missing))) as pool:
            for key, (decoded, size) in zip(
                missing, pool.map(lambda key: _read(bucket, key), missing), strict=True
            ):
                _decoded.put(key, decoded, size)
                found[key] = decoded
    return [value for value in (found[key] for key in keys) if value is not None]


def _read(bucket: str, key: str) -> tuple[tuple[list[Chunk], Any, str | None], int]:
    data, _ = repository.get_object(bucket, key, MAX_ARTIFACT_BYTES)
    return chunk_codec.decode(data), len(data)
