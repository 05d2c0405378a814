"""DOCX into blocks by reading the OOXML directly: zipfile + xml.etree, no python-docx/lxml.

A .docx is a zip, so it is treated as hostile until proven otherwise: the entry count and the
sizes the zip directory declares are checked before anything is inflated, and every read is
capped again because a directory can lie. XML with a DTD is refused (OOXML never has one), so
entity tricks never reach the parser.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from xml.etree import ElementTree

from knowledge.logic._parse_common import MIB, DocumentRejected, Limits, render_table
from knowledge.logic.types import Block

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_HEADING_NAME = re.compile(r"^heading\s*([1-6])$")
_HEADING_ID = re.compile(r"^heading([1-6])$", re.I)
_DOCUMENT = "word/document.xml"
_OPTIONAL = ("word/styles.xml", "docProps/core.xml")
_RATIO_FLOOR = 1 * MIB  # small entries may compress extremely well and still be harmless


def _bomb(detail: str) -> DocumentRejected:
    return DocumentRejected(
        "decompression_bomb",
        "The .docx expands to far more data than a document holds and was not opened. "
        "Save it again from your word processor and upload the new file.",
        detail=detail,
    )


def _not_docx(data: bytes) -> DocumentRejected:
    if data.startswith(_OLE):
        if _ENCRYPTED_PACKAGE in data[:65536] or _ENCRYPTED_PACKAGE in data:
            return DocumentRejected(
                "encrypted",
                "The .docx is password-protected. Remove the password in Word "
                "(File → Info → Protect Document) and upload it again.",
            )
        return DocumentRejected(
            "content_mismatch",
            "The file is a legacy Word (.doc) document, not .docx. Save it as .docx and upload "
            "it again.",
        )
    return DocumentRejected(
        "content_mismatch",
        "The file is named .docx but is not a Word document. Upload the original .docx.",
    )


class _Package:
    """The zip, with every size checked before it is read."""

    def __init__(self, data: bytes, limits: Limits) -> None:
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
            raise _not_docx(data) from exc
        if len(infos) > limits.max_zip_entries:
            raise _bomb(f"{len(infos)} entries")
        declared = sum(info.file_size for info in infos)
        if declared > limits.max_docx_uncompressed_bytes:
            raise _bomb(f"{declared} bytes declared")
        self.entries = {info.filename: info for info in infos}
        if _DOCUMENT not in self.entries:
            raise _not_docx(data)
        for name in (_DOCUMENT, *_OPTIONAL):
            info = self.entries.get(name)
            if info and info.file_size > _RATIO_FLOOR:
                ratio = info.file_size / max(info.compress_size, 1)
                if ratio > limits.max_docx_compression_ratio:
                    raise _bomb(f"{name} compressed {ratio:.0f}:1")
        self.budget = limits.max_docx_uncompressed_bytes

    def read(self, name: str) -> bytes | None:
        info = self.entries.get(name)
        if info is None:
            return None
        cap = min(info.file_size, self.budget)
        try:
            with self.zip.open(info) as stream:
                data = stream.read(cap + 1)
        except RuntimeError as exc:  # zipfile: "File is encrypted"
            raise DocumentRejected(
                "encrypted", "The .docx is password-protected. Remove the password first."
            ) from exc
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise _corrupt() from exc
        if len(data) > cap:  # more than declared, or more than the budget left
            raise _bomb(f"{name} inflates past its declared size")
        self.budget -= len(data)
        return data


def _corrupt() -> DocumentRejected:
    return DocumentRejected(
        "corrupt",
        "The .docx could not be read; it may be damaged. Open it in Word, save it again and "
        "upload the new file.",
    )


def _xml(data: bytes) -> ElementTree.Element:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _corrupt()
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise _corrupt() from exc


def _styles(data: bytes | None) -> dict[str, int]:
    """Paragraph style id → heading level (0 for a list style, absent for body text)."""
    levels: dict[str, int] = {}
    if not data:
        return levels
    for style in _xml(data).iter(f"{_W}style"):
        style_id = style.get(f"{_W}styleId") or ""
        name_el = style.find(f"{_W}name")
        name = (name_el.get(f"{_W}val") if name_el is not None else "") or ""
        name = name.strip().lower()
        outline = style.find(f"{_W}pPr/{_W}outlineLvl")
        match = _HEADING_NAME.match(name)
        if match:
            levels[style_id] = int(match.group(1))
        elif name == "title":
            levels[style_id] = 1
        elif outline is not None and (outline.get(f"{_W}val") or "9").isdigit():
            level = int(outline.get(f"{_W}val") or "9") + 1
            if level <= 6:
                levels[style_id] = level
        elif name.startswith("list"):
            levels[style_id] = 0
    return levels


def _paragraph_text(paragraph: ElementTree.Element) -> str:
    parts = []
    for el in paragraph.iter():
        tag = el.tag
        if tag == f"{_W}t":
            parts.append(el.text or "")
        elif tag == f"{_W}tab":
            parts.append(" ")
        elif tag in {f"{_W}br", f"{_W}cr"}:
            parts.append("\n")
        elif tag == f"{_W}noBreakHyphen":
            parts.append("-")
    return "".join(parts)


def _body_items(parent: ElementTree.Element) -> Iterator[ElementTree.Element]:
    """Paragraphs and tables in reading order, through content controls and custom XML."""
    for child in parent:
        if child.tag in {f"{_W}p", f"{_W}tbl"}:
            yield child
        elif child.tag in {f"{_W}sdt", f"{_W}sdtContent", f"{_W}customXml"}:
            yield from _body_items(child)


def _table(table: ElementTree.Element) -> str:
    rows = []
    for row in table.findall(f"{_W}tr"):
        cells = [
            " ".join(_paragraph_text(p) for p in cell.iter(f"{_W}p"))
            for cell in row.findall(f"{_W}tc")
        ]
        rows.append(cells)
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return ""
    if max(len(row) for row in rows) <= 1:
        return "\n".join(row[0] for row in rows)
    # Word tables rarely mark the header row; the first row is the header when there are more.
    return render_table(rows[0], rows[1:]) if len(rows) > 1 else render_table([], rows)


def _paragraph_block(paragraph: ElementTree.Element, styles: dict[str, int]) -> Block | None:
    text = _paragraph_text(paragraph)
    if not text.strip():
        return None
    props = paragraph.find(f"{_W}pPr")
    style_id = ""
    level = None
    listed = False
    if props is not None:
        style = props.find(f"{_W}pStyle")
        style_id = (style.get(f"{_W}val") if style is not None else "") or ""
        outline = props.find(f"{_W}outlineLvl")
        value = outline.get(f"{_W}val") if outline is not None else None
        if value and value.isdigit() and int(value) < 6:
            level = int(value) + 1
        number = props.find(f"{_W}numPr/{_W}numId")
        listed = number is not None and number.get(f"{_W}val") not in {None, "0"}
    if level is None:
        level = styles.get(style_id)
        if level is None and (match := _HEADING_ID.match(style_id)):
            level = int(match.group(1))
        elif level is None and style_id.lower() == "title":
            level = 1
    if level:
        return Block("heading", text, level=level)
    if listed or level == 0:
        return Block("list_item", text)
    return Block("paragraph", text)


def parse_docx(data: bytes, limits: Limits) -> tuple[list[Block], str | None]:
    """Blocks and title of a .docx: headings from paragraph styles (Heading 1-6, Title, outline
    levels), list paragraphs, tables row by row."""
    package = _Package(data, limits)
    styles = _styles(package.read("word/styles.xml"))
    root = _xml(package.read(_DOCUMENT) or b"")
    body = root.find(f"{_W}body")
    blocks: list[Block] = []
    for item in _body_items(body if body is not None else root):
        if item.tag == f"{_W}tbl":
            text = _table(item)
            if text.strip():
                blocks.append(Block("table", text))
        elif block := _paragraph_block(item, styles):
            blocks.append(block)
    return blocks, _title(package.read("docProps/core.xml"), blocks)


def _title(core: bytes | None, blocks: list[Block]) -> str | None:
    if core:
        title = _xml(core).find(f".//{_DC_TITLE}")
        if title is not None and (title.text or "").strip():
            return (title.text or "").strip()
    headings = [b for b in blocks if b.kind == "heading"]
    return min(headings, key=lambda b: b.level).text if headings else None
