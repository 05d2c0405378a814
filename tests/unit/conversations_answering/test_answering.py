"""`answer` and its helpers: abstention, citations, follow-up queries. Given / When / Then."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conversations.logic import answering
from conversations.logic.answering import (
    ABSTENTION_TEXT,
    Citation,
    Turn,
    answer,
    is_weak,
    passages_from_hits,
    retrieval_query,
)
from knowledge.logic.types import Chunk, SearchHit
from tests.unit.conversations_answering.fixtures import (
    PERSONA,
    ForbiddenProvider,
    ScriptedProvider,
    passage,
    shop_passages,
)

# -- passages_from_hits ------------------------------------------------------------------


def test_hits_become_passages_with_what_a_citation_needs():
    chunk = Chunk(
        chunk_id="guide:3",
        document_id="guide",
        ordinal=3,
        text="Press the red button.",
        title="User guide",
        heading_path=("Setup", "Power"),
        page_start=4,
        page_end=5,
        source_url=None,
        file_name="guide.pdf",
    )
    hits = [SearchHit(chunk, 7.5, 0.9), SearchHit(chunk, 7.0, 0.9)]  # the same chunk twice

    passages = passages_from_hits(hits)

    assert len(passages) == 1
    p = passages[0]
    assert (p.chunk_id, p.document_id, p.title, p.text) == (
        "guide:3",
        "guide",
        "User guide",
        "Press the red button.",
    )
    assert (p.file_name, p.source_url, p.heading_path, p.page_start) == (
        "guide.pdf",
        None,
        ("Setup", "Power"),
        4,
    )
    assert (p.score, p.coverage) == (7.5, 0.9)


# -- is_weak -------------------------------------------------------------------------------


def test_no_passages_is_weak():
    assert is_weak("When are you open?", [])


@pytest.mark.parametrize(
    ("coverages", "weak"),
    [
        ((0.39, 0.2), True),
        ((0.2, 0.4), False),  # the best passage counts, not only the first
        ((0.9,), False),
        ((None, None), False),  # not measured: the provider decides
    ],
)
def test_weak_when_no_passage_covers_enough_of_the_question(coverages, weak):
    passages = [passage(f"d:{i}", "text", coverage=c) for i, c in enumerate(coverages)]
    assert is_weak("text", passages) is weak


def test_threshold_is_the_documented_one():
    assert answering.WEAK_COVERAGE == 0.4
    passages = [passage("d:0", "text", coverage=0.45)]
    assert not is_weak("text", passages)
    assert is_weak("text", passages, threshold=0.5)


# -- abstention ----------------------------------------------------------------------------


def test_weak_retrieval_abstains_without_calling_the_provider():
    # Given passages that barely touch the question
    weak = [replace(p, coverage=0.1) for p in shop_passages()]
    # When answered with a provider that must not be paid for
    result = answer("What is your stock price?", weak, [], PERSONA, ForbiddenProvider())
    # Then the agent says plainly it does not know, with nothing cited or invented
    assert result.abstained
    assert result.text == ABSTENTION_TEXT
    assert "knowledge base" in result.text
    assert result.citations == []
    assert (result.tokens_in, result.tokens_out, result.model) == (0, 0, "none")


def test_no_passages_abstains():
    result = answer("Anything?", [], [], PERSONA, ForbiddenProvider())
    assert result.abstained
    assert result.citations == []


@pytest.mark.parametrize(
    "reply",
    [
        "NO_ANSWER",
        "  no_answer.",
        "",
        "I'm sorry, the documents do not mention parking.",
        "There is no information about parking in the documents.",
    ],
)
def test_a_provider_that_cannot_answer_makes_an_abstention(reply):
    provider = ScriptedProvider(reply)
    result = answer("Is there parking?", shop_passages(), [], PERSONA, provider)
    assert result.abstained
    assert result.text == ABSTENTION_TEXT
    assert result.citations == []
    # The model ran: its tokens are billed and reported
    assert (result.tokens_in, result.tokens_out, result.model) == (120, 30, "scripted-model")


def test_a_cited_answer_mentioning_absence_is_not_an_abstention():
    reply = "The store does not open on Sundays [1]."
    result = answer("Open on Sunday?", shop_passages(), [], PERSONA, ScriptedProvider(reply))
    assert not result.abstained
    assert [c.chunk_id for c in result.citations] == ["hours:0"]


def test_a_guardrail_stop_is_an_abstention():
    provider = ScriptedProvider("partial text", stop_reason="guardrail_intervened")
    result = answer("Opening hours?", shop_passages(), [], PERSONA, provider)
    assert result.abstained
    assert result.citations == []


# -- citations -----------------------------------------------------------------------------


def test_markers_become_citations_renumbered_in_order_of_use():
    # Given a provider citing the second and third passage, and one that does not exist
    reply = "Returns take 30 days [2]. The Pro plan costs 30 EUR [3][2]. Also see [9]."
    result = answer("Returns?", shop_passages(), [], PERSONA, ScriptedProvider(reply))
    # Then the visitor reads [1], [2] and each maps to the passage the model meant
    assert result.text == "Returns take 30 days [1]. The Pro plan costs 30 EUR [2][1]. Also see."
    assert [c.index for c in result.citations] == [1, 2]
    assert result.citations[0] == Citation(
        index=1,
        document_id="returns",
        chunk_id="returns:0",
        title="Returns policy",
        source_url=None,
        file_name="returns.md",
        heading_path=("Returns policy", "Time limits"),
        page=None,
        snippet="We accept returns within 30 days of delivery.",
    )
    assert result.citations[1].page == 2
    assert not result.abstained


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Text [1, 3].", "Text [1][2]."),
        ("Text [1-2].", "Text [1][2]."),
        ("Text [3] [3].", "Text [1]."),  # adjacent markers are one group
        ("Text [2] and [1; 2].", "Text [1] and [2][1]."),
    ],
)
def test_marker_forms(reply, expected):
    result = answer("q?", shop_passages(), [], PERSONA, ScriptedProvider(reply))
    assert result.text == expected


def test_an_uncited_answer_gets_the_passages_it_draws_on():
    # Given a model that answers from the returns passage but forgets the markers
    reply = "You can return unused items within 30 days of delivery."
    result = answer("Can I return items?", shop_passages(), [], PERSONA, ScriptedProvider(reply))
    # Then the answer cites the passage it shares words with, marker appended
    assert not result.abstained
    assert [c.chunk_id for c in result.citations] == ["returns:0"]
    assert result.text == reply + " [1]"


def test_an_uncited_answer_sharing_nothing_cites_the_top_passage():
    result = answer("q?", shop_passages(), [], PERSONA, ScriptedProvider("Bonjour !"))
    assert [c.chunk_id for c in result.citations] == ["hours:0"]
    assert result.text.endswith("[1]")


def test_provider_failure_propagates():
    class Down:
        model_id = "down"

        def generate(self, request):
            raise answering.ProviderUnavailable(retry_after=7)

    with pytest.raises(answering.ProviderUnavailable) as caught:
        answer("Opening hours?", shop_passages(), [], PERSONA, Down())
    assert caught.value.status == 503
    assert caught.value.headers["Retry-After"] == "7"
    assert caught.value.retry_after == 7


# -- retrieval_query -----------------------------------------------------------------------

HISTORY = [
    Turn("user", "What are your opening hours on weekdays?"),
    Turn("assistant", "Monday to Friday from 9:00 to 18:00 [1]."),
]


@pytest.mark.parametrize(
    "follow_up",
    ["and on Sundays?", "What about Saturdays?", "is it open late?", "Sundays?"],
)
def test_an_elliptical_follow_up_is_searched_with_the_previous_question(follow_up):
    query = retrieval_query(follow_up, HISTORY)
    assert query == f"What are your opening hours on weekdays? {follow_up}"


@pytest.mark.parametrize(
    "question",
    [
        "How do I return an item I bought online?",
        "refund policy",
        "And how long do refunds take after I send back a parcel?",  # long enough alone
    ],
)
def test_a_standalone_question_is_searched_as_asked(question):
    assert retrieval_query(question, HISTORY) == question


def test_assistant_turns_are_never_folded_in():
    history = [Turn("assistant", "Welcome to Lyon Outdoor! Ask me about tents.")]
    assert retrieval_query("and on Sundays?", history) == "and on Sundays?"


def test_a_chain_of_follow_ups_reaches_back_to_the_topic():
    history = [
        *HISTORY,
        Turn("user", "and on Saturdays?"),
        Turn("assistant", "From 10:00 to 16:00 [1]."),
    ]
    query = retrieval_query("and Sundays?", history)
    assert query == "What are your opening hours on weekdays? and on Saturdays? and Sundays?"


def test_the_current_message_already_in_history_is_not_doubled():
    history = [*HISTORY, Turn("user", "and on Sundays?")]
    query = retrieval_query("and on Sundays?", history)
    assert query == "What are your opening hours on weekdays? and on Sundays?"


def test_follow_up_answer_uses_the_folded_topic():
    # Given the weekday question was answered, When the visitor asks "and on Sundays?"
    query = retrieval_query("and on Sundays?", HISTORY)
    result = answer(
        "and on Sundays?",
        shop_passages(),
        HISTORY,
        PERSONA,
        answering.provider_for("extractive"),
    )
    # Then the extractive answer quotes the Sunday sentence of the hours passage
    assert "Sundays" in query
    assert "closed on Sundays" in result.text
    assert result.citations[0].chunk_id == "hours:0"


def test_a_passage_that_names_the_words_in_passing_among_unrelated_documents_is_weak():
    # "How do GUI applications work?": every word in one sentence of a planner page, the
    # other hits from four other documents, no heading about GUI applications
    question = "How do GUI applications work?"
    passing = replace(
        passage(
            "planner:3",
            "There might be a GUI in the application that lets users choose the plan.",
            title="Statistics used by the planner",
            coverage=0.8,
        ),
        proximity=0.5,
    )
    others = [
        replace(
            passage(f"d{i}:0", "Applications connect to the server.", title=f"Chapter {i}"),
            coverage=0.4,
            proximity=0.0,
        )
        for i in range(4)
    ]
    assert is_weak(question, [passing, *others]) is True
    # The same passage, where the knowledge base is about the question: its headings name
    # GUI applications and the other hits come from the same document
    about = replace(passing, title="GUI applications")
    same = [replace(o, document_id="planner") for o in others]
    assert is_weak(question, [about, *same]) is False


def test_a_passage_holding_every_word_of_the_question_grounds_it_even_with_the_words_apart():
    # "When are you open on Saturdays?" / "open Monday to Friday from 9:00 to 18:00 and on
    # Saturdays": every word there, the two content words seven words apart
    hours = replace(shop_passages()[0], coverage=1.0, proximity=0.0)
    assert is_weak("When are you open on Saturdays?", [hours]) is False


def test_two_passages_of_one_document_make_one_citation_with_its_quoted_sentence():
    # Given two cited passages of the same document and one of another
    first, other = shop_passages()[0], shop_passages()[1]
    second = replace(first, chunk_id=f"{first.document_id}:9", text="Refunds take a week.")
    reply = "Returns take 30 days [1]. Refunds take a week [2]. Plans differ [3]."
    result = answer("Returns?", [first, second, other], [], PERSONA, ScriptedProvider(reply))
    # Then the document is cited once, under one number, and each citation quotes a sentence
    assert result.text == "Returns take 30 days [1]. Refunds take a week [1]. Plans differ [2]."
    assert [c.document_id for c in result.citations] == [first.document_id, other.document_id]
    assert all(c.snippet for c in result.citations)
