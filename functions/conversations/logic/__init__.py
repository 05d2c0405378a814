"""Conversations' public logic functions: none yet (no other domain calls it)."""

__all__: list[str] = []
