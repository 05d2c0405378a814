"""Widget bench: what the browser downloads (from the built files) and how fast the widget is in
Chromium against the local runtime. `run(print_fn=print)` is what `make bench` calls."""

from __future__ import annotations

from bench.widget.measure import run

__all__ = ["run"]
