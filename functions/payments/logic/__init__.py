"""Payments' public logic functions: what other domains may call, in process."""

__all__: list[str] = []
