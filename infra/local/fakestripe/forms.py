"""Stripe's form encoding: nested objects and lists as bracketed keys.

``metadata[booking_id]=b1&line_items[0][price_data][unit_amount]=4000`` is
``{"metadata": {"booking_id": "b1"}, "line_items": [{"price_data": {"unit_amount": "4000"}}]}``.
Values stay strings, as Stripe receives them; resources convert what they read. An empty
value (``metadata[x]=``) is kept as "" (Stripe uses it to unset a key).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, quote

_PART = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """The body is not a valid Stripe form (a key used both as a value and as an object)."""


def _path(key: str) -> list[str]:
    head, _, rest = key.partition("[")
    parts = [head]
    if rest:
        parts += _PART.findall("[" + rest)
    return parts


def decode(body: str) -> dict[str, Any]:
    """Parse a form body (or a query string) into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = _path(key)
        node: Any = root
        for index, raw_part in enumerate(parts):
            last = index == len(parts) - 1
            part = raw_part if raw_part != "" else str(len(node))  # a[]=x appends
            if last:
                if isinstance(node.get(part), dict):
                    raise FormError(f"{key!r} is both a value and an object")
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise FormError(f"{key!r} is both a value and an object")
                node = child
    return _lists(root)


def _lists(node: Any) -> Any:
    """Dicts whose keys are exactly 0..n-1 become lists."""
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    keys = list(converted)
    if keys and all(k.isdigit() for k in keys):
        indices = sorted(int(k) for k in keys)
        if indices == list(range(len(indices))):
            return [converted[str(i)] for i in indices]
    return converted


def encode(data: dict[str, Any]) -> str:
    """The inverse of :func:`decode` (for tests and the fake's own clients)."""
    pairs: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}[{key}]" if prefix else str(key), item)
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(f"{prefix}[{index}]", item)
        elif value is None:
            pairs.append((prefix, ""))
        elif isinstance(value, bool):
            pairs.append((prefix, "true" if value else "false"))
        else:
            pairs.append((prefix, str(value)))

    walk("", data)
    return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in pairs)
