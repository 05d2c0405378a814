"""What every parser shares: the limits, the rejection error, binary sniffing and text decoding.

Private to the parsers; ``knowledge.logic.parsing`` re-exports the public names.
"""

from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass
from typing import Any

from agenthub.errors import ValidationFailed

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one document may be. Every limit is checked before the expensive step it guards."""

    max_bytes: int = 10 * MIB  # the file as uploaded or fetched
    max_pdf_pages: int = 500
    max_characters: int = 2_000_000  # extracted text, before chunking
    max_csv_rows: int = 100_000
    max_csv_columns: int = 200
    # .docx is a zip: the sizes its directory declares are checked before anything is inflated,
    # and every read is capped again, because a directory can lie.
    max_docx_uncompressed_bytes: int = 64 * MIB
    max_docx_compression_ratio: int = 100  # per entry, for entries above 1 MiB inflated
    max_zip_entries: int = 1_000


class DocumentRejected(ValidationFailed):
    """A document we will not index, with a machine ``reason`` and a message a user can act on.

    Reasons: empty, unsupported_type, content_mismatch, corrupt, encrypted, no_text_layer,
    too_large, encoding, decompression_bomb. ``too_large`` maps to 413 and
    ``unsupported_type`` to 415; every other reason is a 422.
    """

    code = "document_rejected"
    _STATUS_BY_REASON = {"too_large": 413, "unsupported_type": 415}

    def __init__(self, reason: str, message: str, **details: Any) -> None:
        super().__init__(message, details={"reason": reason, **details})
        self.reason = reason
        self.status = self._STATUS_BY_REASON.get(reason, 422)


def too_large(what: str, limit: int, unit: str) -> DocumentRejected:
    return DocumentRejected(
        "too_large",
        f"The document has more {unit} than the limit of {limit:,}; split it into smaller files.",
        limit=what,
        maximum=limit,
    )


def check_characters(count: int, limits: Limits) -> None:
    if count > limits.max_characters:
        raise too_large("characters", limits.max_characters, "characters of text")


# ------------------------------------------------------------------------- binary sniffing

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a zip archive (or a .docx/.xlsx)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office document (.doc/.xls)"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "an executable"),
    (b"MZ", "a Windows executable"),
    (b"RIFF", "a media file"),
    (b"ID3", "an MP3 file"),
    (b"OggS", "an audio file"),
    (b"\x00\x00\x00", "a binary file"),
)


_WEAK_SIGNATURES = frozenset({b"MZ", b"RIFF", b"ID3", b"OggS"})


def sniff_binary(data: bytes) -> str | None:
    """Name the binary format ``data`` starts with, if it is a well-known one."""
    head = data[:16]
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            # "MZ", "ID3"... are also how a text file may start; only a NUL nearby makes them
            # the binary format.
            if signature in _WEAK_SIGNATURES and b"\x00" not in data[:64]:
                continue
            return name
    if head[4:8] == b"ftyp":
        return "a video or image file"
    return None


def reject_binary(kind: str, detected: str) -> DocumentRejected:
    return DocumentRejected(
        "content_mismatch",
        f"The file is named as {kind} but its content looks like {detected}. "
        "Upload it with its real extension, or export it as text.",
        detected=detected,
    )


# -------------------------------------------------------------------------- text decoding
#
# The rule (the one place it is written down; parsing.parse applies it to .txt/.md/.csv/.html):
#  1. A byte-order mark decides: UTF-8, UTF-16 or UTF-32.
#  2. A charset the source declared (HTTP Content-Type, HTML <meta charset>) is honoured when the
#     bytes decode with it.
#  3. Valid UTF-8 is UTF-8.
#  4. UTF-16 without a BOM is recognised by its NUL in every other byte (Windows "Unicode"
#     exports); any other NUL byte means a binary file.
#  5. Windows-1252 (a superset of Latin-1 for printable text, and what Excel and Notepad on a
#     Western Windows save by default) is accepted only when the result looks like Western
#     European text: every byte maps, no control characters, and the accented letters sit inside
#     words that also have plain ASCII letters ("café", "Größe"). Cyrillic, Greek or CJK text in
#     a legacy code page fails that test instead of being indexed as mojibake.
#  6. Anything else is rejected with reason "encoding": "save the file as UTF-8".
#  HTML follows the browsers instead of 5-6: without a declared charset, non-UTF-8 is cp1252.

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _encoding_error(kind: str) -> DocumentRejected:
    return DocumentRejected(
        "encoding",
        f"The {kind} is not UTF-8 text and its encoding could not be recognised. "
        "Save it as UTF-8 (in most editors: Save As → Encoding: UTF-8) and upload it again.",
    )


def _bom_encoding(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return None


def _utf16_without_bom(data: bytes) -> str | None:
    if len(data) < 4 or len(data) % 2:
        return None
    sample = data[:4096]
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    half = len(sample) // 2
    if odd_nuls > 0.6 * half and even_nuls < 0.05 * half:
        return "utf-16-le"
    if even_nuls > 0.6 * half and odd_nuls < 0.05 * half:
        return "utf-16-be"
    return None


def _looks_western(text: str) -> bool:
    """True when cp1252-decoded text reads like a Western European language."""
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f" for ch in text):
        return False
    words = "".join(ch if ch.isalpha() else " " for ch in text).split()
    accented = [word for word in words if not word.isascii()]
    if not accented:
        return True  # only typographic quotes, dashes or € were outside ASCII
    mixed = sum(1 for word in accented if any(ch.isascii() for ch in word))
    return mixed >= 0.7 * len(accented) and len(accented) <= 0.5 * len(words)


def _declared(data: bytes, charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        codec = codecs.lookup(charset.strip().strip("\"'"))
    except LookupError:
        return None
    try:
        return data.decode(codec.name)
    except UnicodeDecodeError:
        return None


def _control_ratio(text: str) -> float:
    sample = text[:65536]
    if not sample:
        return 0.0
    controls = sum(
        1 for ch in sample if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f\v"
    )
    return controls / len(sample)


def decode_text(
    data: bytes, *, kind: str, declared_charset: str | None = None, html: bool = False
) -> str:
    """Decode a text file by the rule above; raise DocumentRejected when it is not text."""
    encoding = _bom_encoding(data)
    if encoding:
        try:
            return _checked_text(data.decode(encoding), kind)
        except UnicodeDecodeError:
            raise _encoding_error(kind) from None
    text = _declared(data, declared_charset)
    if text is None and b"\x00" in data:
        utf16 = _utf16_without_bom(data)
        if utf16 is None:
            raise reject_binary(kind, sniff_binary(data) or "a binary file")
        text = data.decode(utf16, errors="replace")
    if text is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _decode_legacy(data, kind, html=html)
    return _checked_text(text, kind)


def _decode_legacy(data: bytes, kind: str, *, html: bool) -> str:
    if html:
        return data.decode("cp1252", errors="replace")
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise _encoding_error(kind) from None
    if not _looks_western(text):
        raise _encoding_error(kind)
    return text


def _checked_text(text: str, kind: str) -> str:
    if _control_ratio(text) > 0.01:
        raise reject_binary(kind, "a binary file")
    return text


def content_type_parts(content_type: str | None) -> tuple[str, str | None]:
    """("text/html", "iso-8859-1") from "text/html; charset=ISO-8859-1"."""
    if not content_type:
        return "", None
    media, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'").lower()
    return media.strip().lower(), charset


# ---------------------------------------------------------------------------------- tables


def render_row(header: list[str], row: list[str]) -> str:
    """One table row as "header: value; header: value", so a row is retrievable on its own.

    Empty cells are left out; a cell without a header is named by its column number.
    """
    parts = []
    for index, raw in enumerate(row):
        cell = " ".join(raw.split())
        if not cell:
            continue
        name = " ".join(header[index].split()) if index < len(header) else ""
        parts.append(f"{name or f'column {index + 1}'}: {cell}")
    return "; ".join(parts)


def render_table(header: list[str], rows: list[list[str]]) -> str:
    """A table as one line per row; a table with only a header row lists the header."""
    if not rows:
        return "; ".join(cell for cell in (" ".join(h.split()) for h in header) if cell)
    return "\n".join(line for line in (render_row(header, row) for row in rows) if line)
