"""Fit the answerability judge (conversations/logic/_answer_judge.py) and measure it.

    .venv/bin/python -m bench --only judge   (or python -m bench.conversations.judge)

Fit: L2-regularized logistic regression (Newton's method, so the result does not depend on
a step size or an iteration count) over the judge's signals, on
- the three tuning corpora (postgresql, git, sqlite): their generated answerable questions
  against their off-topic ones (questions of other domains), and
- the team's 66 hand-written PostgreSQL questions against its 20 unanswerable ones,
each question searched as the service searches it (retrieval_query, k=5). The threshold is
the probability under which 5% of the fit's answerable questions fall.

Then, per corpus, tuning and held-out (debian-handbook, debian-reference, python; never
seen by the fit), per corpus against questions of unrelated documentation (corpus.UNRELATED,
never fitted), and per corpus again as smaller knowledge bases (six samples of 8 and of
32 of its documents, never fitted): ROC AUC (answerable ranked above off-topic), and the
share of answerable and off-topic questions under the threshold, for the fitted judge beside
the grounding rule it replaces (best grounding < 0.45). Prints the constants to paste into
the module.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.conversations.evaluate import ask
from bench.retrieval import corpus
from bench.retrieval import evaluate as retrieval_bench

L2 = 1.0  # ridge penalty on the standardized weights (the bias is not penalized)
ANSWERABLE_MISS = 5.0  # % of the fit's answerable questions allowed under the threshold
GROUNDING_RULE = 0.45  # the rule the judge replaced: abstain when best grounding < 0.45
# Smaller knowledge bases, measured only (the fit sees whole corpora): a tenant with a handful
# of documents, where few passages match a question at all, and one with a few dozen.
SMALL_DOCUMENTS = (8, 32)
SMALL_SAMPLES = 6
SMALL_SEED = 7
OFF_TOPIC_PER_SAMPLE = 6
PrintFn = Callable[..., None]


@dataclass
class Labeled:
    name: str
    tuning: bool
    answerable: list[tuple[float, ...] | None]
    other: list[tuple[float, ...] | None]  # off-topic or unanswerable
    fitted: bool = True  # the smaller bases and the unrelated questions are only measured


def _small_bases(p: Any, size: int) -> Labeled | None:
    """SMALL_SAMPLES knowledge bases of `size` documents of corpus `p`, drawn (seeded) among
    the documents its questions are about: each asked the questions about its documents and
    OFF_TOPIC_PER_SAMPLE of the corpus's off-topic questions. None when the corpus has no
    more than `size` such documents (the whole corpus is measured already)."""
    from knowledge.logic import search_index

    documents = defaultdict(list)
    for chunk in p.chunks:
        documents[chunk.document_id].append(chunk)
    candidates = sorted({q.file for q in p.set.questions if q.file in documents})
    if len(candidates) <= size:
        return None
    rng = random.Random(SMALL_SEED)
    answerable: list[tuple[float, ...] | None] = []
    other: list[tuple[float, ...] | None] = []
    for sample in range(SMALL_SAMPLES):
        chosen = set(rng.sample(candidates, size))
        chunks = [c for d in sorted(chosen) for c in documents[d]]
        index = search_index.load_index(search_index.build_index(chunks).files())
        answerable += _signals(index, [q.question for q in p.set.questions if q.file in chosen])
        start = sample * OFF_TOPIC_PER_SAMPLE
        other += _signals(index, p.off_topic[start : start + OFF_TOPIC_PER_SAMPLE])
    name = f"{p.name} ({size} docs)"
    return Labeled(name, p.set.corpus.tuning, answerable, other, fitted=False)


def _signals(index: Any, questions: Sequence[str]) -> list[tuple[float, ...] | None]:
    """The judge's inputs for each question, asked as the conversations bench asks it."""
    from conversations.logic import _answer_judge, answering

    return [
        _answer_judge.signals(answering.retrieval_query(q, []), ask(index, q).passages)
        for q in questions
    ]


def collect() -> list[Labeled]:
    from bench.retrieval import suite
    from knowledge.logic import search_index

    sets = []
    prepared = suite.prepare_all()
    unrelated = []
    for name, p in prepared.items():
        index = search_index.load_index(search_index.build_index(p.chunks).files())
        answerable = _signals(index, [q.question for q in p.set.questions])
        sets.append(Labeled(name, p.set.corpus.tuning, answerable, _signals(index, p.off_topic)))
        unrelated.append(
            Labeled(
                f"{name} (unrelated)",
                p.set.corpus.tuning,
                answerable,
                _signals(index, p.unrelated),
                fitted=False,
            )
        )
    questions, unanswerable = retrieval_bench.load_questions()
    chunks, _, _ = retrieval_bench.ingest_corpus(corpus.html_files())
    index = search_index.load_index(search_index.build_index(chunks).files())
    sets.append(
        Labeled(
            "postgresql (team)",
            True,
            _signals(index, [q.question for q in questions]),
            _signals(index, unanswerable),
        )
    )
    smaller = (_small_bases(p, size) for size in SMALL_DOCUMENTS for p in prepared.values())
    return sets + unrelated + [s for s in smaller if s is not None]


def _matrix(rows: Sequence[tuple[float, ...] | None], width: int) -> np.ndarray:
    # No passages at all: every signal 0 (the judge is not asked; the answer abstains).
    return np.array([row if row is not None else (0.0,) * width for row in rows], dtype=float)


def fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(means, scales, weights, bias) of an L2-regularized logistic regression."""
    means = x.mean(axis=0)
    scales = x.std(axis=0)
    scales[scales == 0] = 1.0
    z = np.hstack([(x - means) / scales, np.ones((len(x), 1))])
    beta = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], L2)
    penalty[-1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z @ beta)))
        gradient = z.T @ (p - y) + penalty * beta
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return means, scales, beta[:-1], float(beta[-1])


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    if not len(positive) or not len(negative):
        return float("nan")
    above = (positive[:, None] > negative[None, :]).mean()
    tied = (positive[:, None] == negative[None, :]).mean()
    return float(above + 0.5 * tied)


def run(print_fn: PrintFn = print) -> dict[str, Any]:
    from conversations.logic import _answer_judge as judge

    width = len(judge.SIGNALS)
    grounding = judge.SIGNALS.index("grounding")
    sets = collect()
    fitted = [s for s in sets if s.tuning and s.fitted]
    x = np.vstack([_matrix(s.answerable + s.other, width) for s in fitted])
    y = np.concatenate([np.r_[np.ones(len(s.answerable)), np.zeros(len(s.other))] for s in fitted])
    means, scales, weights, bias = fit(x, y)

    def refit(rows: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(((rows - means) / scales) @ weights + bias)))

    answerable_fit = np.concatenate([refit(_matrix(s.answerable, width)) for s in fitted])
    threshold = float(np.percentile(answerable_fit, ANSWERABLE_MISS))

    def shipped(rows: np.ndarray) -> np.ndarray:
        return np.array([judge.probability(tuple(r)) for r in rows])

    print_fn(
        f"\n== Answerability judge: fitted on {', '.join(s.name for s in fitted)};"
        f" {len(y)} questions =="
    )
    print_fn(
        "   per corpus: AUC (answerable above off-topic), then % of answerable / off-topic"
        " questions judged unanswerable (each rule alone, without the 0.4 coverage floor)"
    )
    print_fn(
        f"   {'corpus':28} {'set':8} {'grounding < 0.45':>22} {'judge (shipped)':>22}"
        f" {'judge (refit now)':>22}"
    )
    figures: dict[str, Any] = {}
    for s in sets:
        a, o = _matrix(s.answerable, width), _matrix(s.other, width)
        cells = []
        for score_a, score_o, cut in (
            (a[:, grounding], o[:, grounding], GROUNDING_RULE),
            (shipped(a), shipped(o), judge.THRESHOLD),
            (refit(a), refit(o), threshold),
        ):
            cells.append(
                f"{auc(score_a, score_o):.2f} {100 * np.mean(score_a < cut):3.0f}%"
                f" / {100 * np.mean(score_o < cut):3.0f}%"
            )
        role = "tuning" if s.tuning else "held-out"
        print_fn(f"   {s.name:28} {role:8} {cells[0]:>22} {cells[1]:>22} {cells[2]:>22}")
        figures[s.name] = cells
    print_fn("\n   refit constants (conversations/logic/_answer_judge.py):")
    print_fn(f"   MEANS = {tuple(round(float(v), 6) for v in means)}")
    print_fn(f"   SCALES = {tuple(round(float(v), 6) for v in scales)}")
    print_fn(f"   WEIGHTS = {tuple(round(float(v), 6) for v in weights)}")
    print_fn(f"   BIAS = {round(bias, 6)}")
    print_fn(f"   THRESHOLD = {round(threshold, 4)}")
    return figures


if __name__ == "__main__":
    run()
