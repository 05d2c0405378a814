"""`python -m bench.widget`: the widget figures of `make bench`."""

from __future__ import annotations

from bench.widget.measure import run

if __name__ == "__main__":
    run()
