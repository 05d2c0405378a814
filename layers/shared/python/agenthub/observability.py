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
