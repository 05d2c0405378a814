"""The per-agent search index: built once per version from every chunk of the agent, written
as immutable artifacts, loaded by the search path and cached per warm environment.

Artifacts (`IndexArtifacts.files()`), both needed to load:
- `manifest.json`: format version, counts, tokenizer and BM25 settings, embedding model id
  and dimensions, and the table of contents of `index.bin`. Human-readable on purpose.
- `index.bin`: numpy arrays end to end (see `_index_format`): the BM25 score matrix as CSC
  postings (built by bm25s, Lucene's BM25), the vocabulary, per-chunk filter columns (document,
  source type, tags), the chunks themselves as JSON lines with an offset table (decoded only
  for the hits), and optionally the dense matrix (float16, L2-normalized rows).

Ranking (measured on bench/retrieval; the reasons are in the report):
- BM25 over the chunk text plus its document title and heading path (repeated
  `field_repeat` times, a simple BM25F): a question about a section finds the section even
  when the passage never repeats the heading's words.
- Very short chunks get a length floor (`min_terms`): BM25's length normalization otherwise
  ranks a three-word fragment above the passage that actually answers.
- Document context: each chunk gets `document_weight` times the best score of its document's
  chunks, so among similar passages the one in the document about the question wins.
- Stop words are indexed and searched (low IDF keeps them cheap in the score): "IF NOT
  EXISTS", "ON CONFLICT", "READ ONLY", "to be or not to be" stay searchable.
- Dense similarity only when the index has vectors *and* the caller passes an embedder of the
  same model; then lexical and dense rankings are fused by reciprocal rank.
- Filters are a boolean mask applied before top-k, so k hits come back whenever k chunks
  match the query inside the filter.
- Deterministic: ties are broken by chunk position, and the same chunks give the same bytes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from knowledge.logic import _index_format, query
from knowledge.logic.types import Chunk, SearchHit

if TYPE_CHECKING:
    from knowledge.logic.embeddings import Embedder

FORMAT = "agenthub-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
BLOB = "index.bin"
ARTIFACT_NAMES = (MANIFEST, BLOB)
COVERAGE_MIN_CHUNKS = 1000  # see LoadedIndex.coverage
RRF_K = 60  # the usual reciprocal-rank-fusion constant (Cormack et al. 2009)


@dataclass(frozen=True)
class IndexSettings:
    """How chunks become terms and scores; recorded in the manifest."""

    k1: float = 1.2
    b: float = 0.75
    field_repeat: int = 2  # times title + heading path are added to a chunk's terms
    min_terms: int = 10  # length floor for BM25 normalization (fragments, not FAQ pairs)
    stemming: bool = True
    stop_words: bool = False  # indexed: chunk lengths count every word ...
    stop_word_weight: float = 0.0  # ... but queries ignore them unless nothing else is left
    document_weight: float = 0.2  # share of the document's best chunk score added
    dense_candidates: int = 100  # per ranking, before fusion
    # Reranking: the best `rerank_pool` by score are ordered by score / best score +
    # `proximity_weight` * proximity (the share of the question's neighbouring content words
    # that stand near each other in the passage). Measured on six Debian documentation
    # corpora (`python -m bench --only retrieval`, question frames left out): recall@5 over
    # plain BM25 windows is at least +10 points on every one at any weight from 0.2 to 0.4
    # (+9 on git at 0.6), and the hand-written PostgreSQL questions keep their recall there
    # (57.6%; 53.0% at 0.6). Indexes keep the weight they were built with (their manifest);
    # 0 turns it off.
    proximity_weight: float = 0.3
    rerank_pool: int = 30


@dataclass(frozen=True)
class Filters:
    """Metadata filters: OR within a field, AND across fields; None means "any"."""

    document_ids: frozenset[str] | None = None
    source_types: frozenset[str] | None = None
    tags: frozenset[str] | None = None

    @classmethod
    def of(
        cls,
        *,
        document_ids: Iterable[str] | None = None,
        source_types: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
    ) -> Filters:
        def as_set(values: Iterable[str] | None) -> frozenset[str] | None:
            return None if values is None else frozenset(values)

        return cls(as_set(document_ids), as_set(source_types), as_set(tags))

    @classmethod
    def from_model(cls, model: Any) -> Filters | None:
        """From the API's `SearchFilters` (or anything with the same attributes)."""
        if model is None:
            return None
        return cls.of(
            document_ids=getattr(model, "document_ids", None),
            source_types=getattr(model, "source_types", None),
            tags=getattr(model, "tags", None),
        )

    @property
    def empty(self) -> bool:
        return self.document_ids is None and self.source_types is None and self.tags is None


@dataclass(frozen=True)
class IndexArtifacts:
    """The immutable files of one index version."""

    manifest: dict[str, Any]
    blob: bytes

    def files(self) -> dict[str, bytes]:
        text = json.dumps(self.manifest, sort_keys=True, indent=1, ensure_ascii=False)
        return {MANIFEST: text.encode(), BLOB: self.blob}

    @classmethod
    def from_files(cls, files: Mapping[str, bytes]) -> IndexArtifacts:
        missing = [name for name in ARTIFACT_NAMES if name not in files]
        if missing:
            raise ValueError(f"index artifacts missing: {', '.join(missing)}")
        return cls(manifest=json.loads(files[MANIFEST]), blob=files[BLOB])

    @property
    def size_bytes(self) -> int:
        return len(self.blob) + len(self.files()[MANIFEST])


def field_text(chunk: Chunk) -> str:
    """The chunk's context: document title and the headings above it, without repeats."""
    parts: list[str] = []
    for raw in (chunk.title, *chunk.heading_path):
        part = raw.strip()
        if part and part not in parts:
            parts.append(part)
    return " ".join(parts)


def embedding_text(chunk: Chunk) -> str:
    """What a chunk's dense vector is computed from: context line, then the passage."""
    context = " > ".join(p for p in (chunk.title, *chunk.heading_path) if p)
    return f"{context}\n{chunk.text}" if context else chunk.text


def _source_type(chunk: Chunk) -> str:
    return chunk.source_type or chunk.extra.get("source_type", "") or ""


def _chunk_terms(chunk: Chunk, settings: IndexSettings) -> list[str]:
    def terms(text: str) -> list[str]:
        return query.tokenize(text, stemming=settings.stemming, stop_words=settings.stop_words)

    out = terms(chunk.text)
    context = terms(field_text(chunk))
    for _ in range(settings.field_repeat):
        out.extend(context)
    return out


def _bm25_postings(
    corpus_ids: list[list[int]], vocab_size: int, settings: IndexSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(data, indices, indptr) of the chunk-by-term BM25 score matrix, CSC by term.

    Chunks shorter than `min_terms` are padded with a reserved term that is dropped
    afterwards: it only lengthens them for BM25's length normalization."""
    import bm25s

    pad = vocab_size
    padded = [
        ids + [pad] * (settings.min_terms - len(ids)) if len(ids) < settings.min_terms else ids
        for ids in corpus_ids
    ]
    vocab = {term_id: term_id for term_id in range(vocab_size + 1)}
    model = bm25s.BM25(k1=settings.k1, b=settings.b, method="lucene")
    model.index((padded, vocab), create_empty_token=False, show_progress=False)
    scores = model.scores
    indptr = np.asarray(scores["indptr"][: vocab_size + 1], dtype=np.int64)
    end = int(indptr[-1])
    data = np.asarray(scores["data"][:end], dtype=np.float32)
    indices = np.asarray(scores["indices"][:end], dtype=np.int32)
    # Chunk ids ascending within each term: `coverage` binary-searches them.
    column = np.repeat(np.arange(vocab_size, dtype=np.int64), np.diff(indptr))
    order = np.lexsort((indices, column))
    return data[order], indices[order], indptr


def build_index(
    chunks: Sequence[Chunk],
    *,
    embedder: Embedder | None = None,
    vectors: np.ndarray | None = None,
    embedding_model: str | None = None,
    settings: IndexSettings | None = None,
) -> IndexArtifacts:
    """Build one index version from all of an agent's chunks (in a stable order).

    Dense vectors come from `vectors` (precomputed, one row per chunk, with
    `embedding_model`) or from `embedder`; with neither the index is lexical only."""
    settings = settings or IndexSettings()
    chunk_ids = [c.chunk_id for c in chunks]
    if len(set(chunk_ids)) != len(chunk_ids):
        raise ValueError("chunk ids must be unique within an index")
    n = len(chunks)

    chunk_terms = [_chunk_terms(c, settings) for c in chunks]
    vocabulary = sorted({t for terms in chunk_terms for t in terms})
    term_id = {t: i for i, t in enumerate(vocabulary)}
    corpus_ids = [[term_id[t] for t in terms] for terms in chunk_terms]
    if n:
        data, indices, indptr = _bm25_postings(corpus_ids, len(vocabulary), settings)
    else:
        data = np.zeros(0, np.float32)
        indices = np.zeros(0, np.int32)
        indptr = np.zeros(len(vocabulary) + 1, np.int64)
    df = np.diff(indptr).astype(np.float64)
    idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)  # Lucene's, as bm25s

    documents = sorted({c.document_id for c in chunks})
    document_index = {d: i for i, d in enumerate(documents)}
    source_types = sorted({_source_type(c) for c in chunks})
    tags = sorted({t for c in chunks for t in c.tags})
    tag_index = {t: i for i, t in enumerate(tags)}
    tag_chunk = [i for i, c in enumerate(chunks) for _ in c.tags]
    tag_ids = [tag_index[t] for c in chunks for t in c.tags]

    lines = [
        json.dumps(asdict(c), ensure_ascii=False, separators=(",", ":")).encode() for c in chunks
    ]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum([len(line) for line in lines], out=offsets[1:])

    sections: dict[str, np.ndarray | bytes] = {
        "bm25.data": data,
        "bm25.indices": indices,
        "bm25.indptr": indptr,
        "bm25.idf": idf,
        "vocabulary": "\n".join(vocabulary).encode(),
        "chunks.jsonl": b"".join(lines),
        "chunks.offsets": offsets,
        "chunks.document": np.array(
            [document_index[c.document_id] for c in chunks], dtype=np.int32
        ),
        "chunks.source_type": np.array(
            [source_types.index(_source_type(c)) for c in chunks], dtype=np.int16
        ),
        "documents": json.dumps(documents, ensure_ascii=False).encode(),
        "tags": json.dumps(tags, ensure_ascii=False).encode(),
        "tags.chunk": np.array(tag_chunk, dtype=np.int32),
        "tags.id": np.array(tag_ids, dtype=np.int32),
    }

    embedding: dict[str, Any] | None = None
    if vectors is None and embedder is not None and n:
        vectors = embedder.embed_documents([embedding_text(c) for c in chunks])
        embedding_model = embedder.model_id
    if vectors is not None:
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != n:
            raise ValueError(f"vectors must be ({n}, dims), got {matrix.shape}")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        matrix = matrix / np.where(norms == 0, 1.0, norms)
        sections["vectors"] = matrix.astype(np.float16)
        embedding = {
            "model_id": embedding_model or "unknown",
            "dims": int(matrix.shape[1]),
            "dtype": "float16",
        }

    blob, toc = _index_format.pack(sections)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "counts": {
            "chunks": n,
            "documents": len(documents),
            "vocabulary": len(vocabulary),
            "postings": int(indices.size),
            "tags": len(tags),
        },
        "tokenizer": {
            "id": query.TOKENIZER_ID,
            "stemming": settings.stemming,
            "stop_words": settings.stop_words,
        },
        "bm25": {
            "method": "lucene",
            "k1": settings.k1,
            "b": settings.b,
            "field_repeat": settings.field_repeat,
            "min_terms": settings.min_terms,
        },
        "settings": asdict(settings),
        "source_types": source_types,
        "embedding": embedding,
        "sections": toc,
        "blob_bytes": len(blob),
        "blob_sha256": hashlib.sha256(blob).hexdigest(),
    }
    return IndexArtifacts(manifest=manifest, blob=blob)


@dataclass
class _Postings:
    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    idf: np.ndarray


@dataclass
class LoadedIndex:
    """A loaded index version: immutable, safe to share between requests of one
    environment (searches allocate their own score arrays)."""

    manifest: dict[str, Any]
    settings: IndexSettings
    postings: _Postings
    vocabulary: dict[str, int]
    chunk_lines: memoryview
    chunk_offsets: np.ndarray
    chunk_document: np.ndarray
    chunk_source_type: np.ndarray
    tag_chunk: np.ndarray
    tag_ids: np.ndarray
    _documents_raw: memoryview
    _tags_raw: memoryview
    vectors16: np.ndarray | None
    blob_bytes: int
    _vectors32: np.ndarray | None = None
    _documents: dict[str, int] | None = None
    _tags: dict[str, int] | None = None
    _chunk_cache: dict[int, Chunk] = field(default_factory=dict)

    @property
    def chunk_count(self) -> int:
        return int(self.manifest["counts"]["chunks"])

    @property
    def embedding_model(self) -> str | None:
        embedding = self.manifest.get("embedding")
        return embedding["model_id"] if embedding else None

    @property
    def has_vectors(self) -> bool:
        return self.vectors16 is not None

    @property
    def memory_bytes(self) -> int:
        """Approximate resident size: the artifact bytes (arrays are views into them), the
        vocabulary dict, the float32 copy of vectors once dense search ran, cached chunks."""
        vocab = sys.getsizeof(self.vocabulary) + sum(
            sys.getsizeof(term) + 28 for term in self.vocabulary
        )
        dense = self._vectors32.nbytes if self._vectors32 is not None else 0
        return self.blob_bytes + vocab + dense

    def chunk(self, position: int) -> Chunk:
        cached = self._chunk_cache.get(position)
        if cached is None:
            start, end = int(self.chunk_offsets[position]), int(self.chunk_offsets[position + 1])
            cached = _chunk_from_json(json.loads(bytes(self.chunk_lines[start:end])))
            if len(self._chunk_cache) < 4096:
                self._chunk_cache[position] = cached
        return cached

    # -- filters ---------------------------------------------------------------------------

    def _mask(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None or filters.empty:
            return None
        mask = np.ones(self.chunk_count, dtype=bool)
        if filters.document_ids is not None:
            if self._documents is None:
                names = json.loads(bytes(self._documents_raw))
                self._documents = {d: i for i, d in enumerate(names)}
            wanted = [self._documents[d] for d in filters.document_ids if d in self._documents]
            mask &= np.isin(self.chunk_document, np.array(wanted, dtype=np.int32))
        if filters.source_types is not None:
            known = self.manifest.get("source_types", [])
            wanted = [i for i, s in enumerate(known) if s in filters.source_types]
            mask &= np.isin(self.chunk_source_type, np.array(wanted, dtype=np.int16))
        if filters.tags is not None:
            if self._tags is None:
                names = json.loads(bytes(self._tags_raw))
                self._tags = {t: i for i, t in enumerate(names)}
            wanted = [self._tags[t] for t in filters.tags if t in self._tags]
            tagged = np.zeros(self.chunk_count, dtype=bool)
            tagged[self.tag_chunk[np.isin(self.tag_ids, np.array(wanted, dtype=np.int32))]] = True
            mask &= tagged
        return mask

    # -- scoring ---------------------------------------------------------------------------

    def query_terms(self, text: str) -> list[str]:
        terms = query.tokenize(
            text, stemming=self.settings.stemming, stop_words=self.settings.stop_words
        )
        return list(dict.fromkeys(terms))  # unique, first-seen order

    def lexical_scores(
        self, term_ids: Sequence[int], weights: Sequence[float] | None = None
    ) -> np.ndarray:
        p = self.postings
        scores = np.zeros(self.chunk_count, dtype=np.float32)
        for i, t in enumerate(term_ids):
            start, end = p.indptr[t], p.indptr[t + 1]
            weight = 1.0 if weights is None else weights[i]
            if weight == 1.0:
                scores[p.indices[start:end]] += p.data[start:end]  # one posting per chunk
            elif weight > 0:
                scores[p.indices[start:end]] += weight * p.data[start:end]
        return scores

    def _term_weight(self, term: str) -> float:
        return self.settings.stop_word_weight if query.is_stop_word(term) else 1.0

    def _with_document_context(self, scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Add a share of the best score in each chunk's document (its own included)."""
        documents = self.chunk_document[candidates]
        values = scores[candidates]
        best = np.zeros(int(self.manifest["counts"]["documents"]), dtype=np.float32)
        np.maximum.at(best, documents, values)
        out = scores.copy()
        out[candidates] = values + self.settings.document_weight * best[documents]
        return out

    def _dense_scores(self, vector: np.ndarray) -> np.ndarray:
        if self._vectors32 is None:
            assert self.vectors16 is not None
            # float16 halves the artifact; BLAS needs float32 (float16 matmul is ~50x slower)
            self._vectors32 = self.vectors16.astype(np.float32)
        return self._vectors32 @ np.asarray(vector, dtype=np.float32)

    def query_weights(self, terms: Sequence[str]) -> dict[str, float]:
        """Query term → weight: stop words get `stop_word_weight`, unless the query has
        nothing else ("to be or not to be", "IT")."""
        weights = {t: self._term_weight(t) for t in terms}
        if weights and not any(weights.values()):
            weights = dict.fromkeys(weights, 1.0)
        return weights

    def coverage(self, weights: Mapping[str, float], positions: Sequence[int]) -> list[float]:
        """Per chunk: the share of the query's IDF weight whose terms the chunk contains
        (0-1). Terms the index has never seen count with the highest IDF. Comparable across
        queries and corpora, unlike a raw BM25 score: the signal for "weak retrieval"."""
        if not weights or not positions:
            return [0.0] * len(positions)
        p = self.postings
        # A small knowledge base is read as a sample of a larger one: with a handful of chunks
        # every known term would have a near-zero IDF and one filler word the index has never
        # seen would outweigh all of them. From COVERAGE_MIN_CHUNKS chunks up, this is BM25's
        # own IDF.
        n = max(self.chunk_count, COVERAGE_MIN_CHUNKS)
        unseen_idf = float(np.log1p((n + 0.5) / 0.5))
        hit = np.asarray(positions, dtype=np.int32)
        found = np.zeros(len(hit), dtype=np.float64)
        total = 0.0
        for term, term_weight in weights.items():
            t = self.vocabulary.get(term)
            if t is None:
                total += unseen_idf * term_weight
                continue
            df = int(p.indptr[t + 1] - p.indptr[t])
            weight = float(np.log1p((n - df + 0.5) / (df + 0.5))) * term_weight
            if weight <= 0:
                continue
            total += weight
            postings = p.indices[p.indptr[t] : p.indptr[t + 1]]  # sorted chunk positions
            at = np.minimum(np.searchsorted(postings, hit), len(postings) - 1)
            found += weight * (postings[at] == hit)
        return [float(v) for v in (found / total if total else found)]

    def search(
        self,
        query_text: str,
        *,
        k: int,
        filters: Filters | None = None,
        embedder: Embedder | None = None,
    ) -> list[SearchHit]:
        """The k best chunks for `query_text` inside `filters`, best first.

        Lexical always; dense as well when this index has vectors and `embedder` is the model
        they were computed with (fused by reciprocal rank). A query with no known term and
        no dense side returns no hits. Words that only frame a question ("Can you explain
        ...", "How does ... work?") are left out (`query.question_focus`)."""
        if k <= 0 or self.chunk_count == 0:
            return []
        query_text = query.question_focus(query_text)
        mask = self._mask(filters)
        weights = self.query_weights(self.query_terms(query_text))
        known = [t for t in weights if t in self.vocabulary]
        lexical = self.lexical_scores(
            [self.vocabulary[t] for t in known], [weights[t] for t in known]
        )
        allowed = lexical > 0 if mask is None else (lexical > 0) & mask
        if self.settings.document_weight > 0:
            lexical = self._with_document_context(lexical, np.flatnonzero(allowed))
        lexical_ranked = _top(lexical, np.flatnonzero(allowed), max(k, self._pool(k)))

        dense_ranked: np.ndarray | None = None
        if self.has_vectors and embedder is not None and self._same_model(embedder):
            similarity = self._dense_scores(embedder.embed_query(query_text))
            candidates = np.arange(self.chunk_count) if mask is None else np.flatnonzero(mask)
            dense_ranked = _top(similarity, candidates, self._pool(k))

        pairs = _content_pairs(query_text, self.settings, self.vocabulary)
        reranked = bool(pairs) and self.settings.proximity_weight > 0
        pool = max(k, self.settings.rerank_pool) if reranked else k
        if dense_ranked is None:
            positions = [int(i) for i in lexical_ranked[:pool]]
            scores = [float(lexical[i]) for i in positions]
        else:
            positions, scores = _rrf([lexical_ranked, dense_ranked], pool)
        if reranked:
            near = [_proximity(self.chunk(i), pairs, self.settings) for i in positions]
            positions, scores, near = self._rerank(positions, scores, near, k)
        covered = self.coverage(weights, positions)
        if not reranked:
            near = covered  # no pair of content words to find near each other
        return [
            SearchHit(chunk=self.chunk(i), score=s, coverage=c, proximity=p)
            for i, s, c, p in zip(positions, scores, covered, near, strict=True)
        ]

    def _rerank(
        self, positions: list[int], scores: list[float], near: list[float], k: int
    ) -> tuple[list[int], list[float], list[float]]:
        """The k best by score / best score + proximity_weight * proximity (ties: position);
        that sum becomes the hit's score (comparable within one query, like the score)."""
        best = max(scores) if scores else 0.0
        weight = self.settings.proximity_weight
        combined = [
            (s / best if best > 0 else 0.0) + weight * p for s, p in zip(scores, near, strict=True)
        ]
        order = sorted(range(len(positions)), key=lambda j: (-combined[j], positions[j]))[:k]
        return (
            [positions[j] for j in order],
            [combined[j] for j in order],
            [near[j] for j in order],
        )

    def _pool(self, k: int) -> int:
        return max(k, self.settings.dense_candidates)

    def _same_model(self, embedder: Embedder) -> bool:
        embedding = self.manifest.get("embedding") or {}
        return embedding.get("model_id") == embedder.model_id and embedding.get("dims") == getattr(
            embedder, "dims", None
        )


PROXIMITY_WINDOW = 3  # words between two question words that still count as "near"


def _content_pairs(
    text: str, settings: IndexSettings, known: Mapping[str, int]
) -> list[tuple[str, str]]:
    """Neighbouring content words of the question ("page", "level", "lock": two pairs),
    among the words the knowledge base has at all: "how much notice do I need to cancel"
    pairs "notice" with "cancel" when "much" and "need" occur nowhere (coverage already
    counts them missing). Whole identifiers are left out: their parts already pair up."""
    words = [
        t
        for t in query.tokenize(text, stemming=settings.stemming, stop_words=True)
        if t in known and not any(sep in t for sep in "_.-/'")
    ]
    unique = list(dict.fromkeys(words))
    return list(itertools.pairwise(unique))


def _proximity(chunk: Chunk, pairs: Sequence[tuple[str, str]], settings: IndexSettings) -> float:
    """Share of `pairs` near each other in the passage or in its title and headings (the
    context is read apart, far from the passage, so no pair straddles the two)."""
    positions: dict[str, list[int]] = {}
    wanted = {t for pair in pairs for t in pair}
    context = query.tokenize(field_text(chunk), stemming=settings.stemming, stop_words=True)
    text = query.tokenize(chunk.text, stemming=settings.stemming, stop_words=True)
    spaced = [*context, *[""] * (PROXIMITY_WINDOW + 1), *text]
    for i, term in enumerate(spaced):
        if term in wanted:
            positions.setdefault(term, []).append(i)
    found = 0
    for a, b in pairs:
        first, second = positions.get(a), positions.get(b)
        if first and second and _near(first, second):
            found += 1
    return found / len(pairs)


def _near(first: list[int], second: list[int]) -> bool:
    i = j = 0
    while i < len(first) and j < len(second):
        if abs(first[i] - second[j]) <= PROXIMITY_WINDOW:
            return True
        if first[i] < second[j]:
            i += 1
        else:
            j += 1
    return False


def _top(scores: np.ndarray, candidates: np.ndarray, k: int) -> np.ndarray:
    """The k best candidates by score, ties by position (deterministic)."""
    if candidates.size == 0:
        return candidates
    values = scores[candidates]
    if candidates.size > k:
        cut = np.argpartition(-values, k - 1)[:k]
        # Include every candidate tied with the k-th score so ties resolve by position.
        threshold = values[cut].min()
        keep = np.flatnonzero(values >= threshold)
        candidates, values = candidates[keep], values[keep]
    order = np.lexsort((candidates, -values))
    return candidates[order][:k]


def _rrf(rankings: list[np.ndarray], k: int) -> tuple[list[int], list[float]]:
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, position in enumerate(ranking.tolist()):
            fused[position] = fused.get(position, 0.0) + 1.0 / (RRF_K + rank + 1)
    best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [p for p, _ in best], [s for _, s in best]


def _chunk_from_json(raw: dict[str, Any]) -> Chunk:
    raw["heading_path"] = tuple(raw.get("heading_path") or ())
    raw["tags"] = tuple(raw.get("tags") or ())
    known = Chunk.__dataclass_fields__
    return Chunk(**{key: value for key, value in raw.items() if key in known})


def load_index(artifacts: IndexArtifacts | Mapping[str, bytes]) -> LoadedIndex:
    """Open an index from its artifacts (no copy of the arrays: views into the bytes)."""
    if not isinstance(artifacts, IndexArtifacts):
        artifacts = IndexArtifacts.from_files(artifacts)
    manifest = artifacts.manifest
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"unsupported index format {manifest.get('format')!r} "
            f"version {manifest.get('format_version')!r}"
        )
    if manifest.get("blob_bytes") != len(artifacts.blob):
        raise ValueError("index.bin does not match its manifest (truncated or mixed versions)")
    s = _index_format.unpack(artifacts.blob, manifest["sections"])
    vocabulary_text = bytes(s["vocabulary"]).decode()
    vocabulary = (
        {term: i for i, term in enumerate(vocabulary_text.split("\n"))} if vocabulary_text else {}
    )
    known = IndexSettings.__dataclass_fields__
    settings = IndexSettings(**{k: v for k, v in manifest["settings"].items() if k in known})
    return LoadedIndex(
        manifest=manifest,
        settings=settings,
        postings=_Postings(s["bm25.data"], s["bm25.indices"], s["bm25.indptr"], s["bm25.idf"]),
        vocabulary=vocabulary,
        chunk_lines=s["chunks.jsonl"],
        chunk_offsets=s["chunks.offsets"],
        chunk_document=s["chunks.document"],
        chunk_source_type=s["chunks.source_type"],
        tag_chunk=s["tags.chunk"],
        tag_ids=s["tags.id"],
        _documents_raw=s["documents"],
        _tags_raw=s["tags"],
        vectors16=s.get("vectors"),
        blob_bytes=len(artifacts.blob),
    )
