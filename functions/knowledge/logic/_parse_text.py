"""Plain text and Markdown into blocks. A small structure parser, not a renderer: it finds
headings, paragraphs, list items, fenced/indented code and pipe tables, and strips inline
markup (emphasis, links, inline HTML) so the text reads as text."""

from __future__ import annotations

import re

from knowledge.logic._parse_common import render_table
from knowledge.logic.types import Block

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_HR = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})")
_MD_LIST = re.compile(r"^(\s*)([-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
_TEXT_LIST = re.compile(r"^(\s*)([-*+\u2022\u25aa\u25e6\u2023\u2013]|\d{1,3}[.)]|[a-z][.)])[ \t]+")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_LINK_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S+")
_UNDERLINE = re.compile(r"^\s*(={3,}|-{3,})\s*$")

_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_INLINE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"<!--.*?-->", re.S), ""),
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\((?:[^()\s]|\([^)]*\))*(?:\s+\"[^\"]*\")?\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), ""),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"\1"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),
    (re.compile(r"\\([!-/:-@\[-`{-~])"), r"\1"),
)


def strip_inline(text: str) -> str:
    """Markdown inline markup to plain text; code spans keep their content verbatim."""
    out = []
    position = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_strip_markup(text[position : match.start()]))
        out.append(match.group(2).strip())
        position = match.end()
    out.append(_strip_markup(text[position:]))
    return "".join(out)


def _strip_markup(text: str) -> str:
    for pattern, replacement in _INLINE_RULES:
        text = pattern.sub(replacement, text)
    return text


def _split_row(line: str) -> list[str]:
    line = line.strip()
    line = line.removeprefix("|")
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells = re.split(r"(?<!\\)\|", line)
    return [strip_inline(cell.replace("\\|", "|").strip()) for cell in cells]


class _MarkdownParser:
    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        self.index = 0
        self.blocks: list[Block] = []
        self.paragraph: list[str] = []
        self.front_title: str | None = None

    def parse(self) -> list[Block]:
        self._front_matter()
        while self.index < len(self.lines):
            self._step(self.lines[self.index])
        self._flush()
        return self.blocks

    def _front_matter(self) -> None:
        if not self.lines or self.lines[0].strip() != "---":
            return
        for end in range(1, min(len(self.lines), 200)):
            if self.lines[end].strip() in {"---", "..."}:
                for line in self.lines[1:end]:
                    key, _, value = line.partition(":")
                    if key.strip().lower() == "title" and value.strip():
                        self.front_title = value.strip().strip("\"'")
                self.index = end + 1
                return

    def _flush(self) -> None:
        if self.paragraph:
            text = strip_inline("\n".join(line.strip() for line in self.paragraph))
            self.blocks.append(Block("paragraph", text))
            self.paragraph = []

    def _step(self, line: str) -> None:
        if not line.strip():
            self._flush()
            self.index += 1
        elif self._fence(line) or self._heading(line) or self._table(line):
            return
        elif _HR.match(line) or _LINK_DEF.match(line):
            self._flush()
            self.index += 1
        elif self._list(line):
            return
        elif line.lstrip().startswith(">"):
            # A quote: drop the marker and read the rest as ordinary lines.
            stripped = line.lstrip()[1:]
            self.lines[self.index] = stripped[1:] if stripped.startswith(" ") else stripped
        elif not self.paragraph and (line.startswith(("    ", "\t"))):
            self._indented_code()
        else:
            self.paragraph.append(line)
            self.index += 1

    def _fence(self, line: str) -> bool:
        match = _FENCE.match(line)
        if not match:
            return False
        self._flush()
        indent, marker = len(match.group(1)), match.group(2)
        closing = re.compile(rf"^ {{0,3}}{re.escape(marker[0])}{{{len(marker)},}}\s*$")
        body = []
        self.index += 1
        while self.index < len(self.lines) and not closing.match(self.lines[self.index]):
            body.append(self._dedent(self.lines[self.index], indent))
            self.index += 1
        self.index += 1  # the closing fence (or the end of the document)
        self.blocks.append(Block("code", "\n".join(body)))
        return True

    @staticmethod
    def _dedent(line: str, indent: int) -> str:
        spaces = len(line) - len(line.lstrip(" "))
        return line[min(spaces, indent) :]

    def _heading(self, line: str) -> bool:
        atx = _ATX.match(line)
        if atx:
            self._flush()
            text = strip_inline((atx.group(2) or "").strip())
            if text:
                self.blocks.append(Block("heading", text, level=len(atx.group(1))))
            self.index += 1
            return True
        setext = _SETEXT.match(line)
        if setext and self.paragraph:
            text = strip_inline(" ".join(part.strip() for part in self.paragraph))
            self.paragraph = []
            level = 1 if setext.group(1).startswith("=") else 2
            self.blocks.append(Block("heading", text, level=level))
            self.index += 1
            return True
        return False

    def _table(self, line: str) -> bool:
        following = self.lines[self.index + 1] if self.index + 1 < len(self.lines) else ""
        if "|" not in line or not _TABLE_SEP.match(following) or "-" not in following:
            return False
        self._flush()
        header = _split_row(line)
        rows = []
        self.index += 2
        while self.index < len(self.lines):
            row = self.lines[self.index]
            if not row.strip() or "|" not in row:
                break
            rows.append(_split_row(row))
            self.index += 1
        self.blocks.append(Block("table", render_table(header, rows)))
        return True

    def _list(self, line: str) -> bool:
        match = _MD_LIST.match(line)
        if not match or (self.paragraph and match.group(2)[0] not in "-*+"):
            # An ordered marker cannot interrupt a paragraph ("2019. A year...").
            return False
        self._flush()
        content_indent = len(match.group(0))
        item = [line[match.end() :]]
        self.index += 1
        while self.index < len(self.lines):
            nxt = self.lines[self.index]
            if not nxt.strip():
                ahead = self._next_nonblank()
                if ahead is None or self._indent(ahead) < content_indent:
                    break
                item.append("")
            elif _MD_LIST.match(nxt) or _FENCE.match(nxt) or _ATX.match(nxt) or _HR.match(nxt):
                break
            else:
                item.append(nxt.strip())
            self.index += 1
        text = strip_inline("\n".join(item).strip())
        if text:
            self.blocks.append(Block("list_item", text))
        return True

    def _next_nonblank(self) -> str | None:
        for line in self.lines[self.index + 1 :]:
            if line.strip():
                return line
        return None

    @staticmethod
    def _indent(line: str) -> int:
        return len(line) - len(line.lstrip())

    def _indented_code(self) -> None:
        self._flush()
        body = []
        while self.index < len(self.lines):
            line = self.lines[self.index]
            if line.strip() and not line.startswith(("    ", "\t")):
                break
            body.append(line[4:] if line.startswith("    ") else line[1:])
            self.index += 1
        self.blocks.append(Block("code", "\n".join(body)))


def parse_markdown(text: str) -> tuple[list[Block], str | None]:
    """Blocks of a Markdown document and its title (front matter ``title:`` or first ``#``).
    reStructuredText (Sphinx sources) is recognized and rewritten as Markdown first."""
    from knowledge.logic import _parse_rst

    if _parse_rst.looks_like_rst(text):
        text = _parse_rst.to_markdown(text)
    parser = _MarkdownParser(text.replace("\r\n", "\n").replace("\r", "\n"))
    blocks = parser.parse()
    title = parser.front_title or next(
        (b.text for b in blocks if b.kind == "heading" and b.level == 1), None
    )
    return blocks, title


def parse_plain(text: str) -> list[Block]:
    """Blocks of plain text: paragraphs split by blank lines, list items by their markers, and
    headings only where the author underlined them (``====``/``----``)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[Block] = []
    current: list[str] = []
    current_kind = "paragraph"

    def flush() -> None:
        nonlocal current
        if current:
            blocks.append(Block(current_kind, "\n".join(current)))
            current = []

    index = 0
    while index < len(lines):
        line = lines[index]
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if not line.strip():
            flush()
        elif not current and _UNDERLINE.match(following) and len(line.strip()) <= 120:
            level = 1 if following.strip().startswith("=") else 2
            blocks.append(Block("heading", line.strip(), level=level))
            index += 1
        elif marker := _TEXT_LIST.match(line):
            flush()
            current_kind = "list_item"
            current = [line[marker.end() :]]
        else:
            if not current:
                current_kind = "paragraph"
            current.append(line)
        index += 1
    flush()
    return blocks
