"""Event filtering of the local runtime's event source mappings (infra.local.filters): the
EventBridge pattern syntax Lambda's FilterCriteria use. Pure functions, no processes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.local.filters import FilterError, compile_criteria, matches

OUTBOX_INSERT = {
    "eventName": "INSERT",
    "eventSource": "aws:dynamodb",
    "dynamodb": {
        "Keys": {"pk": {"S": "TENANT#t1#OUTBOX"}, "sk": {"S": "2026#e1"}},
        "NewImage": {"entity": {"S": "outbox"}, "pk": {"S": "TENANT#t1#OUTBOX"}},
    },
}
OUTBOX_FILTER = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity": {"S": ["outbox"]}}}}


def _with(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return json.loads(json.dumps(event)) | changes


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (OUTBOX_INSERT, True),
        (_with(OUTBOX_INSERT, eventName="MODIFY"), False),
        (_with(OUTBOX_INSERT, eventName="REMOVE"), False),
        (
            _with(OUTBOX_INSERT, dynamodb={"NewImage": {"entity": {"S": "agent"}}}),
            False,
        ),
        (_with(OUTBOX_INSERT, dynamodb={"OldImage": {"entity": {"S": "outbox"}}}), False),
        ({"eventName": "INSERT"}, False),
    ],
)
def test_the_outbox_filter_passes_only_outbox_inserts(
    event: dict[str, Any], expected: bool
) -> None:
    # Given the outbox relay's filter: INSERTs of items whose entity is "outbox"
    # Then only such records pass (nested keys, exact values in lists)
    assert matches(OUTBOX_FILTER, event) is expected


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [
        (["a", "b"], "b", True),
        (["a", "b"], "c", False),
        ([5], 5.0, True),
        ([5], "5", False),
        ([None], None, True),
        ([True], True, True),
        ([{"prefix": "TENANT#"}], "TENANT#1", True),
        ([{"prefix": "TENANT#"}], "AGENT#1", False),
        ([{"suffix": ".pdf"}], "a.pdf", True),
        ([{"equals-ignore-case": "Outbox"}], "OUTBOX", True),
        ([{"wildcard": "doc_*.txt"}], "doc_12.txt", True),
        ([{"wildcard": "doc_*.txt"}], "doc_12.pdf", False),
        ([{"anything-but": ["a", "b"]}], "c", True),
        ([{"anything-but": "a"}], "a", False),
        ([{"anything-but": {"prefix": "tmp/"}}], "uploads/x", True),
        ([{"numeric": [">", 0, "<=", 5]}], 5, True),
        ([{"numeric": [">", 0, "<=", 5]}], 6, False),
        ([{"numeric": [">", 0]}], "1", False),
        (["x"], ["y", "x"], True),  # a list in the event matches if any element does
    ],
)
def test_leaf_matchers(rule: list[Any], value: Any, expected: bool) -> None:
    assert matches({"field": rule}, {"field": value}) is expected


def test_exists_matches_presence_or_absence() -> None:
    assert matches({"a": [{"exists": True}]}, {"a": None})
    assert not matches({"a": [{"exists": True}]}, {"b": 1})
    assert matches({"a": [{"exists": False}]}, {"b": 1})
    assert not matches({"a": [{"exists": False}]}, {"a": 1})
    # a missing field matches no value matcher
    assert not matches({"a": [{"prefix": ""}]}, {})


def test_or_joins_alternative_patterns() -> None:
    pattern = {"$or": [{"a": [1]}, {"b": [{"prefix": "x"}]}]}
    assert matches(pattern, {"a": 1})
    assert matches(pattern, {"b": "xy"})
    assert not matches(pattern, {"a": 2, "b": "y"})


def test_filter_criteria_are_ored_and_read_from_json_strings() -> None:
    # Given FilterCriteria as the template holds them: patterns as JSON text
    accepts = compile_criteria(
        {"Filters": [{"Pattern": '{"kind": ["a"]}'}, {"Pattern": '{"kind": ["b"]}'}]}
    )
    assert accepts is not None
    # Then a record passes when any filter matches
    assert accepts({"kind": "a"}) and accepts({"kind": "b"}) and not accepts({"kind": "c"})
    # and no filters means everything passes
    assert compile_criteria(None) is None
    assert compile_criteria({"Filters": []}) is None


@pytest.mark.parametrize(
    "pattern",
    [
        '{"ip": [{"cidr": "10.0.0.0/8"}]}',
        '{"a": "not-a-list"}',
        '{"a": [{"numeric": [">"]}]}',
        '["not", "an", "object"]',
    ],
)
def test_unsupported_or_malformed_patterns_fail_when_read(pattern: str) -> None:
    # A filter the runtime cannot evaluate must stop it at start, never pass records silently
    with pytest.raises(FilterError):
        compile_criteria({"Filters": [{"Pattern": pattern}]})
