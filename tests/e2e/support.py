"""Helpers shared by the end-to-end tests."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually[T](check: Callable[[], T], *, within: float = 30.0, every: float = 0.2) -> T:
    """Poll ``check`` until it returns something truthy and return that.

    ``within`` is only a safety net for work that is asynchronous (queues, streams): nothing
    asserts how long the work took, and a test that waits out the deadline fails with the
    last value it saw.
    """
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s; last value {value!r}")
        time.sleep(every)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
