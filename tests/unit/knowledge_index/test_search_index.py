"""The per-agent index: built into bytes, loaded back from bytes, searched the way a visitor's
question is searched. Given / When / Then in each test's name and body."""

from __future__ import annotations

import json

import numpy as np
import pytest

from knowledge.logic import search_index
from knowledge.logic.search_index import Filters, build_index, load_index
from tests.unit.knowledge_index.fixtures import FakeEmbedder, chunk, shop_chunks


def loaded(chunks=None, **kwargs):
    artifacts = build_index(shop_chunks() if chunks is None else chunks, **kwargs)
    # Through bytes only, as the search path gets them from S3.
    files = {name: bytes(blob) for name, blob in artifacts.files().items()}
    return load_index(files)


def ids(hits):
    return [h.chunk.chunk_id for h in hits]


def test_round_trip_from_bytes_keeps_chunks_and_manifest():
    artifacts = build_index(shop_chunks(), embedder=None)
    files = artifacts.files()

    assert set(files) == set(search_index.ARTIFACT_NAMES)
    manifest = json.loads(files["manifest.json"])
    assert manifest["format_version"] == search_index.FORMAT_VERSION
    assert manifest["counts"]["chunks"] == 6
    assert manifest["counts"]["documents"] == 4
    assert manifest["tokenizer"]["id"]
    assert manifest["embedding"] is None

    index = load_index(files)
    hit = index.search("how long do refunds take", k=1)[0]
    assert hit.chunk == shop_chunks()[1]  # every field survives, tuples included
    assert hit.score > 0
    assert 0 < hit.coverage <= 1


def test_same_chunks_give_identical_bytes():
    first = build_index(shop_chunks()).files()
    second = build_index(shop_chunks()).files()
    assert first == second


def test_ranking_is_deterministic_and_ties_resolve_by_position():
    # Given two chunks with identical text in different documents
    twins = [chunk("a", 0, "identical words here"), chunk("b", 0, "identical words here")]
    index = loaded(twins)
    # When searched repeatedly
    results = [ids(index.search("identical words", k=2)) for _ in range(5)]
    # Then the order never changes and the earlier chunk wins the tie
    assert results == [["a:0", "b:0"]] * 5


def test_a_query_matching_a_heading_finds_that_section():
    # "express options" only occurs in the heading path, never in the passage text
    hits = loaded().search("express options", k=3)
    assert hits[0].chunk.chunk_id == "shipping:1"


def test_identifiers_match_whole_and_by_parts():
    index = loaded()
    assert ids(index.search("max_connections", k=1)) == ["config:0"]
    assert ids(index.search("max connections setting", k=1)) == ["config:0"]


def test_unknown_words_give_no_hits_not_an_error():
    index = loaded()
    assert index.search("zyzzyva quux", k=5) == []
    assert index.search("", k=5) == []
    assert index.search("!!! ???", k=5) == []


def test_empty_index_loads_and_answers_nothing():
    index = loaded([])
    assert index.chunk_count == 0
    assert index.search("anything at all", k=5) == []


def test_filters_apply_before_top_k():
    # Given many strong "delivery" matches outside the filter and weak ones inside it
    chunks = [chunk(f"noise{i}", 0, "delivery delivery delivery delivery") for i in range(30)]
    chunks += [
        chunk("kept", i, f"delivery once, then other words number {i}", tags=("vip",))
        for i in range(3)
    ]
    index = loaded(chunks)
    # When searching with k smaller than the number of unfiltered matches
    hits = index.search("delivery", k=3, filters=Filters.of(tags=["vip"]))
    # Then the filter is a mask before ranking: all three kept chunks come back
    assert sorted(ids(hits)) == ["kept:0", "kept:1", "kept:2"]


def test_filters_by_document_source_type_and_tags_combine():
    index = loaded()
    by_doc = index.search("delivery", k=10, filters=Filters.of(document_ids=["shipping"]))
    assert {h.chunk.document_id for h in by_doc} == {"shipping"}

    by_type = index.search("delivery", k=10, filters=Filters.of(source_types=["qa"]))
    assert ids(by_type) == ["faq:0"]

    both = Filters.of(source_types=["upload", "url"], tags=["policy"])
    assert {h.chunk.document_id for h in index.search("delivery", k=10, filters=both)} == {
        "returns"
    }

    nothing = Filters.of(document_ids=["no-such-document"])
    assert index.search("delivery", k=10, filters=nothing) == []


def test_filters_from_the_api_model():
    class Model:  # the shape of knowledge.models.SearchFilters
        document_ids = None
        tags = ["logistics"]
        source_types = None

    filters = Filters.from_model(Model())
    assert filters == Filters(tags=frozenset({"logistics"}))
    assert Filters.from_model(None) is None
    hits = loaded().search("delivery", k=10, filters=filters)
    assert {h.chunk.document_id for h in hits} == {"shipping"}


def test_coverage_separates_answerable_from_off_topic():
    index = loaded()
    on_topic = index.search("refunds original payment method", k=1)[0]
    off_topic = index.search("refunds for a hotel parking garage membership", k=1)[0]
    assert on_topic.coverage == pytest.approx(1.0)
    assert off_topic.coverage < 0.5


def test_very_short_chunks_do_not_outrank_the_passage_that_answers():
    # A bare heading fragment vs the passage that actually explains the setting
    chunks = [
        chunk("doc", 0, "Timeouts"),
        chunk(
            "doc",
            1,
            "The statement timeout aborts any statement that runs longer than the configured "
            "number of milliseconds; zero disables the timeout. It applies to every statement "
            "in the session and can be set per role or per database as well.",
        ),
    ]
    hits = loaded(chunks).search("statement timeout", k=2)
    assert ids(hits)[0] == "doc:1"


def test_corrupt_or_mismatched_artifacts_are_refused():
    files = build_index(shop_chunks()).files()
    with pytest.raises(ValueError, match="missing"):
        load_index({"manifest.json": files["manifest.json"]})
    with pytest.raises(ValueError, match="does not match"):
        load_index({**files, "index.bin": files["index.bin"][:-64]})
    manifest = json.loads(files["manifest.json"])
    manifest["format_version"] = 999
    with pytest.raises(ValueError, match="unsupported"):
        load_index({**files, "manifest.json": json.dumps(manifest).encode()})


def test_a_passage_with_the_question_words_together_outranks_one_that_scatters_them():
    # Given a passage that repeats the question's words far apart (the higher BM25 score)
    # and one that says them together once
    filler = " ".join(f"word{i}" for i in range(12))
    scattered = f"backup {filler} schedule {filler} backup {filler} schedule {filler} backup"
    together = f"the backup schedule runs nightly {filler}"
    chunks = [chunk("scattered", 0, scattered), chunk("together", 0, together)]
    plain = loaded(chunks, settings=search_index.IndexSettings(proximity_weight=0))
    assert ids(plain.search("backup schedule", k=2)) == ["scattered:0", "together:0"]
    # When searched with the proximity rerank (the default)
    hits = loaded(chunks).search("backup schedule", k=2)
    # Then the passage that says them together comes first, and says why
    assert ids(hits) == ["together:0", "scattered:0"]
    assert [h.proximity for h in hits] == [1.0, 0.0]
    # A single content word has no pair to find together: BM25's order stands
    assert ids(loaded(chunks).search("backup", k=2)) == ids(plain.search("backup", k=2))


def test_duplicate_chunk_ids_are_rejected():
    duplicate = [chunk("a", 0, "one"), chunk("a", 0, "two")]
    with pytest.raises(ValueError, match="unique"):
        build_index(duplicate)


def test_dense_vectors_are_stored_and_fused_only_with_the_same_model():
    embedder = FakeEmbedder()
    index = loaded(embedder=embedder)
    manifest = index.manifest
    assert manifest["embedding"] == {"model_id": "fake-embedder-v1", "dims": 64, "dtype": "float16"}
    assert index.has_vectors

    # Lexical only when no embedder is passed: the same hits as an index without vectors
    lexical = ids(index.search("express delivery", k=3))
    assert lexical == ids(loaded().search("express delivery", k=3))

    # With the same model: the query is embedded once and rankings are fused
    fused = index.search("express delivery", k=3, embedder=embedder)
    assert embedder.query_calls == 1
    assert fused[0].chunk.chunk_id == "shipping:1"
    scores = [h.score for h in fused]  # reciprocal-rank scores, then the proximity rerank's
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0

    # A different model's query vector would be meaningless: it is not used
    other = FakeEmbedder(model_id="another-model")
    assert ids(index.search("express delivery", k=3, embedder=other)) == lexical
    assert other.query_calls == 0


def test_dense_side_finds_chunks_without_shared_terms_and_respects_filters():
    embedder = FakeEmbedder(synonyms={"automobile": "car", "mechanic": "garage"})
    chunks = [
        chunk("cars", 0, "car repair garage"),
        chunk("bikes", 0, "bicycle tyres and chains"),
        chunk("cars", 1, "opening hours of the showroom"),
    ]
    index = loaded(chunks, embedder=embedder)
    # No BM25 term in common: lexical alone finds nothing
    assert index.search("automobile mechanic", k=3) == []
    # The dense side finds the passage by meaning
    hits = index.search("automobile mechanic", k=3, embedder=embedder)
    assert hits[0].chunk.chunk_id == "cars:0"
    assert hits[0].coverage == 0.0  # and says no query term was found in it
    # Filters mask the dense side too
    bikes = Filters.of(document_ids=["bikes"])
    assert ids(index.search("automobile mechanic", k=3, embedder=embedder, filters=bikes)) == [
        "bikes:0"
    ]


def test_precomputed_vectors_must_match_the_chunks():
    with pytest.raises(ValueError, match="vectors"):
        build_index(shop_chunks(), vectors=np.ones((2, 8)), embedding_model="m")


def test_memory_is_reported():
    index = loaded()
    assert index.memory_bytes >= index.blob_bytes > 0


def test_a_query_of_stop_words_only_still_finds_its_words():
    chunks = [chunk("it", 0, "Call IT when the laptop breaks."), chunk("hr", 0, "Holiday rules")]
    hits = loaded(chunks).search("IT", k=5)
    assert ids(hits) == ["it:0"]
    assert hits[0].coverage == pytest.approx(1.0)


def test_stop_words_do_not_decide_a_match_when_content_words_exist():
    # "how do ... take" are everywhere in a small corpus; "refunds" decides
    hits = loaded().search("how long do refunds take", k=1)
    assert ids(hits) == ["returns:1"]


def test_proximity_tells_a_passage_about_the_phrase_from_one_sharing_its_words():
    chunks = [
        chunk("locks", 0, "Page-level locks control read and write access to table pages."),
        chunk(
            "layout",
            0,
            "Each page of the quarterly sales report carries a title and a date. "
            "Choose the level of detail each reader needs from your summary tables. "
            "Lock the spreadsheet file before you edit it.",
        ),
    ]
    index = load_index(build_index(chunks).files())
    hits = {h.chunk.document_id: h for h in index.search("page level locks", k=2)}
    about, scattered = hits["locks"], hits["layout"]
    assert about.coverage == pytest.approx(1.0)
    assert scattered.coverage == pytest.approx(1.0)
    assert about.proximity == pytest.approx(1.0)
    assert scattered.proximity == pytest.approx(0.0)


def test_proximity_reads_the_headings_above_the_passage():
    chunks = [
        chunk("faq", 0, "Ask the front desk at least a day ahead.", headings=("Late checkout",)),
    ]
    hit = load_index(build_index(chunks).files()).search("late checkout", k=1)[0]
    assert hit.proximity == pytest.approx(1.0)


def test_words_the_knowledge_base_lacks_do_not_break_a_phrase_apart():
    chunks = [chunk("visits", 0, "We ask for 24 hours notice to cancel an appointment.")]
    hit = load_index(build_index(chunks).files()).search(
        "How much notice do I need to cancel?", k=1
    )
    assert hit[0].proximity == pytest.approx(1.0)
