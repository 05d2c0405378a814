"""The answerability judge: its signals, its fitted model, and what it decides on a real
(small) index. Given / When / Then."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conversations.logic import _answer_judge as judge
from conversations.logic import answering
from knowledge.logic.search_index import build_index, load_index
from tests.unit.conversations_answering.fixtures import passage
from tests.unit.knowledge_index.fixtures import chunk, shop_chunks


def measured(chunk_id: str, text: str, coverage: float, proximity: float, **kwargs):
    return replace(passage(chunk_id, text, coverage=coverage, **kwargs), proximity=proximity)


def test_the_fitted_model_has_one_constant_per_signal_and_a_probability_threshold():
    width = len(judge.SIGNALS)
    assert len(judge.MEANS) == len(judge.SCALES) == len(judge.WEIGHTS) == width
    assert all(scale > 0 for scale in judge.SCALES)
    assert 0 < judge.THRESHOLD < 1
    assert answering.WEAK_ANSWERABILITY == judge.THRESHOLD


@pytest.mark.parametrize("signal", judge.SIGNALS)
def test_more_of_any_signal_never_lowers_answerability(signal):
    # Every signal is evidence for an answer; a refit that turns one into evidence against
    # it has learned something about its training questions, not about answers.
    at = judge.SIGNALS.index(signal)
    base = list(judge.MEANS)
    more = [*base]
    more[at] += judge.SCALES[at]
    assert judge.probability(tuple(more)) > judge.probability(tuple(base))


def test_signals_read_the_question_without_its_frame_and_every_passage():
    # Given a question framed as "Can you explain ...?" and two passages of one document,
    # the second one's headings naming both of its words
    passages = [
        measured("locks:0", "Row locks block writers.", 1.0, 0.5, title="Concurrency"),
        measured(
            "locks:1",
            "Advisory locks are taken by the application.",
            0.5,
            0.0,
            title="Concurrency",
            headings=("Advisory locks",),
        ),
        measured("intro:0", "Locks are explained later.", 0.5, 0.0, title="Introduction"),
    ]
    values = dict(
        zip(judge.SIGNALS, judge.signals("Can you explain advisory locks?", passages), strict=True)
    )
    # Then "explain" is not a term, the best-grounded passage gives grounding and coverage,
    # headings come from whichever passage names the most terms, and 2 of 3 passages agree
    assert values == {
        "grounding": 0.75,
        "coverage": 1.0,
        "terms": 2.0,
        "headings": 1.0,
        "document": pytest.approx(2 / 3),
    }


def test_unmeasured_passages_are_not_judged():
    assert judge.signals("anything", []) is None
    unmeasured = passage("d:0", "text", coverage=0.9)  # a search that gave no proximity
    assert judge.answerability("anything", [unmeasured]) is None
    assert answering.is_weak("anything", [unmeasured]) is False  # the provider decides


SHOP = [
    *shop_chunks(),
    chunk(
        "hours",
        0,
        "Our store in Lyon is open Monday to Friday from 9:00 to 18:00 and on Saturdays from "
        "10:00 to 16:00. We are closed on Sundays.",
        title="Store hours",
        headings=("Store hours",),
    ),
]


@pytest.fixture(scope="module")
def shop_index():
    return load_index(build_index(SHOP).files())


def weak(index, question: str) -> bool:
    query = answering.retrieval_query(question, [])
    return answering.is_weak(query, answering.passages_from_hits(index.search(query, k=5)))


@pytest.mark.parametrize(
    "question",
    [
        "Do you ship abroad?",
        "When does express delivery arrive?",
        "Can I return items after 30 days?",
        "Is the store open on Sundays?",
        "When are you open on Saturdays?",  # one passage, its two words apart
    ],
)
def test_a_small_knowledge_base_answers_what_it_holds(shop_index, question):
    # A handful of documents: the questions' words often sit in one passage and nowhere else
    assert weak(shop_index, question) is False


@pytest.mark.parametrize(
    "question",
    [
        "How do I configure a PostgreSQL replica?",
        "Can you explain how the warehouse robots are programmed?",
        "What is the capital of France?",
    ],
)
def test_a_small_knowledge_base_abstains_on_what_it_only_brushes(shop_index, question):
    assert weak(shop_index, question) is True
