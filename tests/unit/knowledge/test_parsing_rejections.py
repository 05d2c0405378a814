"""Bad input is refused with a machine reason and a message the user can act on, before any
expensive or dangerous step; nothing comes back half parsed."""

import io
import zipfile

import pytest

from agenthub.errors import ValidationFailed
from knowledge.logic import parsing
from knowledge.logic.parsing import DocumentRejected, Limits
from tests.unit.knowledge.builders import build_docx, build_pdf, document_xml, encrypt_pdf

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


def rejected(data, file_name, content_type=None, limits=None) -> DocumentRejected:
    with pytest.raises(DocumentRejected) as caught:
        parsing.parse(data, file_name=file_name, content_type=content_type, limits=limits)
    error = caught.value
    assert error.message  # always something a user can read
    assert error.details["reason"] == error.reason
    return error


@pytest.mark.parametrize("data", [b"", b"  \n\t\n", "\ufeff".encode()])
def test_empty_file(data):
    assert rejected(data, "notes.txt").reason == "empty"


@pytest.mark.parametrize("name", ["photo.png", "report.doc", "sheet.xlsx", "noextension"])
def test_unsupported_extension(name):
    error = rejected(b"some bytes", name)
    assert error.reason == "unsupported_type"
    assert error.status == 415
    assert ".pdf" in error.message  # tells what is supported


def test_legacy_office_extension_gets_a_hint():
    assert "Save it as .docx" in rejected(b"x", "old.doc", "text/plain").message


@pytest.mark.parametrize("name", ["image.txt", "image.md", "image.csv", "image.html"])
def test_binary_disguised_as_text(name):
    error = rejected(PNG, name)
    assert error.reason == "content_mismatch"
    assert "PNG" in error.message


def test_binary_without_a_known_signature_disguised_as_text():
    blob = bytes(range(256)) * 8
    assert rejected(blob, "data.txt").reason == "content_mismatch"


def test_text_full_of_control_characters_is_not_text():
    noise = ("ab\x01\x02\x03\x04" * 200).encode()
    assert rejected(noise, "log.txt").reason == "content_mismatch"


@pytest.mark.parametrize(
    "data",
    [
        "Привет, как дела? Это текст в старой кодировке.".encode("cp1251"),
        "これは日本語のテキストです。".encode("shift_jis"),
        b"\x81\x8d\x8f\x90\x9d undefined in cp1252",
    ],
)
def test_non_utf8_text_that_is_not_western_is_refused(data):
    error = rejected(data, "legacy.txt")
    assert error.reason == "encoding"
    assert "UTF-8" in error.message


def test_pdf_that_is_not_a_pdf():
    assert rejected(b"<html>not a pdf</html>", "invoice.pdf").reason == "content_mismatch"


def test_corrupt_pdf():
    pdf = build_pdf([[(11, "Some text that will be cut off.", False)]])
    truncated = pdf[: len(pdf) // 3]
    assert rejected(truncated, "broken.pdf").reason == "corrupt"


def test_encrypted_pdf():
    pdf = encrypt_pdf(build_pdf([[(11, "Secret text.", False)]]), user_password="s3cret")
    error = rejected(pdf, "locked.pdf")
    assert error.reason == "encrypted"
    assert "password" in error.message


def test_pdf_without_a_text_layer():
    scanned = build_pdf([[], []], image_only=True)
    error = rejected(scanned, "scan.pdf")
    assert error.reason == "no_text_layer"
    assert "OCR" in error.message


def test_pdf_with_too_many_pages():
    pdf = build_pdf([[(11, f"Page {n} text.", False)] for n in range(4)])
    error = rejected(pdf, "long.pdf", limits=Limits(max_pdf_pages=3))
    assert error.reason == "too_large"
    assert error.details["limit"] == "pages"


def test_file_over_the_byte_limit():
    error = rejected(b"x" * 101, "big.txt", limits=Limits(max_bytes=100))
    assert (error.reason, error.status, error.details["limit"]) == ("too_large", 413, "bytes")


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"word " * 50, "long.txt"),
        (b"<p>" + b"word " * 50 + b"</p>", "long.html"),
        (b"a,b\n" + b"1,2\n" * 40, "long.csv"),
    ],
)
def test_text_over_the_character_limit(data, name):
    assert rejected(data, name, limits=Limits(max_characters=100)).reason == "too_large"


def test_pdf_over_the_character_limit():
    pdf = build_pdf([[(11, "A fairly long line of text on the page.", False)] * 5])
    assert rejected(pdf, "x.pdf", limits=Limits(max_characters=50)).reason == "too_large"


def test_csv_over_the_row_limit():
    data = b"a,b\n" + b"1,2\n" * 11
    error = rejected(data, "rows.csv", limits=Limits(max_csv_rows=10))
    assert (error.reason, error.details["limit"]) == ("too_large", "csv_rows")


def test_docx_that_is_not_a_zip():
    assert rejected(b"just text, renamed", "letter.docx").reason == "content_mismatch"


def test_zip_that_is_not_a_docx():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert rejected(out.getvalue(), "archive.docx").reason == "content_mismatch"


def test_encrypted_docx_is_an_ole_container():
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100 + "EncryptedPackage".encode("utf-16-le")
    assert rejected(ole, "secret.docx").reason == "encrypted"
    legacy = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100 + b"WordDocument"
    assert rejected(legacy, "old.docx").reason == "content_mismatch"


def test_docx_decompression_bomb_is_refused_before_inflating():
    # Given a document.xml of ~20 MiB of one repeated character: a tiny, highly compressible zip
    huge = document_xml([]).encode().replace(b"<w:body>", b"<w:body>" + b" " * (20 * 1024 * 1024))
    bomb = build_docx(document=huge)
    assert len(bomb) < 100_000
    # When it is parsed, Then the declared sizes and ratio reject it
    error = rejected(bomb, "bomb.docx")
    assert error.reason == "decompression_bomb"


def test_docx_bomb_under_the_ratio_but_over_the_total():
    docx = build_docx([("p", None, "x" * 5000)])
    limits = Limits(max_docx_uncompressed_bytes=1000)
    assert rejected(docx, "d.docx", limits=limits).reason == "decompression_bomb"


def test_docx_with_too_many_entries():
    extra = {f"word/media/{n}.bin": b"x" for n in range(20)}
    docx = build_docx([("p", None, "x")], extra=extra)
    error = rejected(docx, "many.docx", limits=Limits(max_zip_entries=10))
    assert error.reason == "decompression_bomb"


def test_docx_whose_directory_lies_about_sizes_is_capped_while_reading():
    # Given a zip whose directory says document.xml is tiny but which inflates to much more
    docx = bytearray(build_docx(document=b"<w:document>" + b" " * 50_000 + b"</w:document>"))
    with zipfile.ZipFile(io.BytesIO(bytes(docx))) as zf:
        info = zf.getinfo("word/document.xml")
        real = info.file_size
    lie = (100).to_bytes(4, "little")
    docx = bytes(docx).replace(real.to_bytes(4, "little"), lie)
    # Then the read stops at the declared size instead of inflating all of it
    assert rejected(docx, "liar.docx").reason in {"decompression_bomb", "corrupt"}


def test_docx_with_a_dtd_is_refused():
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
        b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        b"<w:body><w:p><w:r><w:t>&lol;</w:t></w:r></w:p></w:body></w:document>"
    )
    assert rejected(build_docx(document=evil), "dtd.docx").reason == "corrupt"


def test_rejection_is_a_validation_error_of_the_kernel():
    error = rejected(b"", "empty.txt")
    assert isinstance(error, ValidationFailed)
    assert error.status == 422
    assert error.envelope()["error"]["code"] == "document_rejected"


def test_qa_pair_without_an_answer():
    with pytest.raises(DocumentRejected) as caught:
        parsing.parse_qa([{"question": "Why?", "answer": "  "}])
    assert caught.value.reason == "empty"


def test_inline_text_too_long():
    with pytest.raises(DocumentRejected) as caught:
        parsing.parse_text("x" * 20, limits=Limits(max_characters=10))
    assert caught.value.reason == "too_large"
