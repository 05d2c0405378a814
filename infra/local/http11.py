"""A small HTTP/1.1 server on asyncio's Protocol API: keep-alive, Content-Length and chunked
request bodies, ``Expect: 100-continue``, repeated headers kept as sent.

Why not Flask/werkzeug's dev server (what sam local uses): it joins repeated headers into one
value, title-cases header names, and tops out far below the 1,000 req/s the project wants from
the local gateway on two cores. Requests are handled one at a time per connection, in order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import unquote

LOG = logging.getLogger("infra.local")
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_REASONS = {status.value: status.phrase for status in HTTPStatus}


@dataclass
class HttpRequest:
    method: str
    target: str
    path: str
    query: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    remote_addr: str
    keep_alive: bool = True

    def header(self, name: str, default: str | None = None) -> str | None:
        """The last value of header ``name`` (case-insensitive)."""
        lowered = name.lower()
        for key, value in reversed(self.headers):
            if key.lower() == lowered:
                return value
        return default


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    global _date_cache  # noqa: PLW0603 - one formatted Date per second is plenty
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


def serialize(response: HttpResponse, *, keep_alive: bool, head_only: bool = False) -> bytes:
    """The response's bytes: status line, headers (as given, plus framing) and body."""
    lines = [f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}"]
    lines.extend(f"{name}: {value}" for name, value in response.headers)
    lines.append(f"Content-Length: {len(response.body)}")
    lines.append(f"Date: {_http_date()}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
    return head if head_only else head + response.body


class HttpProtocol(asyncio.Protocol):
    """One client connection."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.closed = False
        self.sent_continue = False
        self.remote_addr = "127.0.0.1"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        if peer:
            self.remote_addr = peer[0]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        try:
            request = self._parse()
        except _BadRequest as exc:
            body = json.dumps({"message": str(exc)}).encode()
            headers = [("Content-Type", "application/json")]
            self._reply(HttpResponse(exc.status, headers, body), keep_alive=False)
            return
        if request is None:
            return
        self.busy = True
        asyncio.get_running_loop().create_task(self._run(request))

    async def _run(self, request: HttpRequest) -> None:
        try:
            response = await self.handler(request)
        except Exception:
            LOG.exception("gateway failure on %s %s", request.method, request.path)
            body = b'{"message": "Internal server error"}'
            response = HttpResponse(500, [("Content-Type", "application/json")], body)
        self._reply(response, request.keep_alive, head_only=request.method == "HEAD")
        self.busy = False
        if request.keep_alive and not self.closed and self.buffer:
            self._next()

    def _reply(self, response: HttpResponse, keep_alive: bool, head_only: bool = False) -> None:
        if self.closed or self.transport is None:
            return
        self.transport.write(serialize(response, keep_alive=keep_alive, head_only=head_only))
        if not keep_alive:
            self.transport.close()
            self.closed = True

    # ------------------------------------------------------------------ parsing
    def _parse(self) -> HttpRequest | None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise _BadRequest(431, "Request Header Fields Too Large")
            return None
        lines = self.buffer[:end].decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            raise _BadRequest(400, "Bad Request") from None
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise _BadRequest(400, "Bad Request")
            headers.append((name.strip(), value.strip()))
        lowered = {name.lower(): value for name, value in headers}
        body_start = end + 4
        if "chunked" in lowered.get("transfer-encoding", "").lower():
            decoded = _dechunk(self.buffer, body_start)
            if decoded is None:
                return None
            body, consumed = decoded
        else:
            length = int(lowered.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                raise _BadRequest(413, "Request Too Long")
            if len(self.buffer) < body_start + length:
                self._maybe_continue(lowered)
                return None
            body, consumed = (
                bytes(self.buffer[body_start : body_start + length]),
                body_start + length,
            )
        del self.buffer[:consumed]
        self.sent_continue = False
        path, _, query = target.partition("?")
        connection = lowered.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        return HttpRequest(
            method=method.upper(),
            target=target,
            path=unquote(path),
            query=query,
            version=version,
            headers=headers,
            body=body,
            remote_addr=self.remote_addr,
            keep_alive=keep_alive,
        )

    def _maybe_continue(self, lowered: dict[str, str]) -> None:
        # curl waits a second for this before sending bodies over 1 KB.
        if lowered.get("expect", "").lower() == "100-continue" and not self.sent_continue:
            self.sent_continue = True
            if self.transport is not None:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")


def _dechunk(buffer: bytearray, start: int) -> tuple[bytes, int] | None:
    """Decode a complete chunked body from ``buffer[start:]``; None if more bytes are needed."""
    body = bytearray()
    position = start
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        try:
            size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
        except ValueError:
            raise _BadRequest(400, "Bad chunk") from None
        if size == 0:
            trailer_end = buffer.find(b"\r\n\r\n", line_end)
            if trailer_end < 0:
                return None
            return bytes(body), trailer_end + 4
        chunk_start = line_end + 2
        if len(buffer) < chunk_start + size + 2:
            return None
        body += buffer[chunk_start : chunk_start + size]
        if len(body) > MAX_BODY_BYTES:
            raise _BadRequest(413, "Request Too Long")
        position = chunk_start + size + 2


async def serve(handler: Handler, host: str, port: int) -> asyncio.Server:
    """Listen on ``host:port`` (0 = a free port) and serve ``handler``."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: HttpProtocol(handler), host, port, reuse_address=True)
