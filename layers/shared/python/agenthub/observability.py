"""Powertools Logger, Metrics and Tracer, each created on first use and kept for the life of
the environment.

Creation is lazy because cold start is a feature: an API function that never logs on its happy
path does not pay for the logging stack at init, and ``Tracer()`` imports the X-Ray SDK
(~230 ms). Lambda's active tracing already records a segment per invocation without the SDK;
a function asks for ``tracer()`` only to add subsegments of its own. The invocation's Lambda
context (``bind_context``) reaches the log records even when the logger is created later.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics, Tracer

_logger: Logger | None = None
_metrics: Metrics | None = None
_context: dict[str, Any] = {}
_invocations = 0


def bind_context(context: Any) -> None:
    """Name this invocation (function, request id, cold start) in every log record."""
    global _invocations  # noqa: PLW0603 - counted per environment
    _invocations += 1
    _context.clear()
    _context.update(
        cold_start=_invocations == 1,
        function_name=getattr(context, "function_name", "UNDEFINED"),
        function_memory_size=getattr(context, "memory_limit_in_mb", 128),
        function_arn=getattr(context, "invoked_function_arn", "UNDEFINED"),
        function_request_id=getattr(context, "aws_request_id", "UNDEFINED"),
    )
    if _logger is not None:
        _logger.append_keys(**_context)


def logger() -> Logger:
    """JSON logs; service name from POWERTOOLS_SERVICE_NAME. Never log events or secrets."""
    global _logger  # noqa: PLW0603 - one logger per environment
    if _logger is None:
        from aws_lambda_powertools import Logger

        _logger = Logger(log_uncaught_exceptions=True)
        _logger.append_keys(**_context)
    return _logger


def metrics() -> Metrics:
    """EMF metrics; namespace from POWERTOOLS_METRICS_NAMESPACE."""
    global _metrics  # noqa: PLW0603 - one metrics buffer per environment
    if _metrics is None:
        from aws_lambda_powertools import Metrics

        _metrics = Metrics()
    return _metrics


def flush_metrics() -> None:
    """Emit the metrics this invocation recorded, if any; a failure to emit them is logged,
    never raised (it must not fail the request)."""
    if _metrics is None or not _metrics.metric_set:
        return
    try:
        _metrics.flush_metrics()
    except Exception:
        logger().exception("metrics could not be flushed")


@cache
def tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer()
