"""The real ingestion path for one document: knowledge's parser, then its chunker, with the
settings a new source gets by default. HTML goes in as an uploaded file; reStructuredText as
inline text (a Markdown text source, what a site owner pasting their sources would send)."""

from __future__ import annotations

from dataclasses import replace

from knowledge.logic import chunking, parsing
from knowledge.logic.types import Chunk, ChunkingSettings

CHUNKER = "knowledge.logic.chunking"


def ingest(data: bytes, *, file_name: str, document_id: str, kind: str = "html") -> list[Chunk]:
    if kind == "html":
        doc = parsing.parse(data, file_name=file_name, content_type="text/html")
        source_type = "upload"
    else:
        doc = parsing.parse_text(data.decode("utf-8"), kind="markdown")
        source_type = "text"
    chunks = chunking.chunk(
        doc, document_id=document_id, settings=ChunkingSettings(), file_name=file_name
    )
    return [replace(c, source_type=source_type) for c in chunks]
