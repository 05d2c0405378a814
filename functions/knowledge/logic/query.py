"""Text → index terms, the same on both sides: `build_index` tokenizes chunks with it and
`LoadedIndex.search` tokenizes queries with it, so a term can only match if both agree.

What it does, and why (each measured on the retrieval bench, `python -m bench.retrieval`):

- Unicode NFKC + casefold: full-width and ASCII letters, upper and lower case, are one term.
- Words are runs of letters/digits. Identifiers joined by `_ . -` (`pg_dump`,
  `max_connections`, `postgresql.conf`, `utf-8`) give the whole identifier as a term *and* its
  parts, so "max connections" and "max_connections" both find the setting, and the exact
  identifier scores higher.
- Stop words: the list is here for callers that want them dropped (`stop_words=True`), but
  the index keeps them by default (measured: +4-5 points recall@5, because "IF NOT EXISTS",
  "ON CONFLICT", "READ ONLY" are made of them; BM25's IDF already makes them nearly free).
- A plural folder ("indexes" → "index", "queries" → "query"): deterministic, pure Python,
  no package. Snowball (PyStemmer) measured no better on the bench (see bench/retrieval).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

TOKENIZER_ID = "agenthub-v1"  # recorded in the index manifest; bump when terms change

_WORD = re.compile(r"[^\W_]+(?:[_.\-/'][^\W_]+)*")
_PART = re.compile(r"[^\W_]+")
MAX_TERM_CHARS = 64  # longer runs are hashes, base64, minified code: noise for BM25

# A compact English list: function words only (no "use", "table", "index" ... which are
# content words in technical documents).
_STOP_WORDS = """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just me might more most must my myself no nor not now of off on once only or other
    our ours ourselves out over own same shall she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours
    yourself yourselves s t d ll m re ve
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A plural folder (Harman's S-stemmer, plus "-xes/-ches/-shes/-sses"): "indexes" →
    "index", "queries" → "query", "tables" → "table". Deliberately light: it never merges
    words of different meaning, is idempotent, and needs no package. Identifiers, numbers and
    short words are returned unchanged."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith(("xes", "ches", "shes", "sses", "zes")):
        return word[:-2]
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("us", "ss", "is")):
        return word[:-1]
    return word


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def tokenize(text: str, *, stemming: bool = True, stop_words: bool = False) -> list[str]:
    """Index terms of `text`, in order (duplicates kept: BM25 counts them).

    stop_words=True drops them; otherwise they are kept unstemmed (so `is_stop_word` still
    recognizes them at query time)."""
    terms: list[str] = []
    for word in _WORD.findall(_normalize(text)):
        terms.extend(_word_terms(word, stemming, stop_words))
    return terms


@lru_cache(maxsize=262144)
def _word_terms(word: str, stemming: bool, stop_words: bool) -> tuple[str, ...]:
    """The terms of one word (cached: documents repeat their words)."""
    word = word.removesuffix("'s")
    parts = _PART.findall(word)
    out: list[str] = []
    if len(parts) > 1 and len(word) <= MAX_TERM_CHARS:
        out.append(word.replace("'", ""))
    for part in parts:
        if len(part) > MAX_TERM_CHARS:
            continue
        if part in STOP_WORDS:
            if not stop_words:
                out.append(part)
        else:
            out.append(stem(part) if stemming else part)
    return tuple(out)


def is_stop_word(term: str) -> bool:
    return term in STOP_WORDS


# Words that only frame a question: "Can you explain X?", "Please describe X", "Tell me about
# X", "How does X work?". No passage about X says them, so as query terms they only dilute
# the match (and the coverage and proximity a question is judged answerable by). Only at the
# start (or "work" at the end of a how-question), and never in capitals: "EXPLAIN ANALYZE"
# is a command, not a frame.
_FRAME = re.compile(
    r"^\s*(?:(?:can|could|would)\s+you\s+)?(?:please\s+)?"
    r"(?:(?-i:(?!EXPLAIN\b|DESCRIBE\b))(?:explain|describe)|tell\s+me(?:\s+more)?(?:\s+about)?)\b",
    re.I,
)
_HOW_WORKS = re.compile(
    r"^(\s*how\s+(?:does|do|did|would|will)\b.+?)\s+work\b\s*([?.!]*)\s*$", re.I
)


def question_focus(text: str) -> str:
    """``text`` without the words that only frame it as a question (``_FRAME``); unchanged
    if nothing else would remain."""
    focused = " ".join(_FRAME.sub(" ", _HOW_WORKS.sub(r"\1\2", text), count=1).split())
    return focused if content_terms(focused) else text


def content_terms(text: str) -> list[str]:
    """The terms of ``text`` without stop words: what a question or a passage is about."""
    return [term for term in tokenize(text) if not is_stop_word(term)]
