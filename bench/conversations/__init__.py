"""Conversations bench: grounded answers (citations, abstention) and own CPU per message on
PostgreSQL's documentation. `run(print_fn=print)` is what `make bench` calls."""

from __future__ import annotations

import sys
from pathlib import Path

# The code under test lives where Lambda puts it: functions/ and the shared layer.
_ROOT = Path(__file__).resolve().parents[2]
for _path in (_ROOT / "layers" / "shared" / "python", _ROOT / "functions"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bench.conversations.evaluate import run  # noqa: E402

__all__ = ["run"]
