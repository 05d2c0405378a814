"""HTML into blocks with the standard library's tokenizer (no lxml, no BeautifulSoup).

Keeps headings, paragraphs, list items, tables (row by row) and <pre>; drops what is not the
page's content: script/style/template, navigation, footers, asides, forms, hidden elements,
and elements whose role/class/id says they are navigation or chrome. When the page marks its
content with <main> (or role="main", or a single <article>), only that is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from knowledge.logic._parse_common import render_table
from knowledge.logic.types import Block

_SKIP_TAGS = frozenset(
    {
        "script", "style", "noscript", "template", "svg", "iframe", "object", "canvas",
        "nav", "footer", "aside", "form", "button", "select", "datalist",
    }
)  # fmt: skip
_VOID_TAGS = frozenset(
    {
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
        "source", "track", "wbr",
    }
)  # fmt: skip
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "blockquote", "body", "caption", "center", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "header", "hr",
        "html", "legend", "li", "main", "ol", "p", "section", "summary", "ul",
    }
)  # fmt: skip
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_CHROME_ROLES = frozenset({"navigation", "contentinfo", "complementary", "banner", "search"})
_CHROME_NAME = re.compile(
    r"^(nav|navbar|navheader|navfooter|navigation|breadcrumbs?|sidebar|menu|site-?header|"
    r"site-?footer|footer|skip-?link|skip-?nav|cookie-?banner|cookie-?consent|toc)$"
)
# Permalink anchors next to headings ("Install#", "Usage¶") in common documentation generators.
_ANCHOR_CLASSES = frozenset(
    {"headerlink", "anchor", "anchor-link", "header-anchor", "heading-anchor", "hash-link",
     "permalink", "mark"}
)  # fmt: skip
_MAIN_MARKER = re.compile(r"<main[\s>]|role\s*=\s*[\"']?main\b", re.I)
_ARTICLE = re.compile(r"<article[\s>]", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
_WHITESPACE = re.compile(r"\s+")


def declared_charset(data: bytes) -> str | None:
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii", "replace").lower() if match else None


@dataclass
class _Table:
    rows: list[list[str]] = field(default_factory=list)
    header_rows: int = 0
    caption: list[str] = field(default_factory=list)
    in_caption: bool = False
    in_head: bool = False
    row_is_header: bool = True
    cell: list[str] | None = None

    def start_row(self) -> None:
        self.end_cell()
        self._close_row()
        self.rows.append([])
        self.row_is_header = True

    def _close_row(self) -> None:
        # A row counts as a header row when it is in <thead> or made only of <th>, and it
        # comes before any data row.
        if (
            self.rows
            and self.rows[-1]
            and self.header_rows == len(self.rows) - 1
            and self.row_is_header
        ):
            self.header_rows += 1

    def start_cell(self, header: bool) -> None:
        self.end_cell()
        if not self.rows:
            self.rows.append([])
        if not header and not self.in_head:
            self.row_is_header = False
        self.cell = []

    def end_cell(self) -> None:
        if self.cell is not None:
            self.rows[-1].append(_WHITESPACE.sub(" ", "".join(self.cell)).strip())
            self.cell = None

    def add(self, text: str) -> None:
        if self.in_caption:
            self.caption.append(text)
        elif self.cell is not None:
            self.cell.append(text)

    def render(self) -> str:
        self.end_cell()
        self._close_row()
        rows = [row for row in self.rows if any(row)]
        if not rows:
            return ""
        if max(len(row) for row in rows) <= 1:
            return "\n".join(row[0] for row in rows)  # a one-column table is a list of lines
        header_count = min(self.header_rows, 1) if self.header_rows else int(len(rows) > 1)
        header = rows[0] if header_count else []
        return render_table(header, rows[header_count:])


class _Extractor(HTMLParser):
    def __init__(self, *, scoped_tag: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.title_parts: list[str] = []
        self.buffer: list[str] = []
        self.skip_tag: str | None = None
        self.skip_depth = 0
        self.in_title = False
        self.heading = 0
        self.pre_depth = 0
        self.list_depth = 0
        self.tables: list[_Table] = []
        # Read everything, or only inside the page's content element.
        self.scoped_tag = scoped_tag
        self.scope_depth = 0 if scoped_tag else 1
        self.scope_tag_name: str | None = None

    # -- the skip region --------------------------------------------------------------------

    @staticmethod
    def _is_chrome(tag: str, attrs: dict[str, str | None]) -> bool:
        if tag in _SKIP_TAGS or "hidden" in attrs or attrs.get("aria-hidden") == "true":
            return True
        if (attrs.get("role") or "").lower() in _CHROME_ROLES:
            return True
        style = (attrs.get("style") or "").replace(" ", "").lower()
        if "display:none" in style:
            return True
        classes = (attrs.get("class") or "").lower().split()
        if tag == "a" and _ANCHOR_CLASSES.intersection(classes):
            return True
        names = [*classes, (attrs.get("id") or "").lower()]
        return any(_CHROME_NAME.match(name) for name in names if name)

    def _enters_scope(self, tag: str, attrs: dict[str, str | None]) -> bool:
        if self.scoped_tag == "main":
            return tag == "main" or (attrs.get("role") or "").lower() == "main"
        return tag == self.scoped_tag

    # -- tokenizer callbacks ----------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attrs_list)
        if tag == "title" and not self.skip_tag:
            self.in_title = True
            return
        if self.skip_tag:
            self.skip_depth += tag == self.skip_tag
            return
        if tag == "head":
            return  # only its <title> is read, above
        if tag not in _VOID_TAGS and self._is_chrome(tag, attrs):
            self.skip_tag, self.skip_depth = tag, 1
            return
        if self.scope_depth == 0:
            if self._enters_scope(tag, attrs):
                self.scope_tag_name = tag
                self.scope_depth = 1
            return
        if self.scoped_tag and tag == self.scope_tag_name:
            self.scope_depth += 1
        self._open(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
            return
        if self.skip_tag:
            if tag == self.skip_tag:
                self.skip_depth -= 1
                if self.skip_depth == 0:
                    self.skip_tag = None
            return
        if self.scope_depth == 0:
            return
        self._close(tag)
        if self.scoped_tag and tag == self.scope_tag_name:
            self.scope_depth -= 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
            return
        if self.skip_tag or self.scope_depth == 0:
            return
        text = data if self.pre_depth else _WHITESPACE.sub(" ", data)
        if self.tables:
            self.tables[-1].add(text)
        else:
            self.buffer.append(text)

    # -- structure --------------------------------------------------------------------------

    def _open(self, tag: str, attrs: dict[str, str | None]) -> None:
        if self.tables and self._table_tag(tag, opening=True):
            return
        if tag == "br":
            self._newline()
        elif tag == "table":
            self._flush()
            self.tables.append(_Table())
        elif tag in _HEADINGS:
            self._flush()
            self.heading = _HEADINGS[tag]
        elif tag == "pre":
            self._flush()
            self.pre_depth += 1
        elif tag in {"ul", "ol"}:
            self._flush()
            self.list_depth += 1
        elif tag in _BLOCK_TAGS:
            self._flush()

    def _close(self, tag: str) -> None:
        if tag == "table" and self.tables:
            self._end_table()
        elif self.tables and self._table_tag(tag, opening=False):
            return
        elif tag in _HEADINGS:
            self._flush()
            self.heading = 0
        elif tag == "pre":
            self._flush()
            self.pre_depth = max(0, self.pre_depth - 1)
        elif tag in {"ul", "ol"}:
            self._flush()
            self.list_depth = max(0, self.list_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._flush()

    def _table_tag(self, tag: str, *, opening: bool) -> bool:
        """Tags inside a table shape its rows and cells instead of making blocks."""
        table = self.tables[-1]
        if tag == "table":
            if opening:
                self.tables.append(_Table())
            return True
        if tag == "tr" and opening:
            table.start_row()
        elif tag in {"td", "th"}:
            if opening:
                table.start_cell(header=tag == "th")
            else:
                table.end_cell()
        elif tag == "thead":
            table.in_head = opening
        elif tag == "caption":
            table.in_caption = opening
        else:
            table.add(" ")  # any other element in a cell is at least a word boundary
        return True

    def _end_table(self) -> None:
        table = self.tables.pop()
        text = table.render()
        caption = _WHITESPACE.sub(" ", "".join(table.caption)).strip()
        if self.tables:  # a nested table becomes text in its parent's cell
            self.tables[-1].add(" " + " ".join(filter(None, [caption, text])) + " ")
            return
        if caption:
            self.blocks.append(Block("paragraph", caption))
        if text:
            self.blocks.append(Block("table", text))

    def _newline(self) -> None:
        if self.tables:
            self.tables[-1].add(" ")
        else:
            self.buffer.append("\n")

    def _flush(self) -> None:
        text = "".join(self.buffer)
        self.buffer = []
        if not text.strip():
            return
        if self.heading:
            self.blocks.append(Block("heading", text, level=self.heading))
        elif self.pre_depth:
            self.blocks.append(Block("code", text))
        elif self.list_depth:
            self.blocks.append(Block("list_item", text))
        else:
            self.blocks.append(Block("paragraph", text))

    def finish(self) -> None:
        self.close()
        while self.tables:
            self._end_table()
        self._flush()


def _scope(text: str) -> str | None:
    if _MAIN_MARKER.search(text):
        return "main"
    if len(_ARTICLE.findall(text)) == 1:
        return "article"
    return None


def parse_html(text: str) -> tuple[list[Block], str | None]:
    """Blocks of an HTML page and its title (<title>, else the first <h1>)."""
    scoped = _scope(text)
    extractor = _Extractor(scoped_tag=scoped)
    extractor.feed(text)
    extractor.finish()
    blocks = extractor.blocks
    if scoped and not blocks:  # the marker was misleading (e.g. inside a script): read all
        extractor = _Extractor(scoped_tag=None)
        extractor.feed(text)
        extractor.finish()
        blocks = extractor.blocks
    title = _WHITESPACE.sub(" ", "".join(extractor.title_parts)).strip()
    if not title:
        title = next((b.text for b in blocks if b.kind == "heading" and b.level == 1), "")
    return blocks, title.strip() or None
