"""`python -m bench.conversations`: the conversations figures of `make bench`."""

from __future__ import annotations

from bench.conversations.evaluate import run

if __name__ == "__main__":
    run()
