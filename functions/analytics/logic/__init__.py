"""Analytics' public logic functions: none (it only consumes events and serves its API)."""

__all__: list[str] = []
