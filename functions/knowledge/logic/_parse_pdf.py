"""PDF into blocks with pypdf (pure Python; imported only when a PDF is parsed).

pypdf gives text, not structure. Structure is recovered from what its extraction visitor
reports per text run: the effective font size and the font name. The size that carries the most
characters is the body size; short lines set clearly larger (or bold at body size) are
headings, ranked by size. Lines are grouped into paragraphs at blank lines, at a short line
that ends a sentence, and at list markers. Running headers and footers are removed first.
"""

from __future__ import annotations

import io
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from knowledge.logic._parse_common import DocumentRejected, Limits, too_large
from knowledge.logic.normalize import strip_repeated_page_lines
from knowledge.logic.types import Block

# Bullets: • ▪ ◦ ‣ ● ○ ■ □ ➢ ►, hyphen, en dash, asterisk, Symbol/Wingdings private-use glyphs.
_BULLET = re.compile(
    r"^\s*([\u2022\u25aa\u25e6\u2023\u25cf\u25cb\u25a0\u25a1\u27a2\u25ba\-\u2013*\uf0b7\uf0a7]"
    r"|\(?\d{1,3}[.)]|[a-z][.)])\s+"
)
_SENTENCE_END = re.compile(r"[.!?:;\"\u201d\u2019)\]]$")
_JUNK_TITLE = re.compile(
    r"^(untitled|document\d*|microsoft word - .*|.*\.(docx?|pdf|tex|dvi))$", re.I
)
_MAX_HEADING_CHARS = 150
# "7", "iv", "Page 3", "Page 3 of 10", "3/10", "- 3 -": a page number alone on its line.
_PAGE_NUMBER = re.compile(
    r"^(page\s*)?(\d{1,4}|[ivxlcdm]{1,7})(\s*(of|/)\s*\d{1,4})?$|^[-\u2013\u2014]\s*\d{1,4}\s*[-\u2013\u2014]$",
    re.I,
)
_DOT_LEADER = re.compile(r"(\.\s?){4,}")  # a table-of-contents line, not a heading


@dataclass
class _Line:
    text: str
    size: float | None = None  # effective font size in points, when the visitor reported it
    bold: bool = False


def _scale(matrix: Any) -> float:
    try:
        return math.hypot(float(matrix[2]), float(matrix[3])) or 1.0
    except (TypeError, IndexError, ValueError):
        return 1.0


def _font_name(font: Any) -> str:
    try:
        return str(font.get("/BaseFont", "")) if font else ""
    except AttributeError:
        return ""


def _page_lines(page: Any) -> list[_Line]:
    fragments: list[tuple[str, float, bool]] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if text:
            effective = float(size or 0) * _scale(tm) * _scale(cm)
            bold = "bold" in _font_name(font).lower() or "black" in _font_name(font).lower()
            fragments.append((text, round(effective * 2) / 2, bold))

    extracted = page.extract_text(visitor_text=visit) or ""
    if "".join(f[0] for f in fragments).strip() != extracted.strip():
        # The visitor's runs do not add up to the page's text: keep the text, lose the sizes.
        return [_Line(line) for line in extracted.split("\n")]
    lines: list[_Line] = []
    text: list[str] = []
    weights: Counter[tuple[float, bool]] = Counter()
    for fragment, size, bold in fragments:
        for index, part in enumerate(fragment.split("\n")):
            if index:
                lines.append(_line(text, weights))
                text, weights = [], Counter()
            text.append(part)
            weights[(size, bold)] += len(part.strip())
    lines.append(_line(text, weights))
    return lines


def _line(text: list[str], weights: Counter[tuple[float, bool]]) -> _Line:
    joined = "".join(text)
    if not weights or not sum(weights.values()):
        return _Line(joined)
    (size, bold), _ = weights.most_common(1)[0]
    return _Line(joined, size or None, bold)


class _HeadingRanks:
    """Maps a line's font size and weight to a heading level, or 0 for body text."""

    def __init__(self, pages: list[list[_Line]]) -> None:
        chars: Counter[float] = Counter()
        for lines in pages:
            for line in lines:
                if line.size:
                    chars[line.size] += len(line.text.strip())
        self.body = chars.most_common(1)[0][0] if chars else 0.0
        sizes = sorted(
            {
                line.size
                for lines in pages
                for line in lines
                if line.size and self.body and line.size >= self.body * 1.15
                if self._heading_like(line.text)
            },
            reverse=True,
        )[:5]
        self.levels = {size: index + 1 for index, size in enumerate(sizes)}
        self.bold_level = len(sizes) + 1
        total = sum(1 for lines in pages for line in lines if line.text.strip())
        headings = sum(1 for lines in pages for line in lines if self.level(line))
        # If 40% of all lines look like headings, the heuristic is not working on this file.
        self.enabled = bool(self.body) and headings <= max(5, total * 0.4)

    @staticmethod
    def _heading_like(text: str) -> bool:
        text = text.strip()
        return (
            1 < len(text) <= _MAX_HEADING_CHARS
            and any(ch.isalpha() for ch in text)
            and not text.endswith((".", ",", ";"))
            and not _DOT_LEADER.search(text)
        )

    def level(self, line: _Line) -> int:
        if not line.size or not self._heading_like(line.text):
            return 0
        if line.size in self.levels:
            return self.levels[line.size]
        if line.bold and self.body and line.size >= self.body * 0.95 and len(line.text) <= 80:
            return min(self.bold_level, 6)
        return 0

    def __call__(self, line: _Line) -> int:
        return self.level(line) if self.enabled else 0


def _page_blocks(lines: list[_Line], page: int, rank: _HeadingRanks, width: int) -> list[Block]:
    blocks: list[Block] = []
    current: list[str] = []
    kind = "paragraph"
    heading: tuple[int, list[str]] | None = None

    def flush() -> None:
        nonlocal current, heading
        if heading:
            blocks.append(Block("heading", " ".join(heading[1]), level=heading[0], page=page))
            heading = None
        if current:
            blocks.append(Block(kind, "\n".join(current), page=page))
            current = []

    for line in lines:
        text = line.text.strip()
        level = rank(line)
        if not text:
            flush()
        elif level:
            if heading and heading[0] == level and not current:
                heading[1].append(text)  # a heading wrapped over two lines
            else:
                flush()
                heading = (level, [text])
        elif bullet := _BULLET.match(text):
            flush()
            kind, current = "list_item", [text[bullet.end() :]]
        else:
            if heading:
                flush()
            if not current:
                kind = "paragraph"
            current.append(text)
            if _SENTENCE_END.search(text) and len(text) < 0.8 * width:
                flush()  # a short line that ends a sentence ends its paragraph
    flush()
    return blocks


def _without_page_numbers(lines: list[_Line]) -> list[_Line]:
    """Drop a page number standing alone as the first or last line of a page."""
    nonblank = [i for i, line in enumerate(lines) if line.text.strip()]
    edges = {nonblank[0], nonblank[-1]} if nonblank else set()
    return [
        line
        for i, line in enumerate(lines)
        if not (i in edges and _PAGE_NUMBER.match(line.text.strip()))
    ]


def _typical_width(pages: list[list[_Line]]) -> int:
    lengths = sorted(len(line.text.strip()) for lines in pages for line in lines if line.text)
    return lengths[int(len(lengths) * 0.9)] if lengths else 80


def _open(data: bytes) -> Any:
    from pypdf import PasswordType, PdfReader

    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        try:
            decrypted = reader.decrypt("")
        except Exception:  # pypdf: a missing crypto backend, an unknown handler, bad keys
            decrypted = PasswordType.NOT_DECRYPTED
        if decrypted == PasswordType.NOT_DECRYPTED:
            raise DocumentRejected(
                "encrypted",
                "The PDF is password-protected. Remove the password (print or export it to a "
                "new PDF) and upload it again.",
            )
    return reader


def _corrupt() -> DocumentRejected:
    return DocumentRejected(
        "corrupt",
        "The PDF could not be read; it may be damaged or incomplete. "
        "Open it and save or export it again, then upload the new file.",
    )


def _title(reader: Any, blocks: list[Block]) -> str | None:
    try:
        meta = reader.metadata
        title = str(meta.title).strip() if meta and meta.title else ""
    except Exception:  # a malformed /Info dictionary is no reason to reject the text
        title = ""
    if title and not _JUNK_TITLE.match(title):
        return title
    first_page = [b for b in blocks if b.page == blocks[0].page] if blocks else []
    headings = [b for b in first_page if b.kind == "heading"]
    if headings:
        return min(headings, key=lambda b: b.level).text
    return blocks[0].text.split("\n")[0][:200] if blocks else None


def parse_pdf(data: bytes, limits: Limits) -> tuple[list[Block], str | None, int]:
    """Blocks, title and page count of a PDF; rejects encrypted, corrupt and scanned files."""
    if b"%PDF-" not in data[:1024]:
        raise DocumentRejected(
            "content_mismatch",
            "The file is named .pdf but is not a PDF. Upload the original document.",
        )
    try:
        reader = _open(data)
        count = len(reader.pages)
    except DocumentRejected:
        raise
    except Exception as exc:  # pypdf raises a long tail of types on damaged files
        raise _corrupt() from exc
    if count > limits.max_pdf_pages:
        raise too_large("pages", limits.max_pdf_pages, "pages")
    pages: list[list[_Line]] = []
    characters = 0
    failed = 0
    for page in reader.pages:
        try:
            lines = _page_lines(page)
        except Exception:  # one damaged page; the others may still be fine
            failed += 1
            lines = []
        characters += sum(len(line.text) for line in lines)
        if characters > limits.max_characters:
            raise too_large("characters", limits.max_characters, "characters of text")
        pages.append(lines)
    if count and failed == count:
        raise _corrupt()
    pages = strip_repeated_page_lines(pages, text=lambda line: line.text)
    pages = [_without_page_numbers(lines) for lines in pages]
    rank = _HeadingRanks(pages)
    width = _typical_width(pages)
    blocks = [
        block
        for number, lines in enumerate(pages, start=1)
        for block in _page_blocks(lines, number, rank, width)
    ]
    if not any(ch.isalnum() for block in blocks for ch in block.text):
        raise DocumentRejected(
            "no_text_layer",
            "The PDF has no text layer (it looks scanned or made of images). Run OCR on it, "
            "or export the text from the original document, and upload that.",
        )
    return blocks, _title(reader, blocks), count
