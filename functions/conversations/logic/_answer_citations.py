"""From a provider's text to the answer's citations.

- Markers "[2]", "[1, 3]", "[1][3]", "[1-3]" name passages by their 1-based index in the
  prompt. Valid ones are renumbered 1..m in order of first use (the visitor reads [1], [2],
  not [3], [5]); an index that names no passage is dropped from the text.
- An answer that cites nothing is attributed: it gets the passages whose content words it
  shares most (up to 3, at least the top passage), and their markers are appended to it, so
  text and citations always agree.
- "I cannot answer" is recognized by the NO_ANSWER reply the prompt asks for, and, for an
  answer without any marker only, by a refusal phrase ("the documents do not mention ...").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from conversations.logic._answer_prompt import NO_ANSWER
from conversations.logic._answer_types import Passage

MAX_ATTRIBUTED = 3
ATTRIBUTION_SHARE = 0.5  # a passage joins when it shares >= half the best one's words

# "[1]", "[1, 3]", "[1][3]", "[1] [3]", "[1-3]" (hyphen or en dash)
_MARKER = re.compile(r"\[\s*(\d+(?:\s*(?:[,;\u2013-]|\]\s*\[)\s*\d+)*)\s*\]")
_NUMBER_OR_RANGE = re.compile(r"(\d+)\s*(?:[\u2013-]\s*(\d+))?")
_NO_ANSWER = re.compile(rf"^\W*{NO_ANSWER}\b", re.I)
_REFUSAL = re.compile(
    r"\b(?:(?:does not|doesn't|do not|don't|cannot|can't|could not|couldn't|unable to)"
    r" (?:find|see|contain|cover|mention|include|provide|answer|say|specify)"
    r"|no (?:relevant |specific )?information (?:about|on|regarding|in)"
    r"|not (?:covered|mentioned|specified|included) in)\b",
    re.I,
)
_REFUSAL_MAX_CHARS = 400


def _indexes(group: str) -> list[int]:
    out: list[int] = []
    for match in _NUMBER_OR_RANGE.finditer(group):
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) else first
        if last - first <= 10:
            out.extend(range(first, last + 1))
    return out


def renumber(text: str, passage_count: int) -> tuple[str, list[int]]:
    """(text with markers renumbered, 0-based passage positions in citation order)."""
    order: list[int] = []

    def replace(match: re.Match[str]) -> str:
        numbers: list[int] = []
        for index in _indexes(match.group(1)):
            if 1 <= index <= passage_count:
                if index - 1 not in order:
                    order.append(index - 1)
                number = order.index(index - 1) + 1
                if number not in numbers:
                    numbers.append(number)
        return "".join(f"[{n}]" for n in numbers)

    renumbered = _MARKER.sub(replace, text)
    # A dropped marker may leave "word ." or a double space behind.
    renumbered = re.sub(r"[ \t]+([.,;:!?])", r"\1", renumbered)
    renumbered = re.sub(r"[ \t]{2,}", " ", renumbered).strip()
    return renumbered, order


def _words(text: str) -> frozenset[str]:
    from knowledge.logic import content_terms

    return frozenset(content_terms(text))


def attribute(text: str, passages: Sequence[Passage]) -> list[int]:
    """0-based positions of the passages an uncited answer draws on, best first."""
    if not passages:
        return []
    words = _words(text)
    overlap = [len(words & _words(p.text)) for p in passages]
    best = max(overlap)
    if best == 0:
        return [0]
    ranked = sorted(range(len(passages)), key=lambda i: (-overlap[i], i))
    return [i for i in ranked if overlap[i] >= ATTRIBUTION_SHARE * best][:MAX_ATTRIBUTED]


def says_cannot_answer(text: str, *, cited: bool) -> bool:
    """True when the provider declined: NO_ANSWER, an empty reply, or (uncited, short) a
    refusal phrase."""
    stripped = text.strip()
    if not stripped or _NO_ANSWER.match(stripped):
        return True
    return not cited and len(stripped) <= _REFUSAL_MAX_CHARS and bool(_REFUSAL.search(stripped))


SNIPPET_CHARS = 300


def by_document(
    text: str, order: Sequence[int], passages: Sequence[Passage]
) -> tuple[str, list[list[int]]]:
    """One citation per document: `text`'s markers [1..m] (naming ``order``'s passages) are
    renumbered by document in order of first use, a repeated marker ("[1][1]") kept once.
    Returns (text, for each citation the 0-based passages of its document, in ``order``)."""
    documents: list[str] = []
    groups: list[list[int]] = []
    number_of: dict[int, int] = {}
    for n, position in enumerate(order, 1):
        document = passages[position].document_id
        if document not in documents:
            documents.append(document)
            groups.append([])
        groups[documents.index(document)].append(position)
        number_of[n] = documents.index(document) + 1
    renumbered = re.sub(r"\[(\d+)\]", lambda m: f"[{number_of.get(int(m.group(1)), 0)}]", text)
    renumbered = re.sub(r"(\[\d+\])(?:\s*\1)+", r"\1", renumbered).replace("[0]", "")
    return renumbered, groups


def snippet(answer_text: str, passages: Sequence[Passage]) -> str:
    """The sentence of ``passages`` that shares the most words with the answer (the quoted one,
    for an extractive answer), at most SNIPPET_CHARS characters."""
    from conversations.logic._answer_extractive import split_units

    words = _words(answer_text)
    best, best_overlap = "", -1
    for rank, passage in enumerate(passages):
        for unit in split_units(passage, rank):
            overlap = len(words & unit.terms)
            if overlap > best_overlap:
                best, best_overlap = unit.text, overlap
    if not best and passages:
        best = " ".join(passages[0].text.split())
    if len(best) > SNIPPET_CHARS:
        best = best[: SNIPPET_CHARS - 1].rsplit(" ", 1)[0] + "\u2026"
    return best
