"""Grounded answers on PostgreSQL 15's documentation: the conversation path without AWS.

Per message, as the service runs it: `retrieval_query` → the knowledge index's search (k=5,
the index built in process by bench/retrieval's corpus + pipeline, exactly what
`knowledge.logic.search` loads from S3) → `passages_from_hits` → `answer` with the
ExtractiveProvider (the offline default).

Quality, on bench/retrieval's 66 answerable and 20 unanswerable questions:
- answers with citations: share of non-abstained answers with >= 1 citation (goal 100%);
- abstention on unanswerable (goal >= 90%) and on answerable questions (goal <= 10%);
- answerable questions whose cited passages hold the expected snippet (file + snippet, case
  and whitespace folded, the retrieval bench's judge), beside the ceiling set by retrieval
  (any of the 5 passages holds it) and the strict share whose answer text quotes it;
- the abstention threshold at 0.3 / 0.4 / 0.5;
- follow-ups (followups_postgresql.jsonl, 11 elliptical second questions such as "and
  work_mem?"): cited-snippet share with the earlier question folded in and without.

Cost: own CPU per message (process time: query + search + answer) against a 10,000-chunk
index (the corpus's ~9,100 chunks plus perturbed copies, bench/retrieval's `replicate`).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.retrieval import corpus
from bench.retrieval import evaluate as retrieval_bench

HERE = Path(__file__).resolve().parent
K = 5
SCALE_CHUNKS = 10_000
CPU_ROUNDS = 3
THRESHOLDS = (0.3, 0.4, 0.5)
ANSWERABILITY_SWEEP = (0.0, 0.3, 0.5, 0.6)  # and the shipped WEAK_ANSWERABILITY
PrintFn = Callable[..., None]


@dataclass(frozen=True)
class FollowUp:
    id: str
    first: str
    question: str
    file: str
    answer: str


@dataclass
class Outcome:
    passages: list[Any]
    answer: Any
    search_cpu: float
    answer_cpu: float


def load_followups() -> list[FollowUp]:
    with (HERE / "followups_postgresql.jsonl").open(encoding="utf-8") as f:
        return [FollowUp(**json.loads(line)) for line in f if line.strip()]


def _persona() -> Any:
    from conversations.logic.answering import AgentPersona

    return AgentPersona(
        name="PostgreSQL docs assistant",
        instructions="You answer questions about PostgreSQL 15 from its documentation.",
        model="extractive",
        temperature=0.0,
    )


def ask(index: Any, question: str, history: Sequence[Any] = (), *, fold: bool = True) -> Outcome:
    """One message through the answer path, with its own CPU time split in two."""
    from conversations.logic import answering

    provider = answering.provider_for("extractive")
    started = time.process_time()
    query = answering.retrieval_query(question, history) if fold else question
    passages = answering.passages_from_hits(index.search(query, k=K))
    searched = time.process_time()
    result = answering.answer(question, passages, history, _persona(), provider)
    done = time.process_time()
    return Outcome(passages, result, searched - started, done - searched)


def _holds(file_name: str, snippet: str, passage: Any) -> bool:
    return passage.file_name == file_name and retrieval_bench.fold(snippet) in (
        retrieval_bench.fold(passage.text)
    )


def quoted_passages(outcome: Outcome) -> list[Any]:
    """The passages a citation stands for: of its document, holding the sentence it quotes
    (one citation per document may stand for several passages)."""
    out = []
    for c in outcome.answer.citations:
        quote = retrieval_bench.fold(c.snippet.rstrip("\u2026"))
        out.extend(
            p
            for p in outcome.passages
            if p.document_id == c.document_id and quote in retrieval_bench.fold(p.text)
        )
    return out


def cited_hold(outcome: Outcome, file_name: str, snippet: str) -> bool:
    return any(_holds(file_name, snippet, p) for p in quoted_passages(outcome))


def retrieved_hold(outcome: Outcome, file_name: str, snippet: str) -> bool:
    return any(_holds(file_name, snippet, p) for p in outcome.passages)


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:5.1f}% ({part}/{whole})" if whole else "  n/a"


def _quality(
    answerable: list[Outcome], unanswerable: list[Outcome], questions: list[Any]
) -> dict[str, float]:
    answered = [o for o in answerable + unanswerable if not o.answer.abstained]
    with_citations = sum(1 for o in answered if o.answer.citations)
    abst_u = sum(o.answer.abstained for o in unanswerable)
    abst_a = sum(o.answer.abstained for o in answerable)
    cited = sum(cited_hold(o, q.file, q.answer) for o, q in zip(answerable, questions, strict=True))
    ceiling = sum(
        retrieved_hold(o, q.file, q.answer) for o, q in zip(answerable, questions, strict=True)
    )
    first = sum(
        bool(o.passages) and _holds(q.file, q.answer, o.passages[0])
        for o, q in zip(answerable, questions, strict=True)
    )
    page = sum(
        any(c.file_name == q.file for c in o.answer.citations)
        for o, q in zip(answerable, questions, strict=True)
    )
    quoted = sum(
        retrieval_bench.fold(q.answer) in retrieval_bench.fold(o.answer.text)
        for o, q in zip(answerable, questions, strict=True)
    )
    return {
        "answered": len(answered),
        "with_citations": with_citations,
        "abstained_unanswerable": abst_u,
        "abstained_answerable": abst_a,
        "cited_snippet": cited,
        "retrieved_snippet": ceiling,
        "quoted_snippet": quoted,
        "cited_page": page,
        "first_snippet": first,
    }


def _cpu(index: Any, texts: list[str]) -> tuple[list[float], list[float], list[float]]:
    total, search, answer = [], [], []
    for _ in range(CPU_ROUNDS):
        for text in texts:
            outcome = ask(index, text)
            search.append(outcome.search_cpu * 1000)
            answer.append(outcome.answer_cpu * 1000)
            total.append((outcome.search_cpu + outcome.answer_cpu) * 1000)
    return total, search, answer


def _p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def corpora_table(print_fn: PrintFn = print) -> dict[str, float]:
    """Per corpus (bench/retrieval/suite.py): abstention on its generated questions (goal
    <= 10%), on off-topic questions from the other corpora's domains and on questions of
    unrelated documentation (personal finance, image editing, electronics design; goal >= 90%
    for both), and the share of answers whose cited passages hold the section's text."""
    from bench.retrieval import suite
    from conversations.logic import answering
    from knowledge.logic import search_index

    print_fn("\n== Answers on every corpus: generated questions and off-topic ones ==")
    print_fn(
        f"   {'corpus':17} {'set':8} {'abst. answerable':>17} {'abst. off-topic':>16}"
        f" {'abst. unrelated':>16} {'cited holds':>12} {'any of 5 holds':>15} {'cited':>6}"
    )
    out: dict[str, float] = {}
    for name, p in suite.prepare_all().items():
        index = search_index.load_index(search_index.build_index(p.chunks).files())
        answerable = [ask(index, q.question) for q in p.set.questions]
        off = [ask(index, text) for text in p.off_topic]
        unrelated = [ask(index, text) for text in p.unrelated]
        n_a, n_o, n_u = len(answerable), len(off), len(unrelated)
        abst_a = sum(o.answer.abstained for o in answerable)
        abst_o = sum(o.answer.abstained for o in off)
        abst_u = sum(o.answer.abstained for o in unrelated)

        def holds(passages: Sequence[Any], q: Any) -> bool:
            return suite.judge(q, [(x.document_id, x.text) for x in passages]) is not None

        cited = sum(
            holds(quoted_passages(o), q) for o, q in zip(answerable, p.set.questions, strict=True)
        )
        ceiling = sum(
            holds(o.passages, q) for o, q in zip(answerable, p.set.questions, strict=True)
        )
        answered = [o for o in answerable + off + unrelated if not o.answer.abstained]
        with_citations = sum(1 for o in answered if o.answer.citations)
        role = "tuning" if p.set.corpus.tuning else "held-out"
        print_fn(
            f"   {name:17} {role:8} {_pct(abst_a, n_a):>17} {_pct(abst_o, n_o):>16}"
            f" {_pct(abst_u, n_u):>16} {100 * cited / n_a:11.1f}% {100 * ceiling / n_a:14.1f}%"
            f" {100 * with_citations / max(1, len(answered)):5.0f}%"
        )
        sweep = []
        for threshold in sorted({*ANSWERABILITY_SWEEP, answering.WEAK_ANSWERABILITY}):

            def weak(outcome: Outcome, text: str, threshold: float = threshold) -> bool:
                return answering.is_weak(
                    answering.retrieval_query(text, []),
                    outcome.passages,
                    answerability_threshold=threshold,
                )

            weak_a = sum(
                weak(o, q.question) for o, q in zip(answerable, p.set.questions, strict=True)
            )
            weak_o = sum(weak(o, text) for o, text in zip(off, p.off_topic, strict=True))
            weak_u = sum(weak(o, text) for o, text in zip(unrelated, p.unrelated, strict=True))
            sweep.append(
                f"{threshold:g}: {100 * weak_a / n_a:.0f}%/{100 * weak_o / n_o:.0f}%"
                f"/{100 * weak_u / max(1, n_u):.0f}%"
            )
        print_fn(
            f"   {'':26} weak rule at answerability {', '.join(sweep)}"
            " (answerable/off-topic/unrelated)"
        )
        out[f"abstained_answerable_{name}"] = 100 * abst_a / n_a
        out[f"abstained_off_topic_{name}"] = 100 * abst_o / n_o
        out[f"abstained_unrelated_{name}"] = 100 * abst_u / max(1, n_u)
    return out


def run(print_fn: PrintFn = print) -> dict[str, float]:
    """Run the conversations bench and print its figures; returns the headline numbers."""
    per_corpus = corpora_table(print_fn)
    from conversations.logic import answering
    from knowledge.logic import search_index

    started = time.perf_counter()
    questions, unanswerable_texts = retrieval_bench.load_questions()
    followups = load_followups()
    files = corpus.html_files()
    chunks, _, _ = retrieval_bench.ingest_corpus(files)
    index = search_index.load_index(search_index.build_index(chunks).files())
    print_fn(
        f"\n== Conversations: grounded answers on PostgreSQL 15 docs ({len(chunks):,} chunks) =="
    )
    print_fn(
        f"   retrieval_query -> search k={K} -> answer, ExtractiveProvider;"
        f" {len(questions)} answerable + {len(unanswerable_texts)} unanswerable questions;"
        f" weak if best coverage < {answering.WEAK_COVERAGE}"
        f" or answerability < {answering.WEAK_ANSWERABILITY}"
    )

    answerable = [ask(index, q.question) for q in questions]
    unanswerable = [ask(index, text) for text in unanswerable_texts]
    m = _quality(answerable, unanswerable, questions)
    n_a, n_u = len(questions), len(unanswerable_texts)
    rows = [
        ("answers with >= 1 citation (goal 100%)", m["with_citations"], m["answered"]),
        ("abstained, unanswerable (goal >= 90%)", m["abstained_unanswerable"], n_u),
        ("abstained, answerable (goal <= 10%)", m["abstained_answerable"], n_a),
        ("answerable: cited passages hold the snippet", m["cited_snippet"], n_a),
        ("  ceiling: any of the 5 passages holds it", m["retrieved_snippet"], n_a),
        ("  baseline: the top passage holds it", m["first_snippet"], n_a),
        ("  strict: the answer text quotes it", m["quoted_snippet"], n_a),
        ("answerable: cites a passage of the expected page", m["cited_page"], n_a),
    ]
    for label, part, whole in rows:
        print_fn(f"   {label:52} {_pct(part, whole)}")

    print_fn("   abstention threshold (best passage coverage), same passages:")
    print_fn(f"   {'threshold':>11} {'abst. unans.':>13} {'abst. ans.':>11} {'cited snippet':>14}")
    for threshold in THRESHOLDS:
        var_a = [
            Outcome(
                o.passages,
                answering.answer(
                    q.question,
                    o.passages,
                    [],
                    _persona(),
                    answering.provider_for("extractive"),
                    weak_threshold=threshold,
                ),
                0,
                0,
            )
            for o, q in zip(answerable, questions, strict=True)
        ]
        var_u = [
            Outcome(
                o.passages,
                answering.answer(
                    text,
                    o.passages,
                    [],
                    _persona(),
                    answering.provider_for("extractive"),
                    weak_threshold=threshold,
                ),
                0,
                0,
            )
            for o, text in zip(unanswerable, unanswerable_texts, strict=True)
        ]
        v = _quality(var_a, var_u, questions)
        mark = "  <- shipped" if threshold == answering.WEAK_COVERAGE else ""
        print_fn(
            f"   {threshold:11.1f} {100 * v['abstained_unanswerable'] / n_u:12.1f}%"
            f" {100 * v['abstained_answerable'] / n_a:10.1f}%"
            f" {100 * v['cited_snippet'] / n_a:13.1f}%{mark}"
        )

    folded_ok = plain_ok = folded_page = plain_page = 0
    for item in followups:
        first = ask(index, item.first)
        history = [
            answering.Turn("user", item.first),
            answering.Turn("assistant", first.answer.text),
        ]
        folded = ask(index, item.question, history)
        plain = ask(index, item.question, history, fold=False)
        folded_ok += cited_hold(folded, item.file, item.answer)
        plain_ok += cited_hold(plain, item.file, item.answer)
        folded_page += any(c.file_name == item.file for c in folded.answer.citations)
        plain_page += any(c.file_name == item.file for c in plain.answer.citations)
    n_f = len(followups)
    print_fn(f"   follow-ups ({n_f}, e.g. 'and work_mem?' after a shared_buffers question):")
    print_fn(f"   {'':26} {'cited snippet':>14} {'cited page':>14}")
    for label, snippet, page in (
        ("earlier question folded", folded_ok, folded_page),
        ("searched as asked", plain_ok, plain_page),
    ):
        print_fn(f"   {label:26} {_pct(snippet, n_f):>14} {_pct(page, n_f):>14}")

    scaled = search_index.load_index(
        search_index.build_index(retrieval_bench.replicate(chunks, SCALE_CHUNKS)).files()
    )
    texts = [q.question for q in questions] + unanswerable_texts
    total, search, answer_cpu = _cpu(scaled, texts)
    print_fn(
        f"   own CPU per message, {SCALE_CHUNKS:,}-chunk index ({len(total)} messages):"
        f" p50 {_p(total, 50):.1f} ms, p99 {_p(total, 99):.1f} ms"
        f" (search p50 {_p(search, 50):.1f} ms, answer p50 {_p(answer_cpu, 50):.1f} ms,"
        f" answer p99 {_p(answer_cpu, 99):.1f} ms)"
    )
    sample = answerable[0].answer
    print_fn(f"   e.g. {questions[0].question!r} -> {sample.text[:160]!r}...")
    print_fn(f"   bench wall time {time.perf_counter() - started:.0f}s")
    return {
        **per_corpus,
        "citation_share": 100.0 * m["with_citations"] / max(1, m["answered"]),
        "abstained_unanswerable": 100.0 * m["abstained_unanswerable"] / n_u,
        "abstained_answerable": 100.0 * m["abstained_answerable"] / n_a,
        "cited_snippet": 100.0 * m["cited_snippet"] / n_a,
        "cpu_p50_ms": statistics.median(total),
        "cpu_p99_ms": _p(total, 99),
    }
