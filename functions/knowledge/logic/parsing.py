"""Documents into structured, normalized blocks: .txt, .md, .html/.htm, .pdf, .docx, .csv,
inline text/Markdown and Q&A pairs.

Every parser is imported inside the function that needs it (pypdf only for a PDF): this module
itself costs the standard library's ``re`` and ``dataclasses`` and nothing else. The document
returned is normalized (``knowledge.logic.normalize``): block offsets index into
``normalize.document_text(doc)``.

Bad input raises ``DocumentRejected`` with a machine ``reason`` and a message the user can act
on; nothing is returned half parsed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from knowledge.logic._parse_common import (
    DocumentRejected,
    Limits,
    check_characters,
    content_type_parts,
    decode_text,
    reject_binary,
    render_row,
    render_table,
    sniff_binary,
    too_large,
)
from knowledge.logic.normalize import normalize_document
from knowledge.logic.types import Block, ParsedDocument

__all__ = [
    "DOCX_CONTENT_TYPE",
    "SUPPORTED_EXTENSIONS",
    "DocumentRejected",
    "Limits",
    "detect_kind",
    "parse",
    "parse_qa",
    "parse_text",
]

DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

_EXTENSIONS = {
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".csv": "csv",
}
SUPPORTED_EXTENSIONS = (".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".csv")
_MEDIA_TYPES = {
    "text/plain": "text",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    DOCX_CONTENT_TYPE: "docx",
    "text/csv": "csv",
    "application/csv": "csv",
}
_TEXT_KINDS = frozenset({"text", "markdown", "html", "csv"})
_HINTS = {
    ".doc": "Save it as .docx first.",
    ".xls": "Export the sheet as .csv first.",
    ".xlsx": "Export the sheet as .csv first.",
    ".pptx": "Export it as PDF first.",
    ".ppt": "Export it as PDF first.",
    ".rtf": "Save it as .docx or .txt first.",
    ".odt": "Save it as .docx first.",
}


def detect_kind(file_name: str, content_type: str | None) -> str:
    """The parser for a file: its extension when supported, else its declared media type."""
    extension = PurePosixPath(file_name or "").suffix.lower()
    if extension in _EXTENSIONS:
        return _EXTENSIONS[extension]
    media, _ = content_type_parts(content_type)
    if media in _MEDIA_TYPES and extension not in _HINTS:
        return _MEDIA_TYPES[media]
    hint = _HINTS.get(extension, "")
    shown = extension or "files without an extension"
    raise DocumentRejected(
        "unsupported_type",
        f"{shown} is not a supported format. {hint} Supported: "
        f"{', '.join(SUPPORTED_EXTENSIONS)}.".replace("  ", " "),
        extension=extension,
    )


def parse(
    data: bytes, *, file_name: str, content_type: str | None, limits: Limits | None = None
) -> ParsedDocument:
    """Parse a file into a normalized ParsedDocument, or raise DocumentRejected."""
    limits = limits or Limits()
    if len(data) > limits.max_bytes:
        raise too_large("bytes", limits.max_bytes, "bytes")
    kind = detect_kind(file_name, content_type)
    if not data.strip():
        raise DocumentRejected("empty", "The file is empty. Upload a file that contains text.")
    _, charset = content_type_parts(content_type)
    if kind in _TEXT_KINDS and (detected := sniff_binary(data)):
        raise reject_binary(f"a {kind} file", detected)
    title: str | None
    pages = None
    if kind == "pdf":
        from knowledge.logic._parse_pdf import parse_pdf

        blocks, title, pages = parse_pdf(data, limits)
    elif kind == "docx":
        from knowledge.logic._parse_docx import parse_docx

        blocks, title = parse_docx(data, limits)
    elif kind == "html":
        from knowledge.logic._parse_html import declared_charset, parse_html

        text = decode_text(
            data, kind="HTML page", declared_charset=charset or declared_charset(data), html=True
        )
        blocks, title = parse_html(text)
    else:
        text = decode_text(data, kind=f"{kind} file", declared_charset=charset)
        check_characters(len(text), limits)
        blocks, title = _parse_decoded(text, kind, limits)
    return _finish(ParsedDocument(title=title or file_name, blocks=blocks, pages=pages), limits)


def _parse_decoded(text: str, kind: str, limits: Limits) -> tuple[list[Block], str | None]:
    from knowledge.logic import _parse_text

    if kind == "csv":
        return _parse_csv(text, limits), None
    if kind == "markdown":
        return _parse_text.parse_markdown(text)
    return _parse_text.parse_plain(text), None


def _finish(doc: ParsedDocument, limits: Limits) -> ParsedDocument:
    doc = normalize_document(doc)
    check_characters(doc.characters, limits)
    if not doc.blocks:
        raise DocumentRejected("empty", "The document contains no text to index.")
    return doc


def _parse_csv(text: str, limits: Limits) -> list[Block]:
    """Each row becomes one table block "header: value; ..." (the first row is the header)."""
    import csv
    import io

    sample = text[:65536]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    blocks: list[Block] = []
    header: list[str] | None = None
    try:
        for row in csv.reader(io.StringIO(text), dialect):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > limits.max_csv_columns:
                raise too_large("csv_columns", limits.max_csv_columns, "columns")
            if header is None:
                header = row
                continue
            if len(blocks) >= limits.max_csv_rows:
                raise too_large("csv_rows", limits.max_csv_rows, "rows")
            if line := render_row(header, row):
                blocks.append(Block("table", line))
    except csv.Error as exc:
        raise DocumentRejected(
            "corrupt", f"The CSV could not be read ({exc}). Export it again as CSV (UTF-8)."
        ) from exc
    if header and not blocks:
        blocks.append(Block("table", render_table(header, [])))
    return blocks


def parse_text(
    text: str,
    kind: str = "text",
    *,
    title: str | None = None,
    limits: Limits | None = None,
) -> ParsedDocument:
    """Parse inline text or Markdown (``kind`` "text" or "markdown")."""
    from knowledge.logic import _parse_text

    limits = limits or Limits()
    check_characters(len(text), limits)
    if kind == "markdown":
        blocks, found = _parse_text.parse_markdown(text)
    elif kind == "text":
        blocks, found = _parse_text.parse_plain(text), None
    else:
        raise ValueError(f"unknown inline kind {kind!r}")
    if not text.strip():
        raise DocumentRejected("empty", "The text is empty.")
    first_line = next((b.text.split("\n")[0] for b in blocks), "Text")
    return _finish(ParsedDocument(title=title or found or first_line[:80], blocks=blocks), limits)


def _pair(pair: Mapping[str, Any] | Sequence[Any]) -> tuple[str, str]:
    if isinstance(pair, Mapping):
        return str(pair.get("question") or ""), str(pair.get("answer") or "")
    question, answer = pair
    return str(question or ""), str(answer or "")


def parse_qa(
    pairs: Iterable[Mapping[str, Any] | Sequence[Any]],
    *,
    title: str = "Questions and answers",
    limits: Limits | None = None,
) -> ParsedDocument:
    """Q&A pairs (dicts with question/answer, or 2-tuples): one "qa" block per pair, text
    "Q: ...\\nA: ...". The chunker keeps each pair in a chunk of its own."""
    blocks = []
    for raw in pairs:
        question, answer = (part.strip() for part in _pair(raw))
        if question and answer:
            blocks.append(Block("qa", f"Q: {question}\nA: {answer}"))
        elif question or answer:
            raise DocumentRejected(
                "empty", "Every question needs an answer, and every answer a question."
            )
    return _finish(ParsedDocument(title=title, blocks=blocks), limits or Limits())
