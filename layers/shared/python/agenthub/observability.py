"""Powertools Logger, Metrics and Tracer, each created on first use and kept for the life of
the environment.

Creation is lazy because cold start is a feature: an API function that never logs on its happy
path does not pay for the logging stack at init, and ``Tracer()`` imports the X-Ray SDK
(~230 ms). Lambda's active tracing already records a segment per invocation without the SDK;
a function asks for ``tracer()`` only to add subsegments of its own.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics, Tracer


@cache
def logger() -> Logger:
    """JSON logs; service name from POWERTOOLS_SERVICE_NAME. Never log events or secrets."""
    from aws_lambda_powertools import Logger

    return Logger(log_uncaught_exceptions=True)


@cache
def metrics() -> Metrics:
    """EMF metrics; namespace from POWERTOOLS_METRICS_NAMESPACE."""
    from aws_lambda_powertools import Metrics

    return Metrics()


@cache
def tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer()
