"""The widget's logic: its versioned assets (``assets``, standard library only, so the build and
the local runtime can use it without the Lambda layer) and embed codes (``embed``). No other
domain calls it."""

__all__: list[str] = []
