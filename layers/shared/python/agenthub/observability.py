"""Powertools Logger and Metrics, created once per environment, and a lazy Tracer.

``Tracer()`` imports the X-Ray SDK (~230 ms at cold start). Lambda's active tracing already
records a segment per invocation without it, so a function only pays for the SDK when it asks
for ``tracer()`` to add its own subsegments.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

# Service name and namespace come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE.
logger = Logger(log_uncaught_exceptions=True)
metrics = Metrics()


@cache
def tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer()
