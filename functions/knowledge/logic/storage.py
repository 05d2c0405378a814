"""Where a document's bytes and artifacts live in the documents bucket.

uploads/…  is the only prefix that notifies the ingestion queue (files PUT by clients through a
presigned URL); sources/… holds inline text, Q&A and fetched URLs; chunks/… one artifact per
document content and chunking settings; index/… immutable, versioned index artifacts.
"""

from __future__ import annotations

import hashlib
import json

UPLOADS = "uploads/"


def upload_key(tenant_id: str, agent_id: str, document_id: str, file_name: str) -> str:
    return f"{UPLOADS}{tenant_id}/{agent_id}/{document_id}/{file_name}"


def parse_upload_key(key: str) -> tuple[str, str, str, str] | None:
    """(tenant, agent, document, file name) of an upload key, or None for anything else."""
    if not key.startswith(UPLOADS):
        return None
    parts = key[len(UPLOADS) :].split("/")
    if len(parts) != 4 or not all(parts):
        return None
    return parts[0], parts[1], parts[2], parts[3]


def source_key(tenant_id: str, agent_id: str, document_id: str) -> str:
    return f"sources/{tenant_id}/{agent_id}/{document_id}/source"


def chunks_key(tenant_id: str, agent_id: str, document_id: str, content_hash: str) -> str:
    return f"chunks/{tenant_id}/{agent_id}/{document_id}/{content_hash}.json"


def index_prefix(tenant_id: str, agent_id: str, version: int) -> str:
    return f"index/{tenant_id}/{agent_id}/v{version:08d}/"


def content_hash(data: bytes, chunking: dict[str, int]) -> str:
    """Identity of what the index holds for a document: its bytes and how they were chunked."""
    digest = hashlib.sha256(data)
    digest.update(json.dumps(chunking, sort_keys=True).encode())
    return digest.hexdigest()[:32]


def agent_prefixes(tenant_id: str, agent_id: str) -> list[str]:
    """Every prefix under which an agent's objects live."""
    return [f"{area}/{tenant_id}/{agent_id}/" for area in ("uploads", "sources", "chunks", "index")]


INDEX_ROOT = "index/"
CHUNKS_ROOT = "chunks/"


def index_version_of(prefix: str) -> int | None:
    """``index/<t>/<a>/v00000012/`` -> 12 (None for anything else)."""
    name = prefix.rstrip("/").rsplit("/", 1)[-1]
    return int(name[1:]) if name.startswith("v") and name[1:].isdigit() else None


def agent_of_prefix(prefix: str) -> tuple[str, str] | None:
    """``index/<t>/<a>/`` or ``chunks/<t>/<a>/`` -> (tenant, agent)."""
    parts = prefix.strip("/").split("/")
    return (parts[1], parts[2]) if len(parts) == 3 and all(parts) else None
