"""Audit's public logic functions: none (it only consumes events)."""

__all__: list[str] = []
