"""Text normalization for parsed documents, and the offsets that chunks and citations use.

The normalized text of a document is defined exactly as::

    document_text(doc) == "\\n\\n".join(block.text for block in doc.blocks)

after ``normalize_document``: every block's ``start``/``end`` is the half-open range of its text
in that string (``text[b.start:b.end] == b.text``), blocks are separated by exactly two newlines,
and no block text is empty or begins/ends with whitespace. Chunk offsets point into the same
string, so a citation can always be mapped back to the passage it quotes.

Rules, per block (all idempotent: normalizing twice changes nothing):

- Unicode NFC; ``\\r\\n``/``\\r``, vertical tab, form feed and U+2028/U+2029 become ``\\n``.
- Zero-width space, word joiner, BOM and soft hyphen are removed; ZWJ/ZWNJ stay (they change
  the meaning of Persian, Indic and emoji text). Other control characters are removed; tabs and
  every Unicode space (NBSP, thin space...) become a plain space.
- Prose (paragraph, heading, list item, Q&A): runs of spaces collapse to one, lines are
  trimmed, blank lines inside a block collapse. Headings become one line.
- Tables keep one row per line; code keeps its indentation and inner blank lines (only
  trailing spaces and leading/trailing blank lines go).
- Blocks from paged sources (``page`` set, i.e. PDF) are reflowed: a line break inside a
  paragraph becomes a space, and a word hyphenated across a line break is joined
  ("infor-\\nmation" → "information").
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from knowledge.logic.types import Block, ParsedDocument

BLOCK_SEPARATOR = "\n\n"
MAX_TITLE_CHARS = 300

_REMOVED = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad"))
_NEWLINES = re.compile(r"\r\n|[\r\v\f\u2028\u2029\x85]")
_SPACES = re.compile(r"[^\S\n]+")  # any whitespace except a newline
_BLANK_LINES = re.compile(r"\n{2,}")
_CODE_BLANK_RUNS = re.compile(r"\n{3,}")
# A lowercase letter, a hyphen at the end of a line, a lowercase letter on the next.
_HYPHENATED = re.compile(r"(?<=[^\W\d_])-\n(?=[a-zß-öø-ÿ])")
_DIGITS = re.compile(r"\d+")

_PROSE_KINDS = frozenset({"paragraph", "heading", "list_item", "qa"})


def _strip_controls(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _NEWLINES.sub("\n", text).translate(_REMOVED)
    if text.isascii() and text.isprintable():
        return text
    out = []
    for ch in text:
        if ch in "\n\t":
            out.append(ch)
        elif ch.isspace():
            out.append(" ")
        elif unicodedata.category(ch) != "Cc":
            out.append(ch)
    return "".join(out)


def dehyphenate(text: str) -> str:
    """Join words split by a hyphen at a line break ("infor-\\nmation" → "information").

    Only when a lowercase letter follows, so "Jean-\\nPaul" and list dashes are left alone.
    """
    return _HYPHENATED.sub("", text)


def normalize_text(text: str, kind: str = "paragraph", *, paged: bool = False) -> str:
    """Normalize one block's text by the rules of its kind (see the module docstring)."""
    text = _strip_controls(text)
    if kind == "code":
        lines = [line.rstrip() for line in text.replace("\t", "    ").split("\n")]
        return _CODE_BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip("\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = _BLANK_LINES.sub("\n", "\n".join(lines)).strip()
    if kind == "heading":
        return text.replace("\n", " ")
    if paged and kind in _PROSE_KINDS:
        return dehyphenate(text).replace("\n", " ")
    return text


def normalize_title(title: str) -> str:
    text = normalize_text(title, "heading")
    return text[:MAX_TITLE_CHARS].rstrip()


def normalize_document(doc: ParsedDocument) -> ParsedDocument:
    """Normalize every block, drop empty ones, and set offsets and the character count."""
    blocks: list[Block] = []
    position = 0
    for block in doc.blocks:
        text = normalize_text(block.text, block.kind, paged=block.page is not None)
        if not text:
            continue
        if blocks:
            position += len(BLOCK_SEPARATOR)
        blocks.append(replace(block, text=text, start=position, end=position + len(text)))
        position += len(text)
    return replace(doc, title=normalize_title(doc.title), blocks=blocks, characters=position)


def document_text(doc: ParsedDocument) -> str:
    """The normalized text that block and chunk offsets refer to."""
    return BLOCK_SEPARATOR.join(block.text for block in doc.blocks)


def _line_key(line: str) -> str:
    # Page numbers change from page to page; "Page 3 of 10" and "Page 4 of 10" are one footer.
    return _DIGITS.sub("#", " ".join(line.split()).casefold())


def _edge_span(lines: list[Any], edge: int) -> int:
    # On a short page the edges would be the whole page: look at one line at each end.
    return min(edge, max(1, len(lines) // 3))


def strip_repeated_page_lines[T](
    pages: list[list[T]],
    *,
    text: Callable[[T], str] = str,
    edge: int = 2,
    min_pages: int = 3,
) -> list[list[T]]:
    """Drop running headers and footers: lines among the first or last ``edge`` lines of a page
    that recur (digits ignored) on at least half the pages, when there are ``min_pages`` or more.

    Cheap (one pass, a counter) and conservative: body text rarely repeats at the same place on
    half the pages, while a repeated header would otherwise land in every chunk.
    """
    if len(pages) < min_pages:
        return pages
    counts: Counter[str] = Counter()
    for lines in pages:
        span = _edge_span(lines, edge)
        edges = {_line_key(text(line)) for line in lines[:span] + lines[-span:]}
        edges.discard("")
        counts.update(edges)
    threshold = max(min_pages, (len(pages) + 1) // 2)
    repeated = {key for key, count in counts.items() if count >= threshold}
    if not repeated:
        return pages
    cleaned = []
    for lines in pages:
        keep = []
        span = _edge_span(lines, edge)
        last = len(lines) - span
        for index, line in enumerate(lines):
            at_edge = index < span or index >= last
            if not (at_edge and _line_key(text(line)) in repeated):
                keep.append(line)
        cleaned.append(keep)
    return cleaned
