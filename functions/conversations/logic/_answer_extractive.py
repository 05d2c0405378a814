"""The extractive answerer: quotes the 1-3 units (sentences, table rows) of the retrieved
passages that best answer the question, each followed by its [n] marker.

Scoring, per unit (all deterministic; ties go to the better-ranked passage, then the earlier
unit):
- Question terms are the index's own terms (knowledge's tokenizer: stems, identifiers whole
  and by parts), stop words left out. Each weighs its IDF *among the units of these
  passages*: a word every sentence shares (the topic) tells sentences apart less than one
  only a few contain. Terms of the visitor's own message weigh twice those folded in from an
  earlier turn (a follow-up's focus is what it adds).
- relevance = (weight of question terms in the unit + half the weight of those found only in
  its context: the label line it sits under, such as "work_mem (integer)", or the
  sentence before it) / weight of the question terms the passages contain at all.
- times a passage prior (the top passage first: retrieval already ranked it) and a form
  factor (fragments, lead-ins ending in ":", walls of text and code read badly as answers).
- The best unit must contain a question term itself; others join when they score at least
  FOLLOWER_SHARE of it, or are the sentence right after it.

- Below MIN_RELEVANCE for the best unit, nothing is quoted and the provider says NO_ANSWER.

The answer is the chosen units in reading order, a unit led by its label ("work_mem
(integer): The default ...") when the label holds question terms the unit lacks. Whitespace
inside a unit is collapsed; apart from that, the ": " after a label and the markers, every
character comes from a passage. A document's text is never interpreted: "ignore previous
instructions" in a passage is a sentence like any other.

The constants are not tuned to one corpus: on the team's 66 PostgreSQL questions, rank decay
0-0.25, context weight 0.5-0.8 and follower share 0.5-0.8 all land within 2 questions. On the
six generated corpora (`python -m bench --only conversations`), follower share 0.5 rather than
0.6 lets a third unit join a little more often (answers 2-8% longer) and raises the share
whose cited passages hold the answer on five of them: postgresql 31 -> 32%, git 25 -> 28,
sqlite 31 -> 36, debian-handbook 34 -> 35, debian-reference 45 -> 44, python 30 -> 33.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from conversations.logic._answer_types import Passage

MAX_UNITS = 3
MAX_ANSWER_CHARS = 700  # after the first unit: a second or third joins only within this
FOLLOWER_SHARE = 0.5
MIN_RELEVANCE = 0.15  # below this the passages do not answer: the provider says so
CONTEXT_WEIGHT = 0.5
HISTORY_TERM_WEIGHT = 0.5
RANK_DECAY = 0.08  # passage prior: 1.0, 0.92, 0.84 ...
LONG_UNIT_CHARS = 600

# "col: value; col: value" — how knowledge's parser renders a table row.
_ROW = re.compile(r"^[^:;\n]{1,60}: [^\n]*; [^:;\n]{1,60}: [^\n]*$")
_BOUNDARY = re.compile("[.!?][\"'\u201d\u2019)\\]]*\\s+")  # closing quotes, brackets
_WORD = re.compile(r"\S+")
_ABBREVIATION_WORDS = """
    e.g i.e etc vs cf al approx no fig dr mr mrs ms st jr sr inc ltd co corp dept ca incl
    resp ver vol pp
"""
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
_LABEL_WORDS = 4
_WRAP_COLUMNS = 100


@dataclass(frozen=True)
class Unit:
    passage: int  # 0-based rank of its passage
    position: int  # reading order within the passage
    text: str
    terms: frozenset[str]
    context: frozenset[str]
    kind: str = "sentence"  # or "row" (of a table), "code"
    label: str = ""  # the label line above it, when there is one
    label_terms: frozenset[str] = frozenset()


def _terms(text: str) -> frozenset[str]:
    from knowledge.logic import content_terms

    return frozenset(content_terms(text))


def _sentences(paragraph: str) -> list[str]:
    """Sentence boundaries: terminal punctuation and a space, then not a plain lowercase
    word, and not after a known abbreviation or a single initial."""
    out: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(paragraph):
        end = match.end()
        word_after = _WORD.match(paragraph, end)
        following = word_after.group() if word_after else ""
        # "... mechanism. pg_dump can ...": an identifier may start a sentence in lowercase.
        if not following or (following[0].islower() and following.isalpha()):
            continue
        word = paragraph[start : match.start()].rsplit(None, 1)[-1:] or [""]
        stem = word[0].lower().rstrip(".")
        if stem in _ABBREVIATIONS or (len(stem) == 1 and stem.isalpha()):
            continue
        out.append(paragraph[start:end].strip())
        start = end
    tail = paragraph[start:].strip()
    if tail:
        out.append(tail)
    return out


def _is_label(paragraph: str) -> bool:
    """A few words without sentence punctuation: a term above its definition
    ("work_mem (integer)", "-j njobs --jobs=njobs") or a heading inside the chunk. Longer
    unpunctuated lines (list items) are quotable."""
    words = paragraph.split()
    return len(words) <= _LABEL_WORDS and not words[-1].endswith((".", "!", "?", ";"))


def _is_code(lines: list[str]) -> bool:
    """Indented lines, or dense in symbols: code, a shell session, a query plan. Prose
    hard-wrapped at 80 columns (plain text, Markdown) is not code."""
    if any(line.startswith(("  ", "\t")) for line in lines[1:]):
        return True
    text = "".join(lines)
    symbols = sum(1 for c in text if not (c.isalnum() or c.isspace() or c in ".,'\"-()"))
    return symbols > 0.08 * len(text)


def split_units(passage: Passage, rank: int) -> list[Unit]:
    """A passage as quotable units: sentences, table rows (kept whole), short code blocks.
    Labels are not quoted; they are context for the units under them."""
    units: list[Unit] = []
    label, label_terms = "", frozenset[str]()
    for paragraph in re.split(r"\n\s*\n", passage.text):
        lines = [line.rstrip() for line in paragraph.split("\n") if line.strip()]
        if not lines:
            continue
        kind = "sentence"
        if all(_ROW.match(line.strip()) for line in lines):
            pieces, kind = [line.strip() for line in lines], "row"
        elif _is_label(paragraph):
            label, label_terms = " ".join(paragraph.split()), _terms(paragraph)
            continue
        elif len(lines) > 1 and _is_code(lines):
            block = "\n".join(lines)
            pieces, kind = ([block] if len(block) <= LONG_UNIT_CHARS else []), "code"
        elif max(len(line) for line in lines) > _WRAP_COLUMNS:
            # Lines longer than any hard wrap are records of their own (a one-column table,
            # a list): sentences never run from one into the next.
            pieces = [s for line in lines for s in _sentences(" ".join(line.split()))]
        else:  # one line, or prose hard-wrapped at ~80 columns
            pieces = _sentences(" ".join(paragraph.split()))
        previous: frozenset[str] = frozenset()
        for piece in pieces:
            terms = _terms(piece)
            context = (label_terms | previous) - terms
            units.append(Unit(rank, len(units), piece, terms, context, kind, label, label_terms))
            previous = terms
    return units


def _weights(units: Sequence[Unit], question: str, search_query: str) -> dict[str, float]:
    own = _terms(question)
    folded = _terms(search_query) - own
    df: dict[str, int] = {}
    for unit in units:
        for term in unit.terms | unit.context:
            df[term] = df.get(term, 0) + 1
    n = len(units)
    weights: dict[str, float] = {}
    for term in own | folded:
        if term in df:  # terms no passage contains cannot tell units apart
            idf = math.log1p(n / df[term])
            weights[term] = idf * (1.0 if term in own else HISTORY_TERM_WEIGHT)
    return weights


def _form_factor(unit: Unit) -> float:
    """How well the unit reads as an answer on its own: fragments, lead-ins ending in ":"
    (what they introduce is elsewhere), walls of text and code read worse than a sentence
    or a table row."""
    factor = 1.0
    if len(unit.text.split()) < 5:
        factor *= 0.7
    if len(unit.text) > LONG_UNIT_CHARS:
        factor *= 0.8
    if unit.text.endswith(":"):
        factor *= 0.6
    if unit.kind == "code":
        factor *= 0.8
    return factor


def select(
    passages: Sequence[Passage], question: str, search_query: str
) -> tuple[list[Unit], dict[str, float]]:
    """(the units to quote in reading order, the question-term weights); no units when
    nothing in the passages is relevant enough to quote."""
    units = [u for rank, p in enumerate(passages) for u in split_units(p, rank)]
    weights = _weights(units, question, search_query)
    total = sum(weights.values())
    scored: list[tuple[float, float, Unit]] = []
    for unit in units if total > 0 else []:
        own = sum(w for t, w in weights.items() if t in unit.terms)
        if own <= 0:
            continue
        context = sum(w for t, w in weights.items() if t in unit.context)
        relevance = (own + CONTEXT_WEIGHT * context) / total
        prior = max(0.5, 1.0 - RANK_DECAY * unit.passage)
        scored.append((relevance * prior * _form_factor(unit), relevance, unit))
    scored.sort(key=lambda s: (-s[0], s[2].passage, s[2].position))
    if not scored or scored[0][1] < MIN_RELEVANCE:
        return [], weights
    best_score, _, best = scored[0]
    chosen = [best]
    seen = {_fold(best.text)}
    used = len(best.text)
    for score, _, unit in scored[1:]:
        if len(chosen) == MAX_UNITS:
            break
        next_to_best = unit.passage == best.passage and unit.position == best.position + 1
        if score < FOLLOWER_SHARE * best_score and not next_to_best:
            continue
        folded = _fold(unit.text)
        # Overlapping chunks hold the same sentence, or one cut shorter: quote it once.
        if any(folded in other or other in folded for other in seen):
            continue
        if used + len(unit.text) > MAX_ANSWER_CHARS:
            continue
        chosen.append(unit)
        seen.add(_fold(unit.text))
        used += len(unit.text)
    chosen.sort(key=lambda u: (u.passage, u.position))
    return chosen, weights


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def _render(unit: Unit, weights: dict[str, float], labelled: set[str]) -> str:
    """The unit as quoted; prefixed with its label ("shared_buffers (integer): The default
    is ...") when the label carries question terms the unit lacks, once per label."""
    if not unit.label or unit.label in labelled or unit.label in unit.text:
        return unit.text
    if not any(t in weights for t in unit.label_terms - unit.terms):
        return unit.text
    labelled.add(unit.label)
    return f"{unit.label}: {unit.text}"


def compose(
    passages: Sequence[Passage], question: str, search_query: str
) -> tuple[str, tuple[int, ...]] | None:
    """(the answer with a [n] marker after each quoted unit, the 0-based passage each n
    names), or None when nothing is relevant enough. Markers are numbered in order of first
    use."""
    chosen, weights = select(passages, question, search_query)
    if not chosen:
        return None
    order: list[int] = []
    parts = []
    labelled: set[str] = set()
    for unit in chosen:
        if unit.passage not in order:
            order.append(unit.passage)
        parts.append(f"{_render(unit, weights, labelled)} [{order.index(unit.passage) + 1}]")
    return " ".join(parts), tuple(order)
