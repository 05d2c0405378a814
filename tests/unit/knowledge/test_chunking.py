import itertools
import random

import pytest

from knowledge.logic import parsing
from knowledge.logic.chunking import chunk, split_span
from knowledge.logic.normalize import document_text, normalize_document
from knowledge.logic.types import Block, ChunkingSettings, ParsedDocument

SETTINGS = ChunkingSettings(max_chars=300, overlap_chars=60, min_chars=80)


def sentence(n: int, words: int = 12) -> str:
    return " ".join(f"w{n}x{i}" for i in range(words)).capitalize() + "."


def paragraph(n: int, sentences: int) -> str:
    return " ".join(sentence(n * 100 + i) for i in range(sentences))


def check_invariants(doc: ParsedDocument, chunks, settings: ChunkingSettings) -> None:
    doc = normalize_document(doc)
    text = document_text(doc)
    for ordinal, c in enumerate(chunks):
        assert c.chunk_id == f"{c.document_id}:{ordinal}"
        assert c.ordinal == ordinal
        assert text[c.start : c.end] == c.text, "offsets map back to the normalized text"
        assert c.text.strip() == c.text and c.text
        assert len(c.text) <= settings.max_chars + settings.overlap_chars
        last = [b for b in doc.blocks if b.start < c.end <= b.end + 1]
        assert not (last and last[-1].kind == "heading"), "no heading left at a chunk end"
    # Everything that is not a heading is covered by some chunk.
    for block in doc.blocks:
        if block.kind != "heading":
            assert any(c.start <= block.start and block.end <= c.end for c in chunks) or any(
                c.start < block.end and block.start < c.end for c in chunks
            )


def test_sections_headings_and_paths():
    # Given a document with a title, two top-level sections and a subsection
    doc = parsing.parse_text(
        "# Handbook\n\nWelcome.\n\n## Leave\n\nYou get 25 days.\n\n### Sick leave\n\n"
        "Call before 9.\n\n## Expenses\n\nKeep receipts.",
        kind="markdown",
    )
    # When it is chunked with room for everything in one chunk
    chunks = chunk(doc, document_id="d1", settings=ChunkingSettings(max_chars=1000))
    # Then no chunk spans the two top-level (##) sections, headings lead their content,
    # and each chunk knows the headings above it
    assert [(c.text, c.heading_path) for c in chunks] == [
        ("Handbook\n\nWelcome.", ("Handbook",)),
        (
            "Leave\n\nYou get 25 days.\n\nSick leave\n\nCall before 9.",
            ("Handbook", "Leave"),
        ),
        ("Expenses\n\nKeep receipts.", ("Handbook", "Expenses")),
    ]
    check_invariants(doc, chunks, ChunkingSettings(max_chars=1000))


def test_paragraphs_are_packed_up_to_max_chars():
    blocks = [Block("paragraph", paragraph(n, 2)) for n in range(6)]  # ~2 x 110 chars each
    doc = ParsedDocument(title="T", blocks=blocks)
    chunks = chunk(doc, document_id="d", settings=SETTINGS)
    assert 1 < len(chunks) < len(blocks)
    for c in chunks:
        assert len(c.text) <= SETTINGS.max_chars
    check_invariants(doc, chunks, SETTINGS)


def test_long_paragraph_splits_at_sentences_with_overlap():
    long = paragraph(1, 12)  # ~1,300 characters
    doc = ParsedDocument(title="T", blocks=[Block("paragraph", long)])
    chunks = chunk(doc, document_id="d", settings=SETTINGS)
    text = document_text(normalize_document(doc))
    assert len(chunks) >= 5
    for previous, current in itertools.pairwise(chunks):
        assert current.start < previous.end, "consecutive pieces overlap"
        assert previous.end - current.start <= SETTINGS.overlap_chars
        assert previous.text.endswith(".")  # cut at a sentence end
        assert text[current.start - 1] == " "  # the overlap starts at a word
    check_invariants(doc, chunks, SETTINGS)


def test_sentence_free_text_splits_at_words():
    words = " ".join(f"token{i}" for i in range(200))
    doc = ParsedDocument(title="T", blocks=[Block("paragraph", words)])
    chunks = chunk(doc, document_id="d", settings=SETTINGS)
    text = document_text(normalize_document(doc))
    for c in chunks:
        assert c.start == 0 or text[c.start - 1] == " "
        assert c.end == len(text) or text[c.end] == " "
    check_invariants(doc, chunks, SETTINGS)


def test_pieces_are_balanced_instead_of_leaving_a_tiny_tail():
    text = paragraph(1, 3)
    pieces = split_span(text, 0, len(text), kind="paragraph", limit=len(text) - 20, overlap=0)
    sizes = [end - start for start, end in pieces]
    assert len(sizes) == 2
    assert min(sizes) > len(text) // 4


def test_tiny_trailing_piece_merges_into_previous_chunk_of_its_section():
    blocks = [
        Block("heading", "Section", level=2),
        Block("paragraph", paragraph(1, 2)),
        Block("paragraph", paragraph(2, 1)),
        Block("paragraph", "Short tail."),
        Block("heading", "Next", level=2),
        Block("paragraph", "Other section."),
    ]
    doc = ParsedDocument(title="T", blocks=blocks)
    settings = ChunkingSettings(max_chars=300, overlap_chars=60, min_chars=80)
    chunks = chunk(doc, document_id="d", settings=settings)
    assert any(c.text.endswith("Short tail.") and len(c.text) > 80 for c in chunks)
    # The small section on its own is not merged across the section boundary.
    assert chunks[-1].text == "Next\n\nOther section."
    check_invariants(doc, chunks, settings)


def test_tables_split_at_rows_and_every_row_keeps_its_header():
    rows = [[f"Product {n}", f"{n * 3} EUR", f"SKU-{n:04d}"] for n in range(40)]
    body = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    markdown = "## Price list\n\n| Name | Price | Code |\n|---|---|---|\n" + body
    doc = parsing.parse_text(markdown, kind="markdown")
    chunks = chunk(doc, document_id="d", settings=SETTINGS)
    assert len(chunks) > 3
    for c in chunks:
        assert c.heading_path == ("Price list",)
        lines = [line for line in c.text.split("\n") if line and line != "Price list"]
        for line in lines:
            assert line.startswith("Name: Product ")
            assert "; Price: " in line
            assert "; Code: SKU-" in line  # whole rows: never cut mid-row
    check_invariants(doc, chunks, SETTINGS)


def test_qa_pairs_are_one_chunk_each():
    doc = parsing.parse_qa([("Q1?", "A1."), ("Q2?", "A2."), ("Q3?", "A3.")])
    chunks = chunk(doc, document_id="faq", settings=SETTINGS)
    assert [c.text for c in chunks] == ["Q: Q1?\nA: A1.", "Q: Q2?\nA: A2.", "Q: Q3?\nA: A3."]


def test_pdf_pages_are_carried_to_chunks():
    blocks = [
        Block("heading", "Intro", level=1, page=1),
        Block("paragraph", "First page text.", page=1),
        Block("paragraph", "Second page text.", page=2),
    ]
    doc = ParsedDocument(title="T", blocks=blocks, pages=2)
    (only,) = chunk(doc, document_id="d", settings=SETTINGS)
    assert (only.page_start, only.page_end) == (1, 2)


def test_metadata_and_ids_are_deterministic():
    doc = parsing.parse_text(
        "# A\n\n" + paragraph(1, 8) + "\n\n# B\n\n" + paragraph(2, 3), kind="markdown"
    )
    kwargs = {
        "document_id": "doc-7",
        "settings": SETTINGS,
        "source_url": "https://example.com/a",
        "file_name": "a.md",
        "tags": ["faq", "en"],
    }
    first = chunk(doc, **kwargs)
    assert first == chunk(doc, **kwargs)
    assert [c.chunk_id for c in first] == [f"doc-7:{n}" for n in range(len(first))]
    assert {(c.title, c.source_url, c.file_name, c.tags) for c in first} == {
        ("A", "https://example.com/a", "a.md", ("faq", "en"))
    }


def test_a_long_heading_still_leads_its_content():
    long_heading = "Heading " * 25  # ~200 characters: two thirds of max_chars
    blocks = [
        Block("paragraph", paragraph(1, 1)),
        Block("heading", long_heading, level=2),
        Block("paragraph", paragraph(2, 2)),
    ]
    doc = ParsedDocument(title="T", blocks=blocks)
    chunks = chunk(doc, document_id="d", settings=SETTINGS)
    assert chunks[1].text.startswith("Heading Heading")
    assert chunks[1].heading_path == (long_heading.strip(),)
    check_invariants(doc, chunks, SETTINGS)


@pytest.mark.parametrize("seed", range(25))
def test_invariants_hold_on_random_documents(seed):
    rng = random.Random(seed)
    blocks = []
    for n in range(rng.randint(1, 40)):
        roll = rng.random()
        if roll < 0.2:
            blocks.append(Block("heading", f"Heading {n}", level=rng.randint(1, 3)))
        elif roll < 0.3:
            rows = "\n".join(f"col: {n}-{r}; other: {'x' * rng.randint(1, 90)}" for r in range(9))
            blocks.append(Block("table", rows))
        elif roll < 0.35:
            blocks.append(Block("code", "\n".join(f"line_{i} = {i}" for i in range(40))))
        elif roll < 0.4:
            blocks.append(Block("paragraph", "x" * rng.randint(1, 900)))  # no boundaries at all
        else:
            blocks.append(Block("paragraph", paragraph(n, rng.randint(1, 9))))
    doc = ParsedDocument(title="Random", blocks=blocks)
    settings = ChunkingSettings(
        max_chars=rng.choice([120, 300, 800]),
        overlap_chars=rng.choice([0, 30, 100]),
        min_chars=rng.choice([0, 50, 150]),
    )
    chunks = chunk(doc, document_id="r", settings=settings)
    check_invariants(doc, chunks, settings)
    assert chunks == chunk(doc, document_id="r", settings=settings)
