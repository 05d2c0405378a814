"""The real ingestion path for one HTML file: knowledge's parser, then its chunker, with
the settings a new source gets by default."""

from __future__ import annotations

from dataclasses import replace

from knowledge.logic import chunking, parsing
from knowledge.logic.types import Chunk, ChunkingSettings

CHUNKER = "knowledge.logic.chunking"


def ingest(data: bytes, *, file_name: str, document_id: str) -> list[Chunk]:
    doc = parsing.parse(data, file_name=file_name, content_type="text/html")
    chunks = chunking.chunk(
        doc, document_id=document_id, settings=ChunkingSettings(), file_name=file_name
    )
    return [replace(c, source_type="upload") for c in chunks]
