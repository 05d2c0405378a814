"""Per-document chunk artifacts: the chunks (and optional vectors) of one document content,
stored once in S3 so index rebuilds never re-parse or re-embed unchanged documents."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from typing import Any

from knowledge.logic.types import Chunk

FORMAT = 1


def encode(
    chunks: list[Chunk],
    *,
    content_hash: str,
    settings: dict[str, int],
    vectors: Any = None,
    embedding_model: str | None = None,
) -> bytes:
    payload: dict[str, Any] = {
        "format": FORMAT,
        "content_hash": content_hash,
        "settings": settings,
        "chunks": [asdict(chunk) for chunk in chunks],
        "embedding_model": embedding_model,
        "vectors": None,
    }
    if vectors is not None:
        import numpy as np

        matrix = np.asarray(vectors, dtype=np.float32)
        payload["vectors"] = {
            "shape": list(matrix.shape),
            "data": base64.b64encode(matrix.tobytes()).decode(),
        }
    return json.dumps(payload, separators=(",", ":")).encode()


def decode(data: bytes) -> tuple[list[Chunk], Any, str | None]:
    """(chunks, vectors or None, embedding model id or None)."""
    payload = json.loads(data)
    if payload.get("format") != FORMAT:
        raise ValueError(f"unknown chunk artifact format {payload.get('format')}")
    chunks = [
        Chunk(
            **{
                **raw,
                "heading_path": tuple(raw.get("heading_path") or ()),
                "tags": tuple(raw.get("tags") or ()),
            }
        )
        for raw in payload["chunks"]
    ]
    vectors = None
    if payload.get("vectors"):
        import numpy as np

        shape = tuple(payload["vectors"]["shape"])
        raw_vectors = base64.b64decode(payload["vectors"]["data"])
        vectors = np.frombuffer(raw_vectors, dtype=np.float32).reshape(shape)
    return chunks, vectors, payload.get("embedding_model")
