"""`python -m bench.retrieval [--no-ablations]`: the retrieval figures of `make bench`."""

from __future__ import annotations

import sys

from bench.retrieval.evaluate import run

if __name__ == "__main__":
    run(ablations="--no-ablations" not in sys.argv[1:])
