"""The local runtime's HTTP/1.1 server: aiohttp's low-level server (a maintained parser:
keep-alive, chunked bodies, a 400 for a malformed request), with header names kept as sent
and repeated headers kept apart, which API Gateway events need (werkzeug, under sam local,
joins repeated headers and title-cases names)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

LOG = logging.getLogger("infra.local")
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_TOO_LARGE = b'{"message": "Request Too Long"}'
_FAILURE = b'{"message": "Internal server error"}'


@dataclass
class HttpRequest:
    method: str
    target: str
    path: str
    query: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    remote_addr: str = "127.0.0.1"

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


@dataclass
class Listener:
    """A listening server: its port, and ``close`` (which also ends open connections)."""

    port: int
    _server: asyncio.Server
    _connections: Any

    async def close(self) -> None:
        self._server.close()
        await self._connections.shutdown(1.0)


async def serve(handler: Handler, host: str, port: int) -> Listener:
    """Listen on ``host:port`` (0 = a free port) and serve ``handler``."""
    from aiohttp import web, web_request, web_server
    from multidict import CIMultiDict

    async def answer(request: web_request.BaseRequest) -> web.StreamResponse:
        if (request.headers.get("Expect") or "").lower() == "100-continue":
            # curl waits a second for this before sending a body over 1 KB
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            json = {"Content-Type": "application/json"}
            return web.Response(status=413, body=_TOO_LARGE, headers=json)
        version = request.version
        ours = HttpRequest(
            method=request.method,
            target=request.raw_path,
            path=request.path,
            # as sent (percent-encoded): aiohttp's query_string is decoded, and a decoded
            # query can neither be split safely nor re-encoded as latin-1
            query=request.rel_url.raw_query_string,
            version=f"HTTP/{version.major}.{version.minor}",
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers],
            body=body,
            remote_addr=request.remote or "127.0.0.1",
        )
        try:
            response = await handler(ours)
        except Exception:
            LOG.exception("gateway failure on %s %s", ours.method, ours.path)
            response = HttpResponse(500, [("Content-Type", "application/json")], _FAILURE)
        headers = CIMultiDict(response.headers)
        return web.Response(status=response.status, body=response.body, headers=headers)

    def make_request(
        message: Any, payload: Any, protocol: Any, writer: Any, task: Any
    ) -> web_request.BaseRequest:
        loop = asyncio.get_running_loop()
        return web_request.BaseRequest(
            message, payload, protocol, writer, task, loop, client_max_size=MAX_BODY_BYTES
        )

    # A malformed request is the client's fault: aiohttp answers it 400 and would also log
    # a traceback; our own failures are logged by ``answer``.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    server = web_server.Server(answer, request_factory=make_request, access_log=None)
    loop = asyncio.get_running_loop()
    listening = await loop.create_server(server, host, port, reuse_address=True)
    return Listener(listening.sockets[0].getsockname()[1], listening, server)
