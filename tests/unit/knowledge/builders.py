"""Tiny, dependency-free builders for the binary fixtures the parser tests need (PDF, DOCX).

Fixtures are generated in the tests rather than committed: they stay small, readable and
obviously free of anything but what the test is about.
"""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

# A line of a PDF page: (font size, text, bold).
PdfLine = tuple[float, str, bool]


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("cp1252") + b")"


def build_pdf(
    pages: list[list[PdfLine]], *, title: str | None = None, image_only: bool = False
) -> bytes:
    """A valid PDF with one content stream per page, Helvetica text at the given sizes.

    image_only=True draws a filled rectangle instead of text: what a scanned page looks like to
    a text extractor (content, but no text layer).
    """
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # placeholders, filled once the page ids are known
    pages_id = add(b"")
    regular = add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    bold = add(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"
    )
    page_ids = []
    for lines in pages:
        if image_only:
            stream = b"0.5 g 72 72 468 648 re f"
        else:
            parts = []
            y = 760.0
            for size, text, is_bold in lines:
                y -= size * 1.6
                font = b"/F2" if is_bold else b"/F1"
                parts.append(
                    b"BT "
                    + font
                    + b" %.1f Tf 72 %.1f Td " % (size, y)
                    + _pdf_string(text)
                    + b" Tj ET"
                )
            stream = b"\n".join(parts)
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        page_ids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] " % pages_id
                + b"/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >> " % (regular, bold)
                + b"/Contents %d 0 R >>" % content
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    objects[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids))
    info = add(b"<< /Title " + _pdf_string(title) + b" >>") if title else None

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objects) + 1, catalog)
    if info:
        trailer += b" /Info %d 0 R" % info
    out.write(b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def encrypt_pdf(data: bytes, *, user_password: str, owner_password: str = "owner") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------- DOCX

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

# A body item: ("p", style or None, text) | ("li", None, text) | ("table", rows)
DocxItem = tuple


def _run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r>'


def _paragraph(text: str, style: str | None = None, *, numbered: bool = False) -> str:
    props = ""
    if style or numbered:
        inner = f'<w:pStyle w:val="{style}"/>' if style else ""
        if numbered:
            inner += '<w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr>'
        props = f"<w:pPr>{inner}</w:pPr>"
    return f"<w:p>{props}{_run(text)}</w:p>"


def _table(rows: list[list[str]]) -> str:
    body = "".join(
        "<w:tr>" + "".join(f"<w:tc>{_paragraph(cell)}</w:tc>" for cell in row) + "</w:tr>"
        for row in rows
    )
    return f"<w:tbl>{body}</w:tbl>"


def document_xml(items: list[DocxItem]) -> str:
    parts = []
    for item in items:
        if item[0] == "p":
            parts.append(_paragraph(item[2], item[1]))
        elif item[0] == "li":
            parts.append(_paragraph(item[2], numbered=True))
        elif item[0] == "table":
            parts.append(_table(item[1]))
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{_W}"><w:body>{"".join(parts)}</w:body></w:document>'
    )


_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<w:styles xmlns:w="{_W}">'
    '<w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/></w:style>'
    '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/></w:style>'
    '<w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/></w:style>'
    # A localized style id: only the name says it is a heading.
    '<w:style w:type="paragraph" w:styleId="berschrift3"><w:name w:val="heading 3"/></w:style>'
    "</w:styles>"
)

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/>'
    "</Types>"
)


def _core(title: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        "<cp:coreProperties "
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:title>{escape(title)}</dc:title></cp:coreProperties>"
    )


def build_docx(
    items: list[DocxItem] | None = None,
    *,
    title: str | None = None,
    document: bytes | None = None,
    extra: dict[str, bytes] | None = None,
) -> bytes:
    """A minimal .docx: [Content_Types].xml, word/document.xml, word/styles.xml, core props."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr(
            "word/document.xml",
            document if document is not None else document_xml(items or []),
        )
        zf.writestr("word/styles.xml", _STYLES)
        if title is not None:
            zf.writestr("docProps/core.xml", _core(title))
        for name, body in (extra or {}).items():
            zf.writestr(name, body)
    return out.getvalue()
