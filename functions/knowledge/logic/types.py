"""The shapes that flow through the document pipeline: parse → normalize → chunk → embed →
index. Plain dataclasses (no pydantic) so the search path stays light."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Block:
    """One structural unit of a parsed document, in reading order.

    kind: "heading" (with level 1-6), "paragraph", "list_item", "table" (text is the table
    rendered as lines "col: value; col: value"), "code", "qa" (a question and its answer).
    page: 1-based page for paged formats (PDF), else None.
    start/end: character offsets of this block in the document's normalized text.
    """

    kind: str
    text: str
    level: int = 0
    page: int | None = None
    start: int = 0
    end: int = 0


@dataclass(frozen=True)
class ParsedDocument:
    title: str
    blocks: list[Block]
    pages: int | None = None  # for paged formats
    characters: int = 0


@dataclass(frozen=True)
class ChunkingSettings:
    """Recorded per source so a re-index is reproducible."""

    max_chars: int = 1200
    overlap_chars: int = 150
    min_chars: int = 200

    def as_dict(self) -> dict[str, int]:
        return {
            "max_chars": self.max_chars,
            "overlap_chars": self.overlap_chars,
            "min_chars": self.min_chars,
        }


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage with what a citation needs.

    heading_path: the headings above the passage, outermost first (["Backup", "pg_dump"]).
    start/end: character offsets into the document's normalized text.
    page_start/page_end: pages for paged formats.
    """

    chunk_id: str  # "<document_id>:<ordinal>"
    document_id: str
    ordinal: int
    text: str
    title: str
    heading_path: tuple[str, ...] = ()
    start: int = 0
    end: int = 0
    page_start: int | None = None
    page_end: int | None = None
    source_url: str | None = None
    file_name: str | None = None
    tags: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)
    # "upload" | "text" | "url" | "qa": what search filters on (None: unknown)
    source_type: str | None = None


@dataclass(frozen=True)
class SearchHit:
    chunk: Chunk
    score: float
    # Share (0-1) of the query's IDF weight whose terms this chunk contains: comparable
    # across queries and corpora, unlike `score`; low for every hit means weak retrieval.
    coverage: float | None = None
    # Share (0-1) of the question's neighbouring content-word pairs that stand within a few
    # words of each other in this chunk: "page-level locks" near each other, not "page" in
    # one paragraph and "lock" in another. Separates a passage *about* the question from one
    # that merely shares its words (see conversations' abstention).
    proximity: float | None = None
