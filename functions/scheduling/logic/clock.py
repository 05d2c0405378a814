"""The domain's clock, replaceable in tests (``clock.set_now(lambda: ...)``; every
``agenthub.environment.reset()`` puts the system clock back)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from agenthub.environment import on_reset


def _system_now() -> datetime:
    return datetime.now(UTC)


_source: list[Callable[[], datetime]] = [_system_now]


def now() -> datetime:
    return _source[0]()


def set_now(source: Callable[[], datetime]) -> None:
    _source[0] = source


def reset() -> None:
    _source[0] = _system_now


on_reset(reset)
