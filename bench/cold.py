"""One fresh "Lambda environment": import a handler module, invoke it once (cold), then warm.

Run by ``bench.__main__`` as ``python -m bench.cold <module> <route name> <warm count>`` in a
new process with the function's environment; prints one JSON line of figures.
"""

from __future__ import annotations

import importlib
import json
import statistics
import sys
import time

from bench import aws_stub, scenarios


class Context:
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench-request"
    function_version = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def main() -> None:
    module_name, route_name, warm_count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    # Lambda's Python runtime has neither the AWS CRT nor pyOpenSSL; aws-sam-cli brings both
    # into this venv and botocore/urllib3 import them when present (~130 ms together). Hide
    # them from both stacks so the figures are those of a Lambda environment.
    for absent in ("awscrt", "OpenSSL"):
        sys.modules[absent] = None  # type: ignore[assignment]
    aws_stub.install()
    for operation, responder in scenarios.aws_answers().items():
        aws_stub.respond(operation, responder)
    event = next(r.event for r in scenarios.routes() if r.name == route_name)

    started = time.perf_counter()
    module = importlib.import_module(module_name)
    imported = time.perf_counter()
    first = module.handler(event, Context())
    invoked = time.perf_counter()
    cold_calls = dict(aws_stub.calls)

    aws_stub.reset_calls()
    module.handler(event, Context())
    warm_calls = dict(aws_stub.calls)

    samples = []
    for _ in range(warm_count):
        t0 = time.perf_counter()
        module.handler(event, Context())
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    status = first.get("statusCode") if isinstance(first, dict) else None
    print(
        json.dumps(
            {
                "import_ms": (imported - started) * 1000,
                "first_invoke_ms": (invoked - imported) * 1000,
                "cold_ms": (invoked - started) * 1000,
                "status": status if status is not None else _policy_effect(first),
                "cold_calls": cold_calls,
                "warm_calls": warm_calls,
                "warm_p50_ms": statistics.median(samples) if samples else None,
                "warm_p99_ms": samples[int(len(samples) * 0.99) - 1] if samples else None,
                "xray_sdk_loaded": "aws_xray_sdk" in sys.modules,
                "modules_loaded": len(sys.modules),
            }
        )
    )


def _policy_effect(result: object) -> str:
    if isinstance(result, dict) and "batchItemFailures" in result:
        return f"{len(result['batchItemFailures'])} failed"
    try:
        return result["policyDocument"]["Statement"][0]["Effect"]  # type: ignore[index]
    except (TypeError, KeyError, IndexError):
        return "?"


if __name__ == "__main__":
    main()
