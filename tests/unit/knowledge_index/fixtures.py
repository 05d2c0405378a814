"""Small hand-written chunks and a deterministic fake embedder for the index tests."""

from __future__ import annotations

import hashlib

import numpy as np

from knowledge.logic.types import Chunk


def chunk(
    doc: str,
    ordinal: int,
    text: str,
    *,
    title: str = "Handbook",
    headings: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    source_type: str | None = "upload",
) -> Chunk:
    return Chunk(
        chunk_id=f"{doc}:{ordinal}",
        document_id=doc,
        ordinal=ordinal,
        text=text,
        title=title,
        heading_path=headings,
        start=ordinal * 100,
        end=ordinal * 100 + len(text),
        file_name=f"{doc}.md",
        tags=tags,
        source_type=source_type,
    )


def shop_chunks() -> list[Chunk]:
    return [
        chunk(
            "returns",
            0,
            "We accept returns within 30 days of delivery. Items must be unused.",
            title="Returns policy",
            headings=("Returns policy", "Time limits"),
            tags=("policy",),
        ),
        chunk(
            "returns",
            1,
            "Refunds go back to the original payment method within five business days.",
            title="Returns policy",
            headings=("Returns policy", "Refunds"),
            tags=("policy", "payments"),
        ),
        chunk(
            "shipping",
            0,
            "Orders ship from our warehouse in Lyon. Standard delivery takes 3 to 5 days.",
            title="Shipping",
            headings=("Shipping", "Delivery times"),
            tags=("logistics",),
            source_type="url",
        ),
        chunk(
            "shipping",
            1,
            "Express delivery arrives the next business day when ordered before noon.",
            title="Shipping",
            headings=("Shipping", "Express options"),
            tags=("logistics",),
            source_type="url",
        ),
        chunk(
            "faq",
            0,
            "Q: Do you ship abroad? A: Yes, to every EU country; delivery takes a week.",
            title="FAQ",
            headings=("FAQ",),
            source_type="qa",
        ),
        chunk(
            "config",
            0,
            "Set max_connections in postgresql.conf; the server reads it at start.",
            title="Server settings",
            headings=("Server settings", "Connections"),
            source_type="text",
        ),
    ]


class FakeEmbedder:
    """Bag-of-words vectors hashed into `dims` buckets: similar texts get similar vectors,
    and every run gives the same numbers. Counts calls like a real provider would."""

    def __init__(
        self,
        dims: int = 64,
        model_id: str = "fake-embedder-v1",
        synonyms: dict[str, str] | None = None,
    ) -> None:
        self.synonyms = synonyms or {}  # what makes a dense model find other words
        self.model_id = model_id
        self.dims = dims
        self.tokens_used = 0
        self.query_calls = 0

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dims, dtype=np.float32)
        for raw in text.lower().split():
            word = self.synonyms.get(raw.strip(".,;:?!"), raw.strip(".,;:?!"))
            digest = hashlib.sha256(word.encode()).digest()
            vector[digest[0] % self.dims] += 1.0
        self.tokens_used += len(text.split())
        norm = np.linalg.norm(vector)
        return vector / norm if norm else vector

    def embed_documents(self, texts):
        return np.vstack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dims))

    def embed_query(self, text):
        self.query_calls += 1
        return self._vector(text)
