import pytest

from knowledge.logic.normalize import (
    dehyphenate,
    document_text,
    normalize_document,
    normalize_text,
    strip_repeated_page_lines,
)
from knowledge.logic.types import Block, ParsedDocument


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Cafe\u0301", "Café"),  # NFC
        ("a\r\nb\rc", "a\nb\nc"),
        ("zero\u200bwidth\ufeff and soft\u00adhyphen", "zerowidth and softhyphen"),
        ("bell\x07 and\x00 nul", "bell and nul"),
        ("non\u00a0breaking\u2009thin   spaces\ttab", "non breaking thin spaces tab"),
        ("  line one  \n\n\n   line two ", "line one\nline two"),
        ("keep\u200dzwj", "keep\u200dzwj"),  # ZWJ carries meaning in emoji and Indic scripts
    ],
)
def test_prose_rules(raw, expected):
    assert normalize_text(raw) == expected


def test_code_keeps_indentation_and_inner_blank_lines():
    code = "\n\ndef f():\n\tif x:   \n        return 1\n\n\n\n    return 2\n\n"
    assert normalize_text(code, "code") == ("def f():\n    if x:\n        return 1\n\n    return 2")


def test_heading_is_one_line():
    assert normalize_text("Getting\n  started", "heading") == "Getting started"


def test_pdf_paragraphs_are_reflowed_and_dehyphenated():
    text = "The infor-\nmation is stored in a data-\nbase. Jean-\nPaul said so."
    assert normalize_text(text, "paragraph", paged=True) == (
        "The information is stored in a database. Jean- Paul said so."
    )
    assert dehyphenate("well-\n  known") == "well-\n  known"  # only a lowercase letter joins


def test_normalizing_twice_changes_nothing():
    raw = " A\u00a0b-\nc \n\n d\u200b \r\n e\x01 "
    for kind in ("paragraph", "heading", "table", "code", "qa"):
        once = normalize_text(raw, kind, paged=True)
        assert normalize_text(once, kind, paged=True) == once


def test_document_offsets_index_the_joined_text():
    doc = ParsedDocument(
        title="  My\n title ",
        blocks=[
            Block("heading", " Intro ", level=1),
            Block("paragraph", "\u200b  "),  # becomes empty: dropped
            Block("paragraph", "First  para."),
            Block("table", "a: 1\n\nb: 2"),
        ],
    )
    normalized = normalize_document(doc)
    text = document_text(normalized)
    assert text == "Intro\n\nFirst para.\n\na: 1\nb: 2"
    assert normalized.title == "My title"
    assert normalized.characters == len(text)
    assert [(b.start, b.end) for b in normalized.blocks] == [(0, 5), (7, 18), (20, 29)]
    assert normalize_document(normalized) == normalized


def test_running_headers_and_footers_are_removed():
    pages = [
        ["ACME Manual", f"Body text {n}.", "More body.", f"Page {n} of 4"] for n in range(1, 5)
    ]
    cleaned = strip_repeated_page_lines(pages)
    assert cleaned == [[f"Body text {n}.", "More body."] for n in range(1, 5)]


def test_repeated_lines_need_enough_pages():
    pages = [["Header", "text"], ["Header", "other"]]
    assert strip_repeated_page_lines(pages) == pages
