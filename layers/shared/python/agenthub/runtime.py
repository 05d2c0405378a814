"""The entry of every function: settings once per environment, the table bound once, the
Lambda context in the logs, metrics flushed after each invocation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from agenthub.errors import ConfigurationError
from agenthub.observability import bind_context, flush_metrics, logger
from agenthub.settings import BaseSettings, load_settings
from agenthub.table import bind_table


def init_function[S: BaseSettings](model: type[S]) -> S:
    """Load ``model`` from the environment (once) and bind the table to its table name."""
    settings = load_settings(model)
    bind_table(settings.table_name)
    return settings


class entry[S: BaseSettings]:
    """Make ``func(event, context, settings)`` a Lambda handler ``handler(event, context)``.

    Each invocation names its Lambda context in the logs, loads ``settings`` (once per
    environment, binding the table) and flushes the metrics it recorded, whatever happened.
    A deployment fault (settings that do not validate) is logged and answered by
    ``misconfigured()`` when given, else raised (the invocation fails)."""

    def __init__(
        self, settings: type[S], *, misconfigured: Callable[[], Any] | None = None
    ) -> None:
        self.settings = settings
        self.misconfigured = misconfigured

    def __call__[R](self, func: Callable[[Any, Any, S], R]) -> Callable[[Any, Any], R]:
        @functools.wraps(func)
        def handler(event: Any, context: Any) -> R:
            bind_context(context, event)
            try:
                try:
                    loaded = init_function(self.settings)
                except ConfigurationError:
                    if self.misconfigured is None:
                        raise
                    logger().exception("function misconfigured")
                    answer: R = self.misconfigured()
                    return answer
                return func(event, context, loaded)
            finally:
                flush_metrics()

        return handler
