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


def bind_context(context: Any, event: Any = None) -> None:
    """Name this invocation in every log record: the function, Lambda's request id, cold
    start, and for an API request API Gateway's request id as ``correlation_id`` (the id its
    access log and the client's ``x-amzn-RequestId`` carry) and the caller's tenant."""
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
    request = event.get("requestContext") if isinstance(event, dict) else None
    if isinstance(request, dict):
        authorizer = request.get("authorizer") or {}
        _context.update(
            correlation_id=request.get("requestId"),
            tenant_id=authorizer.get("tenantId") if isinstance(authorizer, dict) else None,
        )
    if _logger is not None:
        _logger.remove_keys(["correlation_id", "tenant_id"])
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
    if _context.get("correlation_id"):
        # metadata, not a dimension: one value per request would be one metric per request
        _metrics.add_metadata(key="correlation_id", value=_context["correlation_id"])
    try:
        _metrics.flush_metrics()
    except Exception:
        logger().exception("metrics could not be flushed")


@cache
def tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    return Tracer()


# The canary alarm of every function (template.yaml, operations block) watches the new
# version's Lambda Errors *and* this metric: an API function answers an unexpected failure with
# the 500 envelope, which Lambda counts as a success, so the version says so itself.
SERVER_ERRORS_METRIC = "ServerErrors"


def record_server_error() -> None:
    """One ``ServerErrors`` count for this function and version, as a CloudWatch embedded
    metric (one log line; no Powertools import on a path that is already failing)."""
    import json
    import os
    import sys
    import time

    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "AgentHub")
    document = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [["FunctionName", "ExecutedVersion"]],
                    "Metrics": [{"Name": SERVER_ERRORS_METRIC, "Unit": "Count"}],
                }
            ],
        },
        "FunctionName": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"),
        "ExecutedVersion": os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        SERVER_ERRORS_METRIC: 1,
    }
    sys.stdout.write(json.dumps(document, separators=(",", ":")) + "\n")
    sys.stdout.flush()
