"""Per-environment bootstrap shared by every handler: settings once, table bound once."""

from __future__ import annotations

from agenthub.settings import BaseSettings, load_settings
from agenthub.table import bind_table

_bound: set[str] = set()


def init_function[S: BaseSettings](model: type[S]) -> S:
    """Load ``model`` from the environment (cached) and bind the table the first time."""
    settings = load_settings(model)
    if settings.table_name not in _bound:
        bind_table(settings.table_name)
        _bound.add(settings.table_name)
    return settings


def reset_runtime() -> None:
    """Tests: forget settings and bindings so a changed environment is read again."""
    from agenthub.settings import reset_settings

    reset_settings()
    _bound.clear()
