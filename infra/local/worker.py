"""One warm Lambda execution environment, as a process (run as a script, not imported).

``python worker.py '<config json>' <socket fd>``: imports the handler once (the INIT phase),
says ``ready`` on the socket, then runs one invocation at a time. Frames are a 4-byte length
and a ``marshal``-ed tuple: cheaper than JSON for the event, and the event only ever holds
JSON types. The result goes back as JSON text, serialized the way the Lambda Python runtime
does it, so a handler that returns something Lambda cannot serialize fails here too.

Deliberately imports nothing from ``infra``: the function's ``sys.path`` is its CodeUri and
its layers, as in Lambda.
"""

from __future__ import annotations

import decimal
import importlib
import json
import marshal
import os
import socket
import struct
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

_HEADER = struct.Struct(">I")


class LambdaContext:
    """The ``context`` argument: the attributes and method Lambda's Python runtime provides."""

    def __init__(self, config: dict[str, Any], request_id: str, deadline_ms: int) -> None:
        self.function_name = config["function_name"]
        self.function_version = config["function_version"]
        self.invoked_function_arn = config["invoked_function_arn"]
        self.memory_limit_in_mb = str(config["memory_limit_in_mb"])
        self.log_group_name = config["log_group_name"]
        self.log_stream_name = config["log_stream_name"]
        self.aws_request_id = request_id
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext(function_name={self.function_name!r}, request={self.aws_request_id})"


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    received = 0
    while received < size:
        count = sock.recv_into(view[received:], size - received)
        if count == 0:
            raise EOFError
        received += count
    return bytes(buffer)


def _send(sock: socket.socket, message: tuple[Any, ...]) -> None:
    payload = marshal.dumps(message)
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def _decimal_default(value: Any) -> Any:
    # Lambda's Python runtime serializes Decimal (DynamoDB numbers) and nothing else extra.
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _error(exc: BaseException, error_type: str | None = None) -> str:
    frames = traceback.format_list(traceback.extract_tb(exc.__traceback__))
    return json.dumps(
        {
            "errorMessage": str(exc),
            "errorType": error_type or type(exc).__name__,
            "stackTrace": [frame.rstrip("\n") for frame in frames],
        }
    )


def _log_error(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(exc))
    sys.stderr.write(f"[ERROR] {type(exc).__name__}: {exc}\n{text}")
    sys.stderr.flush()


def _load_handler(handler: str) -> Any:
    module_name, _, function_name = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    function = getattr(module, function_name, None)
    if function is None:
        raise _InitError(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    return function


class _InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _watch_parent(parent_pid: int) -> None:
    # A runtime killed with SIGKILL cannot stop us; notice and leave instead of lingering.
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(0)


def _invoke(function: Any, config: dict[str, Any], message: tuple[Any, ...]) -> tuple[str, str]:
    _, request_id, deadline_ms, event = message
    context = LambdaContext(config, request_id, deadline_ms)
    version = config["function_version"]
    print(f"START RequestId: {request_id} Version: {version}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        result = function(event, context)
        try:
            reply = ("ok", json.dumps(result, default=_decimal_default))
        except (TypeError, ValueError) as exc:
            _log_error(exc)
            reply = ("error", _error(exc, "Runtime.MarshalError"))
    except Exception as exc:
        _log_error(exc)
        reply = ("error", _error(exc))
    elapsed = (time.perf_counter() - started) * 1000
    print(
        f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {elapsed:.2f} ms"
        f"\tMemory Size: {config['memory_limit_in_mb']} MB",
        file=sys.stderr,
        flush=True,
    )
    return reply


def main() -> None:
    config = json.loads(sys.argv[1])
    sock = socket.socket(fileno=int(sys.argv[2]))
    # Lambda's sys.path starts with the task root (the CodeUri); drop this script's folder.
    sys.path[0] = str(Path.cwd())
    # print() goes where Lambda sends it: the function's log stream (our stderr).
    os.dup2(2, 1)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()

    started = time.perf_counter()
    try:
        function = _load_handler(config["handler"])
        init_error = None
    except _InitError as exc:
        _log_error(exc)
        function, init_error = None, _error(exc, exc.error_type)
    except Exception as exc:
        _log_error(exc)
        function, init_error = None, _error(exc, "Runtime.Unknown")
    _send(sock, ("ready", init_error, (time.perf_counter() - started) * 1000))
    if function is None:
        return

    while True:
        try:
            (size,) = _HEADER.unpack(_recv_exact(sock, 4))
            message = marshal.loads(_recv_exact(sock, size))
        except EOFError:
            return
        _send(sock, _invoke(function, config, message))


if __name__ == "__main__":
    main()
