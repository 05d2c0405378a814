"""Answerability: do the retrieved passages answer the question, or only share words with it?

A logistic model over five lexical signals of the question and its passages (`signals`).
Grounding alone (coverage + proximity of the best passage) mistakes a passage that mentions a
question's words in passing ("a GUI in the application" for "How do GUI applications work?")
for one about them. The other signals say whether the passages are *about* those words:
whether a passage's headings name them and whether the hits agree on one document; and how
many words the question has (grounding half of six words says more than half of two).

The weights are fitted by `python -m bench.conversations.judge` on three tuning corpora
(PostgreSQL, Git and SQLite documentation: generated questions against questions of other
domains) plus the team's hand-written PostgreSQL questions, and measured on three held-out
corpora (debian-handbook, debian-reference, Python's documentation) that the fit never sees.
That command prints the constants below; paste them when the signals change.

Measured (`python -m bench --only conversations`; abstention on answerable / off-topic
questions, against the rule it replaced, best grounding < 0.45): postgresql 4% / 48% (3 / 40),
git 11 / 80 (10 / 65), sqlite 1 / 65 (1 / 50); held out: debian-handbook 17 / 78 (17 / 75),
debian-reference 8 / 88 (7 / 82), python 5 / 60 (8 / 48). The hand-written PostgreSQL
questions: 7.6% of the answerable ones abstain (15.2%), all 20 unanswerable ones still do.
On questions of unrelated documentation (GnuCash, GIMP, KiCad: personal finance, image
editing, electronics design) it abstains on postgresql 82.5%, git 77.5, sqlite 77.5,
debian-handbook 90, debian-reference 82.5, python 65; what still gets an answer there is mostly
a generic heading ("What is using example?", "Can you explain optional Files?").
The issue's goal (>= 90% off-topic and <= 10% answerable on every corpus) is still not met:
the signals are lexical, and some "off-topic" questions are answered by the corpus (PostgreSQL's
docs do say how to get a Git repository).

`document` is the one signal that reads the passages together, and the fit saw only whole
corpora, so the same command also measures knowledge bases of 8 and of 32 documents (six
samples per corpus, never fitted). With 8 the judge is about as good as the old rule (better
on python and git, within a few points elsewhere): AUC 0.90-0.97, answerable / off-topic
abstention postgresql 10 / 81% (old rule 13 / 86), git 26 / 86 (29 / 83), sqlite 6 / 81
(4 / 83), debian-handbook 14 / 100 (13 / 97), debian-reference 9 / 89 (9 / 86), python 8 / 89
(17 / 92). With 32 it is better on all but sqlite: AUC 0.91-0.99, postgresql 10 / 75 (12 /
69), git 13 / 89 (14 / 83), sqlite 1 / 69 (2 / 75), debian-handbook 20 / 89 (20 / 83),
python 10 / 75 (14 / 75). A size signal (log of the documents, alone and times `document`)
fitted on whole and smaller bases together moved the AUCs by -0.02 to +0.03 (mean +0.003),
not worth a signal the search result does not carry.
tests/unit/conversations_answering/test_judge.py asks a six-document shop both kinds of
question.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from conversations.logic._answer_types import Passage

SIGNALS = (
    "grounding",  # (coverage + proximity) / 2 of the best-grounded passage
    "coverage",  # that passage's coverage
    "terms",  # content terms in the question (a longer question grounds less easily)
    "headings",  # the highest share of the question's terms in one passage's title + headings
    "document",  # share of the passages from the most frequent document
)
# Fitted by `python -m bench.conversations.judge` (standardize, then logistic).
MEANS = (0.740762, 0.820834, 3.539526, 0.359359, 0.530567)
SCALES = (0.301331, 0.262352, 1.629587, 0.301978, 0.25134)
WEIGHTS = (1.173846, 0.954567, 0.905687, 0.814201, 0.419766)
BIAS = 1.823228
# Below this probability the passages do not answer: the probability under which 5% of the
# fit's answerable questions fall.
THRESHOLD = 0.3769


def signals(query: str, passages: Sequence[Passage]) -> tuple[float, ...] | None:
    """The model's inputs, in SIGNALS order; None when there are no passages or one's
    coverage or proximity was not measured (a search that did not compute them)."""
    from knowledge.logic import content_terms, question_focus

    if not passages or any(p.coverage is None or p.proximity is None for p in passages):
        return None
    grounded = [((p.coverage or 0.0) + (p.proximity or 0.0)) / 2 for p in passages]
    best = max(range(len(passages)), key=lambda i: (grounded[i], -i))
    terms = set(content_terms(question_focus(query)))
    headings = max(
        len(terms & set(content_terms(" ".join((p.title, *p.heading_path))))) for p in passages
    )
    documents = Counter(p.document_id for p in passages)
    return (
        grounded[best],
        float(passages[best].coverage or 0.0),
        float(len(terms)),
        headings / max(1, len(terms)),
        documents.most_common(1)[0][1] / len(passages),
    )


def probability(values: Sequence[float]) -> float:
    z = BIAS + sum(
        w * (v - m) / s for v, m, s, w in zip(values, MEANS, SCALES, WEIGHTS, strict=True)
    )
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def answerability(query: str, passages: Sequence[Passage]) -> float | None:
    """The probability (0-1) that `passages` answer `query`; None when not measurable."""
    values = signals(query, passages)
    return None if values is None else probability(values)
