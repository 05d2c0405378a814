"""Lambda event filtering (``FilterCriteria`` of an event source mapping), with EventBridge's
pattern syntax.

A pattern is a JSON object whose keys name fields of the record; a nested object matches a
nested object, and a leaf is a list of matchers, any of which may match. Matchers: exact
values (strings, numbers, booleans, null), ``prefix``, ``suffix``, ``equals-ignore-case``,
``wildcard``, ``anything-but`` (a value, a list, or a prefix/suffix), ``numeric`` and
``exists``; ``$or`` joins alternative patterns. When the record's field is a list, the matcher
is tried on each element. ``FilterCriteria.Filters`` are OR-ed: a record that matches none is
dropped before batching (for SQS: deleted), as Lambda does.

Unsupported syntax (``cidr``) fails when the mapping is read, never silently at runtime.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[Mapping[str, Any]], bool]
_OPERATORS = frozenset(
    {"prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists"}
)
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class FilterError(ValueError):
    """A filter pattern this emulation cannot evaluate (or that Lambda would reject)."""


def compile_criteria(criteria: Mapping[str, Any] | None) -> Predicate | None:
    """A predicate for ``FilterCriteria`` (None when there are no filters: everything passes)."""
    filters = (criteria or {}).get("Filters") or []
    patterns = []
    for item in filters:
        raw = item.get("Pattern")
        pattern = json.loads(raw) if isinstance(raw, str) else raw
        validate(pattern)
        patterns.append(pattern)
    if not patterns:
        return None
    return lambda record: any(matches(pattern, record) for pattern in patterns)


def validate(pattern: Any) -> None:
    """Raise FilterError for a malformed pattern or an operator we do not evaluate."""
    if not isinstance(pattern, Mapping):
        raise FilterError(f"a pattern is a JSON object, not {type(pattern).__name__}")
    for key, rule in pattern.items():
        if key == "$or":
            if not isinstance(rule, list) or len(rule) < 2:
                raise FilterError("$or takes a list of at least two patterns")
            for alternative in rule:
                validate(alternative)
        elif isinstance(rule, Mapping):
            validate(rule)
        elif isinstance(rule, list):
            for matcher in rule:
                if isinstance(matcher, Mapping):
                    _validate_operator(matcher)
        else:
            raise FilterError(f"{key}: a pattern's leaves are lists of matchers")


def _validate_operator(matcher: Mapping[str, Any]) -> None:
    if len(matcher) != 1:
        raise FilterError(f"one operator per matcher, got {sorted(matcher)}")
    ((name, argument),) = matcher.items()
    if name not in _OPERATORS:
        raise FilterError(f"filter operator {name!r} is not emulated locally")
    if name == "numeric":
        if not isinstance(argument, list) or len(argument) % 2 or not argument:
            raise FilterError("numeric takes [op, number, ...]")
        for op, number in zip(argument[::2], argument[1::2], strict=True):
            if op not in _COMPARISONS or not _is_number(number):
                raise FilterError(f"numeric: bad comparison {op!r} {number!r}")
    anything_but = {"prefix", "suffix", "equals-ignore-case"}
    if name == "anything-but" and isinstance(argument, Mapping) and set(argument) - anything_but:
        raise FilterError(f"anything-but {sorted(argument)} is not emulated locally")


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """Whether ``event`` matches ``pattern`` (EventBridge semantics)."""
    for key, rule in pattern.items():
        if key == "$or":
            if not any(matches(alternative, event) for alternative in rule):
                return False
            continue
        present = isinstance(event, Mapping) and key in event
        value = event[key] if present else None
        if isinstance(rule, Mapping):
            values = value if isinstance(value, list) else [value]
            if not present or not any(isinstance(v, Mapping) and matches(rule, v) for v in values):
                return False
        elif not _leaf_matches(rule, present, value):
            return False
    return True


def _leaf_matches(rule: list[Any], present: bool, value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    for matcher in rule:
        if isinstance(matcher, Mapping):
            if "exists" in matcher:
                if bool(matcher["exists"]) == present:
                    return True
            elif present and any(_operator(matcher, v) for v in values):
                return True
        elif present and any(_equal(matcher, v) for v in values):
            return True
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(expected: Any, actual: Any) -> bool:
    if _is_number(expected) and _is_number(actual):
        return float(expected) == float(actual)
    return type(expected) is type(actual) and expected == actual


def _operator(matcher: Mapping[str, Any], value: Any) -> bool:
    ((name, argument),) = matcher.items()
    if name == "numeric":
        if not _is_number(value):
            return False
        pairs = zip(argument[::2], argument[1::2], strict=True)
        return all(_COMPARISONS[op](float(value), float(number)) for op, number in pairs)
    if name == "anything-but":
        if isinstance(argument, Mapping):
            return isinstance(value, str) and not _string_operator(argument, value)
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_equal(item, value) for item in excluded)
    if not isinstance(value, str):
        return False
    return _string_operator(matcher, value)


def _string_operator(matcher: Mapping[str, Any], value: str) -> bool:
    ((name, argument),) = matcher.items()
    if name in ("prefix", "suffix"):
        if isinstance(argument, Mapping):  # {"prefix": {"equals-ignore-case": "x"}}
            value, argument = value.lower(), str(argument["equals-ignore-case"]).lower()
        return value.startswith(argument) if name == "prefix" else value.endswith(argument)
    if name == "equals-ignore-case":
        return value.lower() == str(argument).lower()
    if name == "wildcard":
        expression = ".*".join(re.escape(part) for part in str(argument).split("*"))
        return re.fullmatch(expression, value, flags=re.DOTALL) is not None
    return False
