"""Figures the bench sections measured, for the sections that read them (the cost model).

Each section records its headline numbers here; ``make bench`` writes them to
``.local/bench/figures.json`` at the end, so ``--only cost`` can price the last full run's
measurements. The cost section says which figures came from this run and which from the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FILE = ROOT / ".local" / "bench" / "figures.json"

current: dict[str, dict[str, Any]] = {}


def record(section: str, **values: Any) -> None:
    current.setdefault(section, {}).update(values)


def saved() -> dict[str, dict[str, Any]]:
    try:
        loaded: dict[str, dict[str, Any]] = json.loads(FILE.read_text())
    except (OSError, ValueError):
        return {}
    return loaded


def save() -> None:
    merged = {**saved(), **current}
    FILE.parent.mkdir(parents=True, exist_ok=True)
    FILE.write_text(json.dumps(merged, indent=2, sort_keys=True))


def get(section: str) -> tuple[dict[str, Any], str]:
    """(figures of ``section``, "this run" | "last saved run" | "missing")."""
    if section in current:
        return current[section], "this run"
    stored = saved().get(section)
    if stored:
        return stored, "last saved run"
    return {}, "missing"
