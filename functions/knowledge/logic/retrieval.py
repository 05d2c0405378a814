"""Search an agent's knowledge: the public logic function other domains call in process.

Per warm environment: the live index pointer is cached for POINTER_TTL seconds (so a new
version is noticed within that bound without a DynamoDB read per query) and loaded indexes
are kept per (tenant, agent, version), least recently used first out.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from agenthub.cache import TTLCache
from agenthub.environment import cached, on_reset, ttl_cache
from knowledge.dal import repository
from knowledge.logic.types import SearchHit
from knowledge.models import IndexPointer, SearchFilters

POINTER_TTL = 10.0
MAX_LOADED_INDEXES = 8
# Loaded indexes kept per environment, by their memory (a 1 GB function keeps ~400 MB of them).
MAX_LOADED_BYTES = 400 * 1024 * 1024
MAX_ARTIFACT_BYTES = 1024 * 1024 * 1024

_pointers: TTLCache[IndexPointer] = ttl_cache(POINTER_TTL, max_entries=1024)
_loaded: OrderedDict[tuple[str, str, int], Any] = OrderedDict()
on_reset(_loaded.clear)


@dataclass(frozen=True)
class SearchResult:
    index_version: int
    hits: list[SearchHit]


def index_pointer(tenant_id: str, agent_id: str, *, fresh: bool = False) -> IndexPointer:
    key = (tenant_id, agent_id)
    pointer = None if fresh else _pointers.get(key)
    if pointer is None:
        pointer = repository.get_pointer(tenant_id, agent_id)
        _pointers.set(key, pointer)
    return pointer


def index_view(pointer: IndexPointer) -> dict[str, Any]:
    """What a client sees of the index: the live version, and whether a build is coming."""
    view = pointer.model_dump(
        include={"agent_id", "version", "documents", "chunks", "embedding_model", "built_at"}
    )
    view["pending_changes"] = pointer.pending_changes
    view["build_scheduled"] = pointer.build_due_at is not None
    return view


def index_version(tenant_id: str, agent_id: str) -> int:
    """The agent's live index version (0: none yet), from the pointer cached POINTER_TTL s."""
    return index_pointer(tenant_id, agent_id).version


@cached
def embedder(provider: str, model_id: str | None, dimensions: int) -> Any:
    """The deployment's embedder, one per environment; None when it does not embed (the
    offline default: BM25 only)."""
    if provider.strip().lower() in ("", "none"):
        return None
    from knowledge.logic import embeddings

    return embeddings.embedder_from_settings(provider, model_id=model_id, dimensions=dimensions)


def search(
    tenant_id: str,
    agent_id: str,
    query: str,
    *,
    k: int,
    filters: SearchFilters | None,
    bucket: str,
    embedder: Any = None,
) -> SearchResult:
    """Ranked chunks with what a citation needs. The caller has checked the agent belongs
    to the tenant; an agent without an index yet returns no hits. ``embedder`` (the one the
    index was built with) adds dense retrieval, fused by reciprocal rank."""
    pointer = index_pointer(tenant_id, agent_id)
    if pointer.version == 0 or pointer.prefix is None:
        return SearchResult(index_version=0, hits=[])
    index = _load(pointer, bucket)
    from knowledge.logic import search_index

    use_dense = embedder is not None and pointer.embedding_model is not None
    hits = index.search(
        query,
        k=k,
        filters=search_index.Filters.from_model(filters),
        embedder=embedder if use_dense else None,
    )
    return SearchResult(index_version=pointer.version, hits=hits)


def _load(pointer: IndexPointer, bucket: str) -> Any:
    key = (pointer.tenant_id, pointer.agent_id, pointer.version)
    index = _loaded.get(key)
    if index is not None:
        _loaded.move_to_end(key)
        return index
    from knowledge.logic import search_index

    assert pointer.prefix is not None
    files = {
        name: repository.get_object(bucket, pointer.prefix + name, MAX_ARTIFACT_BYTES)[0]
        for name in search_index.ARTIFACT_NAMES
    }
    index = search_index.load_index(files)
    # An older version of the same agent is never needed again in this environment.
    for stale in [k for k in _loaded if k[:2] == key[:2]]:
        del _loaded[stale]
    _loaded[key] = index
    while len(_loaded) > 1 and (
        len(_loaded) > MAX_LOADED_INDEXES
        or sum(i.memory_bytes for i in _loaded.values()) > MAX_LOADED_BYTES
    ):
        _loaded.popitem(last=False)
    return index
