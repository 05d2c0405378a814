"""AWS without a network, for benchmarks: every botocore request is answered in process.

``install()`` patches ``botocore.endpoint.Endpoint._send`` the moment botocore.endpoint is
first imported (an import hook), so the stub adds nothing to the import cost being measured
and works for every client (boto3's and pynamodb's sessions alike). Each call is counted by
service and operation: that count is the "AWS calls per request" figure.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

Responder = Callable[[str, dict[str, Any]], dict[str, Any]]

calls: Counter[str] = Counter()
_responders: dict[str, Responder] = {}


def respond(operation: str, responder: Responder) -> None:
    """Answer ``operation`` (``DynamoDB.GetItem``, ``Events.PutEvents``...) with ``responder``."""
    _responders[operation] = responder


def reset_calls() -> None:
    calls.clear()


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


_TARGET_PREFIXES = {
    "DynamoDB_20120810": "DynamoDB",
    "AWSEvents": "Events",
    "secretsmanager": "SecretsManager",
}


def _operation(request: Any) -> str:
    target = request.headers.get("X-Amz-Target")
    if target:
        target = target.decode() if isinstance(target, bytes) else target
        prefix, _, name = target.partition(".")
        return f"{_TARGET_PREFIXES.get(prefix, prefix)}.{name}"
    return f"HTTP.{request.method}"


def _send(self: Any, request: Any) -> Any:
    from botocore.awsrequest import AWSResponse

    operation = _operation(request)
    calls[operation] += 1
    body = request.body
    # JSON protocols (DynamoDB, EventBridge, Secrets Manager) have JSON bodies; S3 uploads do not.
    payload = json.loads(body) if isinstance(body, str | bytes) and body else {}
    responder = _responders.get(operation)
    if responder is None:
        raise RuntimeError(f"no stubbed answer for {operation}")
    answer = json.dumps(responder(operation, payload)).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "bench"}
    if operation.startswith("HTTP."):  # REST protocols (S3): the answer is in headers
        answer, headers = b"", {"ETag": '"bench"', "x-amz-request-id": "bench"}
    return AWSResponse(request.url, 200, headers, _Raw(answer))


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "botocore.endpoint":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.loader is not None
        original = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            original(module)
            module.Endpoint._send = _send

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    if "botocore.endpoint" in sys.modules:
        sys.modules["botocore.endpoint"].Endpoint._send = _send
    else:
        sys.meta_path.insert(0, _PatchOnImport())
