"""Sample events: one folder, ``events/<domain>/<source>_<action>[_<case>].json``.

The same files serve ``sam local invoke -e`` and pytest, so a test and a manual invoke exercise
the same payload.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EVENTS_DIR = ROOT / "events"


def events_dir(domain: str | None = None) -> Path:
    """The events folder, or one domain's subfolder of it."""
    return EVENTS_DIR / domain if domain else EVENTS_DIR


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of ``events/<domain>/<file>.json``; ``name`` is ``"<domain>/<file>"``.

    The ``.json`` suffix is optional. A missing file names what does exist, so a typo is quick
    to fix.
    """
    relative = name if name.endswith(".json") else f"{name}.json"
    path = EVENTS_DIR / relative
    if not path.is_file():
        known = sorted(str(p.relative_to(EVENTS_DIR)) for p in EVENTS_DIR.rglob("*.json"))
        raise FileNotFoundError(f"no event {relative!r} under {EVENTS_DIR}; known: {known}")
    event: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return event
