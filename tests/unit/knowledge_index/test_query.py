"""The tokenizer both sides of the index share."""

from knowledge.logic.query import is_stop_word, question_focus, stem, tokenize


def test_identifiers_give_the_whole_and_the_parts():
    assert tokenize("max_connections") == ["max_connections", "max", "connection"]
    assert tokenize("postgresql.conf") == ["postgresql.conf", "postgresql", "conf"]
    assert tokenize("pg_dump's --jobs") == ["pg_dump", "pg", "dump", "job"]


def test_case_width_and_plurals_fold():
    full_width = "\uff29\uff4e\uff44\uff45\uff58\uff45\uff53"  # "Indexes" in full-width letters
    assert tokenize(f"{full_width} QUERIES Tables") == ["index", "query", "table"]


def test_stop_words_are_kept_unstemmed_unless_asked_to_drop():
    assert tokenize("this is it") == ["this", "is", "it"]
    assert all(is_stop_word(t) for t in tokenize("this is it"))
    assert tokenize("this is it", stop_words=True) == []


def test_stemmer_is_light_and_idempotent():
    for word in ("indexes", "queries", "matches", "status", "analysis", "class", "buses"):
        once = stem(word)
        assert stem(once) == once
    assert stem("status") == "status"
    assert stem("class") == "class"


def test_punctuation_only_and_empty_give_no_terms():
    assert tokenize("") == []
    assert tokenize("!!! ??? ---") == []


def test_very_long_runs_are_not_terms():
    assert tokenize("a" * 65) == []


def test_the_words_that_frame_a_question_are_left_out():
    assert question_focus("Can you explain the return policy?") == "the return policy?"
    assert question_focus("Please describe your opening hours") == "your opening hours"
    assert question_focus("could you tell me more about parking") == "parking"
    assert question_focus("How does checkpoint tuning work?") == "How does checkpoint tuning?"


def test_a_frame_word_that_is_the_subject_stays():
    # a command in capitals, a frame word elsewhere than the start, nothing left but the frame
    assert question_focus("EXPLAIN ANALYZE output?") == "EXPLAIN ANALYZE output?"
    assert question_focus("How do I read EXPLAIN output?") == "How do I read EXPLAIN output?"
    assert question_focus("Does overtime work count?") == "Does overtime work count?"
    assert question_focus("How does it work?") == "How does it work?"
    assert question_focus("explain") == "explain"
