"""What every domain's models share: the base of API input models, the shape of our ids."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

# Ids of ours (hex, prefixes, underscores): anything else cannot exist.
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

# What no text of a client may carry: C0 controls but tab, newline and carriage return (NUL
# included), DEL and C1 controls, and the bidirectional overrides and isolates that make a name
# display as something else ("Trojan Source"); the marks LRM/RLM stay allowed.
UNSAFE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        if UNSAFE_TEXT.search(value):
            raise ValueError("text must not contain control or bidirectional override characters")
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _safe(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _safe(key)
            _safe(item)
    return value


class StrictInput(BaseModel):
    """API input: unknown fields are an error, strings are trimmed and may not carry control
    or bidi override characters, and types are strict (``false`` is not a number)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_unsafe_text(cls, value: Any) -> Any:
        return _safe(value)
