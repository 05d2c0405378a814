"""Each supported format parses into the blocks a reader would see: headings with levels,
paragraphs, list items, tables row by row, code, pages, and the document's own title."""

import pytest

from knowledge.logic import parsing
from knowledge.logic.normalize import document_text
from tests.unit.knowledge.builders import build_docx, build_pdf, encrypt_pdf


def kinds(doc):
    return [(b.kind, b.level, b.text) for b in doc.blocks]


def assert_offsets(doc):
    text = document_text(doc)
    assert doc.characters == len(text)
    for block in doc.blocks:
        assert text[block.start : block.end] == block.text


MARKDOWN = b"""# Returns policy

We accept returns within **30 days** of [delivery](https://shop.example/delivery).

Shipping costs
--------------

- Standard shipping is free
  above 50 EUR.
- Express costs 9 EUR.

1. Pack the item
2. Print the label

| Plan | Price | Seats |
|------|------:|-------|
| Basic | 10 EUR | 1 |
| Team | 40 EUR | 5 |

```python
def refund(order):

    return order.total
```

### Notes
Use `__init__` files.
"""


def test_markdown_structure():
    # Given a Markdown file with headings, lists, a pipe table and fenced code
    # When it is parsed
    doc = parsing.parse(MARKDOWN, file_name="returns.md", content_type=None)
    # Then each construct becomes its own block, inline markup stripped
    assert doc.title == "Returns policy"
    assert kinds(doc) == [
        ("heading", 1, "Returns policy"),
        ("paragraph", 0, "We accept returns within 30 days of delivery."),
        ("heading", 2, "Shipping costs"),
        ("list_item", 0, "Standard shipping is free\nabove 50 EUR."),
        ("list_item", 0, "Express costs 9 EUR."),
        ("list_item", 0, "Pack the item"),
        ("list_item", 0, "Print the label"),
        ("table", 0, "Plan: Basic; Price: 10 EUR; Seats: 1\nPlan: Team; Price: 40 EUR; Seats: 5"),
        ("code", 0, "def refund(order):\n\n    return order.total"),
        ("heading", 3, "Notes"),
        ("paragraph", 0, "Use __init__ files."),
    ]
    assert_offsets(doc)


def test_markdown_front_matter_title_wins():
    doc = parsing.parse_text("---\ntitle: Handbook\n---\n# Intro\n\nText.", kind="markdown")
    assert doc.title == "Handbook"
    assert kinds(doc) == [("heading", 1, "Intro"), ("paragraph", 0, "Text.")]


def test_plain_text_paragraphs_lists_and_underlined_headings():
    text = (
        "Opening hours\n=============\n\nWe are open\nMonday to Friday.\n\n"
        "- Saturday: 10-14\n- Sunday: closed\n"
    )
    doc = parsing.parse(text.encode(), file_name="hours.txt", content_type="text/plain")
    assert doc.title == "hours.txt"
    assert kinds(doc) == [
        ("heading", 1, "Opening hours"),
        ("paragraph", 0, "We are open\nMonday to Friday."),
        ("list_item", 0, "Saturday: 10-14"),
        ("list_item", 0, "Sunday: closed"),
    ]


HTML = b"""<!doctype html><html><head><title>Acme Help</title>
<style>body{color:red}</style><script>var secret = "do not index";</script></head>
<body><nav><a href="/">Home</a><a href="/shop">Shop</a></nav>
<header class="site-header">Acme Inc. menu</header>
<main>
<h1>Billing<a class="headerlink" href="#billing">\xc2\xb6</a></h1>
<p>Invoices are sent &amp; paid<br>monthly.</p>
<h2>Plans</h2>
<ul><li>Monthly<li>Yearly</ul>
<table><thead><tr><th>Plan</th><th>Price</th></tr></thead>
<tbody><tr><td>Basic</td><td>10</td></tr><tr><td>Pro</td><td>30</td></tr></tbody></table>
<pre>curl -X POST /v1/invoices
  --data amount=10</pre>
<div hidden>hidden text</div>
<aside>Related articles</aside>
</main>
<footer>Copyright Acme</footer></body></html>"""


def test_html_keeps_content_and_drops_chrome():
    # Given a page with navigation, scripts, a footer and an aside around its <main>
    doc = parsing.parse(HTML, file_name="billing.html", content_type="text/html; charset=utf-8")
    # Then only the content is read, with its structure
    assert doc.title == "Acme Help"
    assert kinds(doc) == [
        ("heading", 1, "Billing"),
        ("paragraph", 0, "Invoices are sent & paid\nmonthly."),
        ("heading", 2, "Plans"),
        ("list_item", 0, "Monthly"),
        ("list_item", 0, "Yearly"),
        ("table", 0, "Plan: Basic; Price: 10\nPlan: Pro; Price: 30"),
        ("code", 0, "curl -X POST /v1/invoices\n  --data amount=10"),
    ]
    text = document_text(doc)
    for noise in ("secret", "Home", "Copyright", "Related", "hidden text", "menu"):
        assert noise not in text
    assert_offsets(doc)


def test_html_without_title_uses_first_h1_and_reads_whole_body():
    page = b"<body><div><h1>FAQ</h1><p>Question one?</p></div><footer>x</footer></body>"
    doc = parsing.parse(page, file_name="faq.htm", content_type=None)
    assert doc.title == "FAQ"
    assert kinds(doc) == [("heading", 1, "FAQ"), ("paragraph", 0, "Question one?")]


def test_html_declared_legacy_charset_is_honoured():
    page = "<html><head><meta charset='iso-8859-1'></head><body><p>Caf\xe9 cr\xe8me</p>"
    doc = parsing.parse(page.encode("latin-1"), file_name="menu.html", content_type=None)
    assert doc.blocks[0].text == "Café crème"


def test_pdf_headings_from_font_sizes_pages_and_dehyphenation():
    # Given a two-page PDF with a large heading, a bold subheading, a word hyphenated across
    # a line break, a bullet and a running footer
    pdf = build_pdf(
        [
            [
                (20, "Installation Guide", False),
                (11, "This guide explains the infor-", False),
                (11, "mation you need to install the product on a server.", False),
                (13, "Requirements", True),
                (11, "- Python 3.12 or newer", False),
                (9, "ACME confidential", False),
            ],
            [
                (13, "Upgrading", True),
                (11, "Stop the service before you upgrade it.", False),
                (9, "ACME confidential", False),
            ],
            [
                (11, "Appendix text on the third page.", False),
                (9, "ACME confidential", False),
            ],
        ],
        title="Acme Installation",
    )
    # When it is parsed
    doc = parsing.parse(pdf, file_name="guide.pdf", content_type="application/pdf")
    # Then headings are ranked by size, pages recorded, hyphenation and footer gone
    assert doc.title == "Acme Installation"
    assert doc.pages == 3
    assert [(b.kind, b.level, b.page, b.text) for b in doc.blocks] == [
        ("heading", 1, 1, "Installation Guide"),
        (
            "paragraph",
            0,
            1,
            "This guide explains the information you need to install the product on a server.",
        ),
        ("heading", 2, 1, "Requirements"),
        ("list_item", 0, 1, "Python 3.12 or newer"),
        ("heading", 2, 2, "Upgrading"),
        ("paragraph", 0, 2, "Stop the service before you upgrade it."),
        ("paragraph", 0, 3, "Appendix text on the third page."),
    ]
    assert_offsets(doc)


def test_pdf_title_falls_back_to_first_heading():
    pdf = build_pdf([[(20, "Price List 2025", False), (11, "All prices include VAT.", False)]])
    doc = parsing.parse(pdf, file_name="prices.pdf", content_type=None)
    assert doc.title == "Price List 2025"


def test_pdf_with_only_an_owner_password_opens():
    # Permission-only encryption (no password to open) is common; it must not block indexing.
    pdf = encrypt_pdf(build_pdf([[(11, "Readable despite encryption.", False)]]), user_password="")
    doc = parsing.parse(pdf, file_name="locked.pdf", content_type=None)
    assert doc.blocks[0].text == "Readable despite encryption."


def test_docx_styles_lists_tables_and_core_title():
    # Given a .docx with Title/Heading styles (one localized), a numbered list and a table
    docx = build_docx(
        [
            ("p", "Title", "Employee Handbook"),
            ("p", "Heading1", "Leave"),
            ("p", None, "Everyone gets 25 days."),
            ("li", None, "Ask your manager"),
            ("li", None, "Record it in the HR tool"),
            ("table", [["Years", "Extra days"], ["5", "2"], ["10", "5"]]),
            ("p", "berschrift3", "Sick leave"),
            ("p", None, "Call in before 9."),
        ],
        title="Handbook 2025",
    )
    doc = parsing.parse(docx, file_name="handbook.docx", content_type=None)
    assert doc.title == "Handbook 2025"
    assert kinds(doc) == [
        ("heading", 1, "Employee Handbook"),
        ("heading", 1, "Leave"),
        ("paragraph", 0, "Everyone gets 25 days."),
        ("list_item", 0, "Ask your manager"),
        ("list_item", 0, "Record it in the HR tool"),
        ("table", 0, "Years: 5; Extra days: 2\nYears: 10; Extra days: 5"),
        ("heading", 3, "Sick leave"),
        ("paragraph", 0, "Call in before 9."),
    ]


def test_docx_title_falls_back_to_first_top_level_heading():
    # Without core properties, the first heading of the highest level names the document.
    docx = build_docx([("p", "Heading2", "Minor"), ("p", "Heading1", "Major"), ("p", None, "x")])
    assert parsing.parse(docx, file_name="d.docx", content_type=None).title == "Major"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"name,price\nBasic,10\nPro,30\n", ["name: Basic; price: 10", "name: Pro; price: 30"]),
        (b"name;price\nBasic;10\n\n;\nPro;\n", ["name: Basic; price: 10", "name: Pro"]),
        (b"a\tb\n1\t2\n", ["a: 1; b: 2"]),
        (b'q,"a, with comma"\n"x",y,extra\n', ["q: x; a, with comma: y; column 3: extra"]),
    ],
)
def test_csv_rows_become_table_blocks_with_their_header(data, expected):
    doc = parsing.parse(data, file_name="prices.csv", content_type="text/csv")
    assert [(b.kind, b.text) for b in doc.blocks] == [("table", line) for line in expected]


def test_utf16_with_bom_and_cp1252_text_decode():
    utf16 = "Größe und Maß".encode("utf-16")
    assert parsing.parse(utf16, file_name="a.txt", content_type=None).blocks[0].text == (
        "Größe und Maß"
    )
    french = "Le café coûte 3 € \u2013 c\u2019est très bon."  # en dash, typographic apostrophe
    western = french.encode("cp1252")
    assert parsing.parse(western, file_name="b.txt", content_type=None).blocks[0].text == french


def test_utf16_without_bom_is_recognised():
    data = "Notepad saved this as Unicode.".encode("utf-16-le")
    doc = parsing.parse(data, file_name="notes.txt", content_type=None)
    assert doc.blocks[0].text == "Notepad saved this as Unicode."


def test_html_without_declared_charset_falls_back_to_cp1252_like_browsers():
    page = "<p>Prix : 3 \u20ac</p>".encode("cp1252")
    doc = parsing.parse(page, file_name="prix.html", content_type="text/html")
    assert doc.blocks[0].text == "Prix : 3 \u20ac"


def test_extension_decides_then_content_type():
    assert parsing.detect_kind("Guide.PDF", "text/html") == "pdf"
    assert parsing.detect_kind("index.php", "text/html; charset=utf-8") == "html"
    assert parsing.detect_kind("download", "application/pdf") == "pdf"


def test_inline_text_and_qa_pairs():
    doc = parsing.parse_text("Opening hours are 9 to 5.\n\nClosed on Sundays.")
    assert doc.title == "Opening hours are 9 to 5."
    assert [b.kind for b in doc.blocks] == ["paragraph", "paragraph"]

    qa = parsing.parse_qa(
        [
            {"question": "Do you ship abroad?", "answer": "Yes, to the EU.\n\nNot to the US."},
            ("Can I return sale items?", "Within 14 days."),
        ]
    )
    assert [(b.kind, b.text) for b in qa.blocks] == [
        ("qa", "Q: Do you ship abroad?\nA: Yes, to the EU.\nNot to the US."),
        ("qa", "Q: Can I return sale items?\nA: Within 14 days."),
    ]
    assert_offsets(qa)


def test_restructuredtext_sources_lose_their_markup_and_keep_their_text():
    source = """:mod:`shelve` --- Python object persistence
===========================================

.. module:: shelve
   :synopsis: Python object persistence.

.. index:: module: pickle

A "shelf" works with the :mod:`pickle` module and :func:`~shelve.open`; see
:ref:`the example <shelve-example>` and ``writeback``.

.. function:: open(filename, flag='c')

   Open a persistent dictionary.

   .. versionchanged:: 3.10
      The default protocol changed.

Example
-------

..
   A comment block.

...and an ellipsis line stays text.

Use it as a context manager::

   with shelve.open('spam') as db:
       db['eggs'] = 'eggs'
"""
    doc = parsing.parse_text(source, kind="markdown")
    text = "\n".join(b.text for b in doc.blocks)
    assert doc.title == "shelve --- Python object persistence"
    assert "index::" not in text and ":mod:" not in text and "synopsis" not in text
    assert 'A "shelf" works with the pickle module and open; see\nthe example and writeback.' in (
        text
    )
    assert "open(filename, flag='c')" in text
    assert "A comment block" not in text and "...and an ellipsis line stays text." in text
    assert "Changed in version 3.10:" in text
    assert [b.text for b in doc.blocks if b.kind == "heading"][-1] == "Example"
    assert any(b.kind == "code" and "shelve.open('spam')" in b.text for b in doc.blocks)
