"""Questions nobody wrote by hand: section headings of a corpus turned into questions, with the
heading removed from the document that gets indexed, so the answer has to be found from the
section's body, not from its title.

For every corpus (bench/retrieval/corpus.py):
- Candidate sections: h1-h4 (HTML) or underlined titles (reStructuredText) of 2-12 words, not
  the page's own title, and not a heading that recurs in two or more documents ("Options",
  "Examples": a question made of it names no one section), nor one that starts with a number
  or holds a version ("2015-01-16 (3.8.8)", "Migration to Version 15.18": release notes
  repeat themselves from version to version). A heading that ends in "?" (FAQ
  entries) is asked as it is, one that starts like a question ("How to leave the prompt")
  gets a question mark ("How do I leave the prompt?"); others go through one of a few fixed
  templates ("What is ...?", "Tell me about ...", ...), chosen by a hash of the section id.
- Judge: a retrieved passage answers when it comes from the section's document and contains
  one of the section's first three *plain* 8-word runs (words of letters, digits and simple
  punctuation only, so markup rendering never decides the verdict), case and whitespace
  folded. The same judge scores our pipeline and the baseline.
- Sample: QUESTIONS sections per corpus, at most two per document, in the order of a hash of
  their id (deterministic, no hand picking). Their headings are cut from the source before
  indexing; every other heading stays.
- Off-topic questions for a corpus: generated questions of corpora of *other* domains whose
  heading phrase does not occur in this corpus's text.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from bench.retrieval.corpus import Corpus, visible_text

QUESTIONS = 100
OFF_TOPIC = 40
PER_DOCUMENT = 2
SNIPPET_WORDS = 8
SNIPPETS_PER_SECTION = 3
_PLAIN_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9,.'()\-]*$")
_NUMBERING = re.compile(
    r"^(?:(?:chapter|appendix|part|section)\s+)?(?:\d+(?:\.\d+)*\.?|[A-Z](?:\.\d+)+\.?|[A-Z]\.)\s+",
    re.I,
)
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+:._])\1{2,}\s*$")
_HEADING_TAGS = {"h1", "h2", "h3", "h4"}
_BLOCK_TAGS = {
    "p", "div", "li", "dd", "dt", "td", "th", "tr", "table", "pre", "ul", "ol", "dl",
    "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "section", "br",
}  # fmt: skip
TEMPLATES = ("What is {h}?", "Tell me about {h}.", "How does {h} work?", "Can you explain {h}?")


@dataclass
class Section:
    document: str  # path relative to the corpus folder
    heading: str  # as displayed, numbering removed
    cut: tuple[int, int]  # the heading's span in the source, removed before indexing
    snippets: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.document}#{self.heading}"


@dataclass(frozen=True)
class GeneratedQuestion:
    id: str
    question: str
    file: str
    snippets: tuple[str, ...]
    heading: str


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def clean_heading(text: str) -> str:
    text = " ".join(text.replace("\u00b6", " ").split())
    text = _NUMBERING.sub("", text).strip()
    return text.rstrip(".:").strip()


def plain_snippets(text: str) -> list[str]:
    """The first 8-word run of plain words in a block of text, if any."""
    words = text.split()
    run: list[str] = []
    for word in words:
        if _PLAIN_WORD.match(word):
            run.append(word)
            if len(run) == SNIPPET_WORDS:
                return [" ".join(run)]
        else:
            run = []
    return []


def fold(text: str) -> str:
    return " ".join(text.casefold().split())


# -- HTML ---------------------------------------------------------------------------------------


class _Sections(HTMLParser):
    """Headings with their source spans, and the text blocks of the section under each."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.line_starts = [0]
        for match in re.finditer("\n", source):
            self.line_starts.append(match.end())
        self.title = ""
        self.in_title = False
        self.hidden = 0
        self.heading: tuple[str, int, list[str]] | None = None  # tag, start, text
        self.sections: list[tuple[str, tuple[int, int], list[str]]] = []
        self.block: list[str] = []
        self.pre = 0
        self.table = 0

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def _flush(self) -> None:
        text = " ".join("".join(self.block).split())
        self.block = []
        if text and self.sections and not self.pre and not self.table:
            self.sections[-1][2].append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        elif tag in ("script", "style"):
            self.hidden += 1
        elif tag in _HEADING_TAGS and self.heading is None:
            self._flush()
            self.heading = (tag, self._offset(), [])
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        if tag == "pre":
            self.pre += 1
        elif tag == "table":
            self.table += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag in ("script", "style") and self.hidden:
            self.hidden -= 1
        elif self.heading is not None and tag == self.heading[0]:
            _, start, parts = self.heading
            end = self._offset() + len(f"</{tag}>")
            self.sections.append(("".join(parts), (start, end), []))
            self.heading = None
            return
        if tag in _BLOCK_TAGS:
            self._flush()
        if tag == "pre" and self.pre:
            self.pre -= 1
        elif tag == "table" and self.table:
            self.table -= 1

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
        elif self.hidden:
            return
        elif self.heading is not None:
            self.heading[2].append(data)
        else:
            self.block.append(data)


def html_sections(document: str, source: str) -> tuple[str, list[Section]]:
    parser = _Sections(source)
    parser.feed(source)
    parser.close()
    parser._flush()
    out = []
    for heading, cut, blocks in parser.sections:
        # The heading must be in the source as one element we can cut (not a template).
        if not source[cut[0] : cut[1]].lower().startswith("<h"):
            continue
        snippets = [s for block in blocks for s in plain_snippets(block)]
        out.append(Section(document, clean_heading(heading), cut, snippets[:SNIPPETS_PER_SECTION]))
    return clean_heading(parser.title), out


# -- reStructuredText ---------------------------------------------------------------------------


def rst_sections(document: str, source: str) -> tuple[str, list[Section]]:
    lines = source.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    headings: list[tuple[int, int, str]] = []  # first line, last line (inclusive), text
    for i in range(len(lines) - 1):
        text = lines[i].strip()
        if not text or not _RST_UNDERLINE.match(lines[i + 1]) or _RST_UNDERLINE.match(lines[i]):
            continue
        if len(lines[i + 1].strip()) < len(text) or lines[i].startswith((" ", "..")):
            continue
        first = i - 1 if i > 0 and _RST_UNDERLINE.match(lines[i - 1]) else i
        headings.append((first, i + 1, text))
    title = ""
    out = []
    for n, (first, last, text) in enumerate(headings):
        body_end = headings[n + 1][0] if n + 1 < len(headings) else len(lines)
        paragraphs = "\n".join(lines[last + 1 : body_end]).split("\n\n")
        snippets = []
        literal = False
        for paragraph in paragraphs:
            stripped = paragraph.strip()
            if not stripped:
                continue
            if not literal and not stripped.startswith((".. ", ":", ">>>")):
                snippets.extend(plain_snippets(stripped))
            literal = stripped.endswith("::")
        # The role markup a title carries (":mod:`shelve` --- ...") is not a question.
        shown = re.sub(r":[\w:]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`", r"\1", text).replace("``", "")
        shown = clean_heading(shown.replace("---", "-"))
        if n == 0:
            title = shown
            continue
        out.append(
            Section(
                document,
                shown,
                (offsets[first], offsets[last + 1]),
                snippets[:SNIPPETS_PER_SECTION],
            )
        )
    return title, out


# -- questions ----------------------------------------------------------------------------------


_ASKING = re.compile(r"^(?:how|what|why|when|where|which|who|can|should|is|does|do)\b", re.I)
_HOW_TO = re.compile(r"^how to\b", re.I)
_VERSIONED = re.compile(r"^[\d(]|\d+\.\d+")


def _question(section: Section) -> str:
    heading = section.heading
    if heading.endswith("?"):
        return heading
    if _ASKING.match(heading):
        return _HOW_TO.sub("How do I", heading) + "?"
    words = heading.split()
    first = words[0]
    if first[:1].isupper() and first[1:].islower():
        heading = " ".join([first.lower(), *words[1:]])
    if first.lower().endswith("ing") and len(first) > 5:
        return f"Explain {heading}."
    template = TEMPLATES[int(_digest(section.id)[:8], 16) % len(TEMPLATES)]
    return template.format(h=heading)


@dataclass
class CorpusSet:
    """A corpus made ready for evaluation: its documents with the chosen headings cut, the
    questions, and the whole text (to screen off-topic questions)."""

    corpus: Corpus
    documents: dict[str, bytes]  # relative path -> bytes as indexed
    questions: list[GeneratedQuestion]
    candidates: list[GeneratedQuestion]  # every usable section, for other corpora's off-topic
    text: str


def build(corpus: Corpus, files: Iterable[Path]) -> CorpusSet:
    sources: dict[str, str] = {}
    sections: dict[str, list[Section]] = {}
    heading_documents: Counter[str] = Counter()
    for path in files:
        name = corpus.relative(path)
        source = path.read_bytes().decode("utf-8", errors="replace")
        sources[name] = source
        parse = html_sections if corpus.kind == "html" else rst_sections
        title, found = parse(name, source)
        usable = [
            s
            for s in found
            if 2 <= len(s.heading.split()) <= 12
            and fold(s.heading) not in fold(title)
            and not _VERSIONED.search(s.heading)
            and s.snippets
        ]
        sections[name] = usable
        heading_documents.update({fold(s.heading) for s in found})
    candidates = [
        s for found in sections.values() for s in found if heading_documents[fold(s.heading)] < 2
    ]
    candidates.sort(key=lambda s: _digest(corpus.name + s.id))
    chosen: list[Section] = []
    per_document: Counter[str] = Counter()
    # Few long documents (debian-reference's 17 chapters) still give QUESTIONS questions.
    limit = max(PER_DOCUMENT, -(-2 * QUESTIONS // max(1, len(sections))))
    for section in candidates:
        if len(chosen) == QUESTIONS:
            break
        if per_document[section.document] < limit:
            chosen.append(section)
            per_document[section.document] += 1
    cuts: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for section in chosen:
        cuts[section.document].append(section.cut)
    documents = {}
    texts = []
    for name, original in sources.items():
        source = original
        for start, end in sorted(cuts.get(name, []), reverse=True):
            source = source[:start] + source[end:]
        data = source.encode()
        documents[name] = data
        texts.append(visible_text(data) if corpus.kind == "html" else source)

    def question(s: Section) -> GeneratedQuestion:
        return GeneratedQuestion(
            f"{corpus.name}:{s.id}", _question(s), s.document, tuple(s.snippets), s.heading
        )

    return CorpusSet(
        corpus,
        documents,
        [question(s) for s in chosen],
        [question(s) for s in candidates],
        fold(" ".join(texts)),
    )


def off_topic(target: CorpusSet, others: Iterable[CorpusSet]) -> list[str]:
    """Questions of other domains that this corpus's text does not contain the heading of,
    taken round-robin from each other corpus."""
    pools = [
        [q for q in other.candidates if fold(q.heading) not in target.text]
        for other in others
        if other.corpus.domain != target.corpus.domain
    ]
    out: list[str] = []
    index = 0
    while len(out) < OFF_TOPIC and any(index < len(pool) for pool in pools):
        for pool in pools:
            if index < len(pool) and len(out) < OFF_TOPIC:
                out.append(pool[index].question)
        index += 1
    return out
