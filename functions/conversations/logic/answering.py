"""Grounded answers with citations: the public logic the conversation service calls.

The flow for one visitor message (the service does retrieval and storage around it):

    query = retrieval_query(question, history)         # follow-ups fold in the earlier question
    hits = knowledge.logic.search(..., query, k=5, ...).hits
    passages = passages_from_hits(hits)
    result = answer(question, passages, history, persona, provider_for(persona.model))

`answer` abstains, without calling any provider, when retrieval is weak (`is_weak`); else the
provider writes the answer from the quoted passages, and every answer that does not abstain
carries at least one citation. `ProviderUnavailable` (a 503 with Retry-After) propagates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from conversations.logic import _answer_citations, _answer_judge, _answer_prompt
from conversations.logic._answer_types import (
    AgentPersona,
    Answer,
    Citation,
    GenerationRequest,
    GenerationResult,
    Passage,
    Turn,
)
from conversations.logic.providers import (
    BedrockConverseProvider,
    ExtractiveProvider,
    Provider,
    ProviderUnavailable,
    provider_for,
)

if TYPE_CHECKING:
    from knowledge.logic import SearchHit

__all__ = [
    "ABSTENTION_TEXT",
    "WEAK_ANSWERABILITY",
    "WEAK_COVERAGE",
    "AgentPersona",
    "Answer",
    "BedrockConverseProvider",
    "Citation",
    "ExtractiveProvider",
    "GenerationRequest",
    "GenerationResult",
    "Passage",
    "Provider",
    "ProviderUnavailable",
    "Turn",
    "answer",
    "is_weak",
    "passages_from_hits",
    "provider_for",
    "retrieval_query",
]

# Weak retrieval: no passage contains at least 40% of the question's weighted terms
# (`SearchHit.coverage`: IDF-weighted, stop words excluded, comparable across corpora).
# Measured on PostgreSQL's docs (bench/conversations, best of the 5 passages): at 0.4, 0% of
# answerable and 90% of unanswerable questions abstain; 0.3 lets half of the unanswerable
# through (55% abstain), 0.5 starts refusing answerable ones (6%). The best passage rather
# than the first: a follow-up or a fused ranking may put the covering passage second.
# Coverage is lexical: with dense retrieval on it under-rates paraphrases, so the rule errs
# towards abstaining, never towards inventing.
WEAK_COVERAGE = 0.4
# ... or the answerability judge (`_answer_judge`: a logistic model over the best passage's
# grounding = (coverage + proximity) / 2 and coverage, the question's length, whether a
# passage's headings name its words and whether the hits agree on one document) says the
# passages are not *about* it. Measured by `python -m bench --only judge` on six Debian
# documentation corpora (generated questions, off-topic ones from other domains), small
# knowledge bases drawn from them and the team's hand-written PostgreSQL questions; see the
# module for the figures and how the threshold was chosen.
WEAK_ANSWERABILITY = _answer_judge.THRESHOLD
MAX_PASSAGES = 8  # the search asks for 5; more only dilutes the prompt
NO_MODEL = "none"
ABSTENTION_TEXT = (
    "I'm sorry, my knowledge base doesn't cover that, so I can't answer it reliably. "
    "Could you rephrase the question or ask about something else?"
)
# A follow-up that only makes sense with the question before it: a single content word
# ("and on Sundays?"), or few content words that start like a continuation ("what about
# weekend hours?") or lean on a pronoun ("can I return it after 30 days?").
_CONTINUATION = re.compile(
    r"^(?:and|or|but|also|plus|so|then|what about|how about|what if|same for|else)\b", re.I
)
_ANAPHORA_WORDS = """
    it its it's that this these those they them their theirs he she him her his one ones
    same such
"""
_ANAPHORA = frozenset(_ANAPHORA_WORDS.split())
ELLIPTICAL_MAX_TERMS = 4
FOLD_TURNS = 2  # earlier user messages folded in at most (the second only if the first
# was itself a follow-up)
QUERY_CHARS = 600


def passages_from_hits(hits: Sequence[SearchHit]) -> list[Passage]:
    """Search hits as passages, best first; a chunk returned twice is kept once."""
    seen: set[str] = set()
    passages: list[Passage] = []
    for hit in hits:
        chunk = hit.chunk
        if chunk.chunk_id in seen:
            continue
        seen.add(chunk.chunk_id)
        passages.append(
            Passage(
                chunk_id=chunk.chunk_id,
                document_id=chunk.document_id,
                title=chunk.title,
                text=chunk.text,
                source_url=chunk.source_url,
                file_name=chunk.file_name,
                heading_path=tuple(chunk.heading_path),
                page_start=chunk.page_start,
                score=float(hit.score),
                coverage=None if hit.coverage is None else float(hit.coverage),
                proximity=None if hit.proximity is None else float(hit.proximity),
            )
        )
    return passages


def is_weak(
    query: str,
    passages: Sequence[Passage],
    *,
    threshold: float = WEAK_COVERAGE,
    answerability_threshold: float = WEAK_ANSWERABILITY,
) -> bool:
    """True when the passages cannot ground an answer to `query` (what was searched): there
    are none, the best coverage among them is below `threshold` (WEAK_COVERAGE), or the
    answerability judge scores them below `answerability_threshold` (WEAK_ANSWERABILITY).
    Passages without coverage figures (a search that did not measure them) are not judged
    weak here; the provider then decides, and says NO_ANSWER when they do not answer."""
    if not passages:
        return True
    measured = [p.coverage for p in passages if p.coverage is not None]
    if not measured:
        return False
    if max(measured) < threshold:
        return True
    score = _answer_judge.answerability(query, passages)
    return score is not None and score < answerability_threshold


def _content_terms(text: str) -> tuple[list[str], bool]:
    """(content terms, whether a pronoun points outside the message)."""
    from knowledge.logic import content_terms

    words = {w.casefold() for w in re.findall(r"[\w']+", text)}
    return content_terms(text), bool(words & _ANAPHORA)


def is_follow_up(question: str) -> bool:
    """Whether `question` needs the conversation before it to be understood."""
    text = question.strip()
    terms, anaphoric = _content_terms(text)
    count = len(set(terms))
    if count <= 1:
        return True
    return count <= ELLIPTICAL_MAX_TERMS and (anaphoric or bool(_CONTINUATION.match(text)))


def retrieval_query(question: str, history: Sequence[Turn]) -> str:
    """What to search the knowledge base for. A standalone question is searched as asked;
    a follow-up ("and on Sundays?") is prefixed with the visitor's previous message (and
    the one before, if that was a follow-up too), so the search sees the topic. Assistant
    turns are never folded in: their words would outweigh the visitor's."""
    text = " ".join(question.split())
    if not is_follow_up(text):
        return text
    earlier = [" ".join(t.text.split()) for t in history if t.role == "user" and t.text.strip()]
    if earlier and earlier[-1] == text:  # the history already holds this very message
        earlier.pop()
    folded: list[str] = []
    for previous in reversed(earlier[-FOLD_TURNS:]):
        folded.insert(0, previous)
        if not is_follow_up(previous):
            break
    return " ".join([*folded, text])[-QUERY_CHARS:].strip()


def _abstain(tokens_in: int = 0, tokens_out: int = 0, model: str = NO_MODEL) -> Answer:
    return Answer(ABSTENTION_TEXT, [], True, tokens_in, tokens_out, model)


def _citation(index: int, passages: Sequence[Passage], answer_text: str) -> Citation:
    """One document's citation: the first cited passage's place, the quoted sentence."""
    first = passages[0]
    return Citation(
        index=index,
        document_id=first.document_id,
        chunk_id=first.chunk_id,
        title=first.title,
        source_url=first.source_url,
        file_name=first.file_name,
        heading_path=first.heading_path,
        page=first.page_start,
        snippet=_answer_citations.snippet(answer_text, passages),
    )


def answer(
    question: str,
    passages: Sequence[Passage],
    history: Sequence[Turn],
    persona: AgentPersona,
    provider: Provider,
    *,
    weak_threshold: float = WEAK_COVERAGE,
    answerability_threshold: float = WEAK_ANSWERABILITY,
) -> Answer:
    """The agent's answer to `question` from `passages` (best first), with citations.

    - Weak retrieval (`is_weak`): abstains with ABSTENTION_TEXT; no provider is called,
      model "none", no tokens.
    - Otherwise the provider answers from the quoted passages. Its [n] markers become the
      citations (renumbered 1..m in order of use; unknown numbers dropped), one per
      document, each with the sentence it quotes. An answer that
      cites nothing gets the passages it shares the most words with (at least the top one),
      their markers appended. A reply of NO_ANSWER (or, uncited, a refusal such as "the
      documents do not mention it") is an abstention, with the provider's token counts.

    Raises ProviderUnavailable when the provider cannot answer now."""
    passages = list(passages)[:MAX_PASSAGES]
    search_query = retrieval_query(question, history)
    if is_weak(
        search_query,
        passages,
        threshold=weak_threshold,
        answerability_threshold=answerability_threshold,
    ):
        return _abstain()
    request = _answer_prompt.build_request(
        question, passages, history, persona, search_query=search_query
    )
    result = provider.generate(request)
    stop = result.stop_reason.lower()
    if stop in ("guardrail_intervened", "content_filtered"):
        return _abstain(result.tokens_in, result.tokens_out, result.model)
    if result.citations is not None:
        text = result.text.strip()
        order = [i for i in result.citations if 0 <= i < len(passages)]
    else:
        text, order = _answer_citations.renumber(result.text, len(passages))
    if _answer_citations.says_cannot_answer(text, cited=bool(order)):
        return _abstain(result.tokens_in, result.tokens_out, result.model)
    if not order:
        order = _answer_citations.attribute(text, passages)
        text = f"{text} " + "".join(f"[{n}]" for n in range(1, len(order) + 1))
    text, groups = _answer_citations.by_document(text, order, passages)
    return Answer(
        text=text,
        citations=[
            _citation(n, [passages[i] for i in group], text) for n, group in enumerate(groups, 1)
        ],
        abstained=False,
        tokens_in=result.tokens_in,
        tokens_out=result.tokens_out,
        model=result.model,
    )
