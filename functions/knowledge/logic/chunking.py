"""Structure-aware chunking: a normalized document into retrievable, citable passages.

Rules (deterministic: the same document and settings always give the same chunks and ids):

- Sections. The *top level* is the highest heading level that occurs at least twice (so a lone
  title heading does not make the whole document one section). A chunk never spans two
  top-level sections, except where a section holds nothing but its heading.
- Headings are glued to the content that follows them, so a chunk never ends on a heading
  (the first piece of a long block is shortened to make room); every chunk carries
  ``heading_path`` (outermost first) — the headings common to everything in it. A heading
  longer than 3/4 of ``max_chars`` is not treated as one, and a document's trailing headings
  with no content after them are not indexed.
- Blocks (paragraphs, list items, tables, code) are packed whole, in order, up to
  ``max_chars``. A block longer than that is split: prose at sentence ends, then line breaks,
  then words; tables at row boundaries first (every row is "header: value; ..." so it keeps its
  column names), code at blank lines, then lines. Consecutive pieces overlap by up to
  ``overlap_chars``, starting at a sentence, row or word boundary.
- Pieces are balanced (no 1,190 + 60 split), and a chunk still shorter than ``min_chars`` is
  merged into its neighbour in the same section when the result stays within
  ``max_chars + overlap_chars``.
- Q&A blocks are one chunk each (split like prose only if a single pair exceeds
  ``max_chars``).

Offsets: ``chunk.text == normalize.document_text(doc)[chunk.start:chunk.end]`` exactly.
No chunk is longer than ``max_chars + overlap_chars``.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from knowledge.logic.normalize import document_text, normalize_document
from knowledge.logic.types import Block, Chunk, ChunkingSettings, ParsedDocument

# Sentence ends (also CJK full stops and the ellipsis), closing quotes/brackets, whitespace.
_SENTENCE = re.compile(r"[.!?\u3002\uff01\uff1f\u2026]+[\"'\u201d\u2019)\]]*\s+")
_LINE = re.compile(r"\n")
_BLANK_LINE = re.compile(r"\n\s*\n")
_CELL = re.compile(r"; ")
_WORD = re.compile(r"\s+")


@dataclass
class _Unit:
    """A contiguous span of the normalized text that is never cut further when packing."""

    start: int
    end: int
    path: tuple[str, ...]
    section: int
    first_page: int | None
    last_page: int | None
    kind: str


# ------------------------------------------------------------------------------ splitting


def _boundaries(text: str, start: int, end: int, kind: str) -> list[list[int]]:
    """Candidate cut positions inside text[start:end], best kind of boundary first. A position
    is where the next piece would begin (after the separator)."""
    if kind == "table":
        patterns = [_LINE, _CELL, _WORD]
    elif kind == "code":
        patterns = [_BLANK_LINE, _LINE, _WORD]
    else:
        patterns = [_SENTENCE, _LINE, _WORD]
    return [[m.end() for m in p.finditer(text, start, end) if m.end() < end] for p in patterns]


def _choose_cut(levels: list[list[int]], low: int, target: int, high: int) -> int:
    """The boundary closest to ``target`` within [low, high], from the best level that has
    one; ``high`` itself (a hard cut) when no level does."""
    for positions in levels:
        i, j = bisect_left(positions, low), bisect_right(positions, high)
        if i < j:
            return min(positions[i:j], key=lambda p: (abs(p - target), p))
    return high


def _overlap_start(levels: list[list[int]], cut: int, overlap: int, floor: int) -> int:
    """Where the next piece starts: the earliest good boundary within ``overlap`` before the
    cut, so the overlap begins at a sentence, row or word."""
    if overlap <= 0:
        return cut
    low = max(cut - overlap, floor + 1)
    for positions in levels:
        i = bisect_left(positions, low)
        if i < len(positions) and positions[i] < cut:
            return positions[i]
    return cut


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_span(
    text: str,
    start: int,
    end: int,
    *,
    kind: str,
    limit: int,
    overlap: int,
    first_limit: int | None = None,
) -> list[tuple[int, int]]:
    """Split text[start:end] into pieces of at most ``limit`` characters (the first at most
    ``first_limit``), balanced in size, cut at the best boundaries available."""
    budget = first_limit or limit
    if end - start <= budget:
        return [(start, end)]
    overlap = min(overlap, limit // 3)
    levels = _boundaries(text, start, end, kind)
    pieces: list[tuple[int, int]] = []
    position = start
    while end - position > budget:
        remaining = end - position
        count = math.ceil((remaining - overlap) / (limit - overlap))
        target = min(budget, math.ceil((remaining + (count - 1) * overlap) / max(count, 1)))
        cut = _choose_cut(levels, position + budget // 3, position + target, position + budget)
        pieces.append(_trim(text, position, cut))
        following = _overlap_start(levels, cut, overlap, position)
        position, _ = _trim(text, following, end)
        budget = limit
    pieces.append(_trim(text, position, end))
    return [piece for piece in pieces if piece[1] > piece[0]]


# ------------------------------------------------------------------------------- units


def _top_level(blocks: list[Block]) -> int:
    counts = Counter(block.level for block in blocks if block.kind == "heading")
    repeated = [level for level, count in counts.items() if count >= 2]
    if repeated:
        return min(repeated)
    return min(counts) if counts else 0


def _units(doc: ParsedDocument, text: str, settings: ChunkingSettings) -> list[_Unit]:
    limit = settings.max_chars
    top = _top_level(doc.blocks)
    stack: list[tuple[int, str]] = []
    pending: list[Block] = []
    section = 0
    units: list[_Unit] = []
    for block in doc.blocks:
        if block.kind == "heading":
            if block.level <= top:
                section += 1
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, block.text))
            pending.append(block)
            continue
        path = tuple(heading for _, heading in stack)
        # Glue the headings above this block to it, as long as they leave room for content.
        # Only "headings" longer than 3/4 of a chunk (not real headings) are left unglued.
        glued = pending
        while glued and block.start - glued[0].start > (limit * 3) // 4:
            units.extend(_heading_units(glued[0], text, path, section, settings))
            glued = glued[1:]
        pending = []
        first = glued[0].start if glued else block.start
        pieces = split_span(
            text,
            block.start,
            block.end,
            kind=block.kind,
            limit=limit,
            overlap=settings.overlap_chars,
            first_limit=limit - (block.start - first),
        )
        pages = [b.page for b in (*glued, block) if b.page is not None]
        for index, (start, end) in enumerate(pieces):
            units.append(
                _Unit(
                    start=first if index == 0 else start,
                    end=end,
                    path=path,
                    section=section,
                    first_page=min(pages) if pages else None,
                    last_page=max(pages) if pages else None,
                    kind=block.kind,
                )
            )
    if pending and not units:  # a document of headings only
        for heading in pending:
            units.extend(_heading_units(heading, text, (heading.text,), section, settings))
    return units


def _heading_units(
    block: Block, text: str, path: tuple[str, ...], section: int, settings: ChunkingSettings
) -> list[_Unit]:
    pieces = split_span(
        text,
        block.start,
        block.end,
        kind="paragraph",
        limit=settings.max_chars,
        overlap=settings.overlap_chars,
    )
    return [
        _Unit(start, end, path, section, block.page, block.page, "heading") for start, end in pieces
    ]


# ------------------------------------------------------------------------------ packing


def _pack(units: list[_Unit], limit: int) -> list[list[_Unit]]:
    groups: list[list[_Unit]] = []
    current: list[_Unit] = []
    for unit in units:
        if current and (
            unit.kind == "qa"
            or current[-1].kind == "qa"
            or unit.section != current[0].section
            or unit.end - current[0].start > limit
        ):
            groups.append(current)
            current = []
        current.append(unit)
    if current:
        groups.append(current)
    return groups


def _span(group: list[_Unit]) -> int:
    return group[-1].end - group[0].start


def _mergeable(a: list[_Unit], b: list[_Unit], bound: int) -> bool:
    return (
        a[0].section == b[0].section
        and "qa" not in {a[-1].kind, b[0].kind}
        and b[-1].end - a[0].start <= bound
    )


def _merge_small(groups: list[list[_Unit]], settings: ChunkingSettings) -> list[list[_Unit]]:
    bound = settings.max_chars + settings.overlap_chars
    merged: list[list[_Unit]] = []
    index = 0
    while index < len(groups):
        group = groups[index]
        if _span(group) < settings.min_chars:
            if merged and _mergeable(merged[-1], group, bound):
                merged[-1] = merged[-1] + group
                index += 1
                continue
            following = groups[index + 1] if index + 1 < len(groups) else None
            if following and _mergeable(group, following, bound):
                groups[index + 1] = group + following
                index += 1
                continue
        merged.append(group)
        index += 1
    return merged


def _common_path(paths: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    paths = list(paths)
    common = paths[0]
    for path in paths[1:]:
        size = 0
        while size < min(len(common), len(path)) and common[size] == path[size]:
            size += 1
        common = common[:size]
    return common


def chunk(
    doc: ParsedDocument,
    *,
    document_id: str,
    settings: ChunkingSettings,
    source_url: str | None = None,
    file_name: str | None = None,
    tags: Iterable[str] = (),
) -> list[Chunk]:
    """Chunks of a document, ids ``"<document_id>:<ordinal>"`` from 0, in reading order.

    The document is normalized first (a no-op for what ``parsing`` returns), so offsets always
    index into ``normalize.document_text(doc)``.
    """
    if settings.max_chars < 50 or settings.overlap_chars < 0:
        raise ValueError("max_chars must be at least 50 and overlap_chars not negative")
    doc = normalize_document(doc)
    text = document_text(doc)
    groups = _merge_small(_pack(_units(doc, text, settings), settings.max_chars), settings)
    chunks = []
    for ordinal, group in enumerate(groups):
        start, end = group[0].start, group[-1].end
        pages = [p for u in group for p in (u.first_page, u.last_page) if p is not None]
        chunks.append(
            Chunk(
                chunk_id=f"{document_id}:{ordinal}",
                document_id=document_id,
                ordinal=ordinal,
                text=text[start:end],
                title=doc.title,
                heading_path=_common_path(u.path for u in group),
                start=start,
                end=end,
                page_start=min(pages) if pages else None,
                page_end=max(pages) if pages else None,
                source_url=source_url,
                file_name=file_name,
                tags=tuple(tags),
            )
        )
    return chunks
