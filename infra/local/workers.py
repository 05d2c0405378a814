"""Warm worker processes per function, driven from the runtime's asyncio loop.

A :class:`FunctionPool` keeps up to ``max_environments`` processes of one function; each runs
one invocation at a time, like a Lambda execution environment. Environments start on first use
(a cold start) unless prewarmed, are reused while warm, and are replaced when they crash or
time out (the process is killed, as Lambda discards a timed-out environment).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import marshal
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import IO, Any

from infra.local.environment import WORKER_SCRIPT

LOG = logging.getLogger("infra.local")
_HEADER = struct.Struct(">I")
INIT_TIMEOUT_S = 10.0  # Lambda's INIT phase limit


@dataclass
class InvokeResult:
    """One invocation's outcome. ``payload`` is JSON text: the result, or Lambda's error
    document (``errorMessage``, ``errorType``, ``stackTrace``) when ``ok`` is false."""

    ok: bool
    payload: str
    request_id: str
    duration_ms: float
    timed_out: bool = False

    @property
    def error_type(self) -> str | None:
        if self.ok:
            return None
        return str(json.loads(self.payload).get("errorType", "Unknown"))

    def value(self) -> Any:
        return json.loads(self.payload)


class WorkerGone(RuntimeError):
    """The worker process exited (crash, os._exit, killed)."""


class _FrameProtocol(asyncio.Protocol):
    """Length-prefixed marshal frames from one worker; one outstanding reply at a time."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.waiter: asyncio.Future[tuple[Any, ...]] | None = None
        self.frames: deque[tuple[Any, ...]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 4:
            (size,) = _HEADER.unpack_from(self._buffer)
            if len(self._buffer) < 4 + size:
                return
            frame = marshal.loads(bytes(self._buffer[4 : 4 + size]))
            del self._buffer[: 4 + size]
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(frame)
            else:
                self.frames.append(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(WorkerGone("worker exited"))

    async def next_frame(self, timeout: float) -> tuple[Any, ...]:
        if self.frames:
            return self.frames.popleft()
        if self.lost:
            raise WorkerGone("worker exited")
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(self.waiter, timeout)
        finally:
            self.waiter = None

    def send(self, message: tuple[Any, ...]) -> None:
        payload = marshal.dumps(message)
        assert self.transport is not None
        self.transport.write(_HEADER.pack(len(payload)) + payload)


class Worker:
    """One environment: a process and the protocol speaking to it."""

    def __init__(self, process: subprocess.Popen[bytes], protocol: _FrameProtocol) -> None:
        self.process = process
        self.protocol = protocol
        self.invocations = 0
        self.retired = False
        self.init_error: str | None = None

    @property
    def alive(self) -> bool:
        return not self.protocol.lost and self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        if self.protocol.transport is not None:
            self.protocol.transport.close()
        _reap(self.process)


def _reap(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class FunctionPool:
    """The warm environments of one function."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        config: dict[str, Any],
        *,
        code_dir: str,
        timeout_s: float,
        max_environments: int = 4,
        log_file: IO[bytes] | None = None,
    ) -> None:
        self.name = name
        self.env = env
        self.config = config
        self.code_dir = code_dir
        self.timeout_s = timeout_s
        self.max_environments = max(1, max_environments)
        self.log_file = log_file
        self.idle: list[Worker] = []
        self.busy: set[Worker] = set()
        self._starting = 0
        self._waiters: deque[asyncio.Future[Worker | None]] = deque()
        self.cold_starts = 0
        self.closed = False

    # ------------------------------------------------------------------ lifecycle
    async def _spawn(self) -> Worker:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        env = dict(self.env)
        config = dict(self.config)
        config["log_stream_name"] = (
            config["log_stream_name"].rsplit("]", 1)[0] + "]" + uuid.uuid4().hex
        )
        env["AWS_LAMBDA_LOG_STREAM_NAME"] = config["log_stream_name"]
        try:
            process = subprocess.Popen(
                [sys.executable, WORKER_SCRIPT, json.dumps(config), str(child.fileno())],
                cwd=self.code_dir,
                env=env,
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=self.log_file,
                stderr=self.log_file,
                # Own process group: a terminal's Ctrl+C reaches the runtime only, which then
                # stops every worker itself.
                start_new_session=True,
            )
        finally:
            child.close()
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_unix_connection(_FrameProtocol, sock=parent)
        worker = Worker(process, protocol)
        try:
            ready = await protocol.next_frame(INIT_TIMEOUT_S)
        except (TimeoutError, WorkerGone) as exc:
            worker.kill()
            raise WorkerGone(f"{self.name}: environment failed to start ({exc!r})") from exc
        self.cold_starts += 1
        worker.init_error = ready[1]
        LOG.debug("%s: environment %s ready in %.0f ms", self.name, process.pid, ready[2])
        return worker

    async def _acquire(self) -> Worker:
        while self.idle:
            worker = self.idle.pop()  # LIFO: the most recently used environment is the warmest
            if worker.alive and not worker.retired:
                self.busy.add(worker)
                return worker
            worker.kill()
        if len(self.busy) + self._starting < self.max_environments:
            self._starting += 1
            try:
                worker = await self._spawn()
            except BaseException:
                self._wake_one()  # the slot is free again: let a queued request try
                raise
            finally:
                self._starting -= 1
            self.busy.add(worker)
            return worker
        waiter: asyncio.Future[Worker | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        handed = await waiter
        if handed is None:  # a slot freed up without a worker (one died): start a new one
            return await self._acquire()
        return handed

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _release(self, worker: Worker) -> None:
        self.busy.discard(worker)
        usable = worker.alive and not worker.retired and not self.closed
        if not usable:
            worker.kill()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                if usable:
                    self.busy.add(worker)
                waiter.set_result(worker if usable else None)
                return
        if usable:
            self.idle.append(worker)

    async def prewarm(self) -> None:
        """Start one environment now instead of on the first request."""
        if not self.idle and not self.busy:
            worker = await self._spawn()
            self.idle.append(worker)

    def retire_all(self) -> None:
        """Replace every environment (code changed): idle ones now, busy ones when done."""
        for worker in [*self.idle, *self.busy]:
            worker.retired = True
        for worker in self.idle:
            worker.kill()
        self.idle.clear()

    def close(self) -> None:
        self.closed = True
        for worker in [*self.idle, *self.busy]:
            worker.kill()
        self.idle.clear()
        self.busy.clear()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()

    @property
    def environments(self) -> int:
        return len(self.idle) + len(self.busy)

    # ------------------------------------------------------------------ invocation
    async def invoke(self, event: Any, *, request_id: str | None = None) -> InvokeResult:
        """Run one invocation in a free (or new) environment."""
        request_id = request_id or str(uuid.uuid4())
        started = time.perf_counter()
        try:
            worker = await self._acquire()
        except WorkerGone as exc:
            return self._failure(request_id, started, "Runtime.InitError", str(exc))
        try:
            if worker.init_error is not None:
                # Lambda reports the INIT failure and throws the environment away.
                worker.retired = True
                return InvokeResult(False, worker.init_error, request_id, 0.0)
            deadline_ms = int(time.time() * 1000 + self.timeout_s * 1000)
            worker.protocol.send(("invoke", request_id, deadline_ms, event))
            worker.invocations += 1
            try:
                status, payload = await worker.protocol.next_frame(self.timeout_s)
            except TimeoutError:
                worker.kill()
                message = f"Task timed out after {self.timeout_s:.2f} seconds"
                LOG.warning("%s %s: %s", self.name, request_id, message)
                return self._failure(request_id, started, "Sandbox.Timedout", message, True)
            except WorkerGone:
                worker.kill()
                message = f"RequestId: {request_id} Error: Runtime exited unexpectedly"
                return self._failure(request_id, started, "Runtime.ExitError", message)
            elapsed = (time.perf_counter() - started) * 1000
            return InvokeResult(status == "ok", payload, request_id, elapsed)
        finally:
            self._release(worker)

    @staticmethod
    def _failure(
        request_id: str, started: float, error_type: str, message: str, timed_out: bool = False
    ) -> InvokeResult:
        payload = json.dumps({"errorMessage": message, "errorType": error_type})
        elapsed = (time.perf_counter() - started) * 1000
        return InvokeResult(False, payload, request_id, elapsed, timed_out=timed_out)
