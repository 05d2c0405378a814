"""Every evaluation corpus made ready once per process: generated questions, documents with
their question headings cut, our index over them, and the plain-BM25 baseline beside it.

Shared by the retrieval bench (recall@5 per corpus) and the conversations bench (abstention
and citations per corpus), so both judge the same documents and questions."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from bench.retrieval import corpus, generated, pipeline

WINDOW = 1000  # characters per baseline window (as the "plain BM25 windows")


@dataclass
class Prepared:
    set: generated.CorpusSet
    chunks: list[Any]
    ingest_seconds: float  # parse + chunk, CPU
    off_topic: list[str] = field(default_factory=list)  # other domains' corpora
    unrelated: list[str] = field(default_factory=list)  # corpus.UNRELATED (never indexed)

    @property
    def name(self) -> str:
        return self.set.corpus.name


def ingest(prepared_set: generated.CorpusSet) -> tuple[list[Any], float]:
    kind = prepared_set.corpus.kind
    chunks: list[Any] = []
    started = time.process_time()
    for name, data in prepared_set.documents.items():
        try:
            chunks.extend(pipeline.ingest(data, file_name=name, document_id=name, kind=kind))
        except Exception as error:  # a document the pipeline refuses counts as not indexed
            if type(error).__name__ != "DocumentRejected":
                raise
    return chunks, time.process_time() - started


@cache
def prepare_all() -> dict[str, Prepared]:
    sets = {name: generated.build(c, c.files()) for name, c in corpus.CORPORA.items()}
    unrelated = [generated.build(c, c.files()) for c in corpus.UNRELATED.values()]
    out: dict[str, Prepared] = {}
    for name, s in sets.items():
        chunks, seconds = ingest(s)
        out[name] = Prepared(s, chunks, seconds)
        out[name].off_topic = generated.off_topic(s, [o for o in sets.values() if o is not s])
        out[name].unrelated = generated.off_topic(s, unrelated)
    return out


def judge(q: generated.GeneratedQuestion, ranked: list[tuple[str, str]]) -> int | None:
    """1-based rank of the first (document, text) that answers `q`."""
    snippets = [generated.fold(s) for s in q.snippets]
    for rank, (document, text) in enumerate(ranked, 1):
        if document == q.file:
            folded = generated.fold(text)
            if any(s in folded for s in snippets):
                return rank
    return None


def baseline_ranks(p: Prepared, k: int = 10) -> list[int | None]:
    """Plain bm25s (its default tokenizer: English stop words, no stemming) over 1,000-character
    windows of each document's visible text (raw text for reStructuredText), no titles."""
    import bm25s

    windows: list[tuple[str, str]] = []
    for name, data in p.set.documents.items():
        if p.set.corpus.kind == "html":
            text = corpus.visible_text(data)
        else:
            text = " ".join(data.decode("utf-8", errors="replace").split())
        windows.extend((name, text[i : i + WINDOW]) for i in range(0, len(text), WINDOW))
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize([t for _, t in windows], show_progress=False), show_progress=False
    )
    questions = p.set.questions
    tokens = bm25s.tokenize([q.question for q in questions], show_progress=False)
    results, _ = retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
    return [
        judge(q, [windows[i] for i in row])
        for q, row in zip(questions, results.tolist(), strict=True)
    ]


def index_ranks(index: Any, p: Prepared, k: int = 10) -> list[int | None]:
    ranks = []
    for q in p.set.questions:
        hits = index.search(q.question, k=k)
        ranks.append(judge(q, [(h.chunk.document_id, h.chunk.text) for h in hits]))
    return ranks


def recall_mrr(ranks: list[int | None]) -> tuple[float, float]:
    n = max(1, len(ranks))
    recall5 = 100.0 * sum(1 for r in ranks if r is not None and r <= 5) / n
    mrr10 = sum(1.0 / r for r in ranks if r is not None and r <= 10) / n
    return recall5, mrr10
