"""The template's API Gateway WebSocket API, locally (``make dev`` and the tests).

What API Gateway does for a WebSocket API, read from the template's ``AWS::ApiGatewayV2``
resources (an Api with ProtocolType WEBSOCKET, its Routes, Integrations and Stage):

- the handshake (``ws://host:port/<stage>?...``) invokes the ``$connect`` route's function with
  a CONNECT event (headers, query string); a non-2xx ``statusCode`` refuses the connection
  with that status, as API Gateway does;
- each text message is routed by the RouteSelectionExpression (``$request.body.<field>``) to
  its route (else ``$default``, else API Gateway's "Forbidden" message) and invokes its
  function with a MESSAGE event; a MOCK integration does nothing; a closed connection invokes
  ``$disconnect`` when the template has one;
- the management API (``POST|GET|DELETE /<stage>/@connections/<id>``, what
  ``apigatewaymanagementapi`` calls; signatures are not checked): post to a connection (410
  Gone when it is closed), read it, close it.

Functions reach this through their environment: the template's
``https://${Api}.execute-api.<region>.amazonaws.com/<stage>`` (and ``wss://``) values become
this server's URLs (``localize``). Not emulated: route responses (two-way routes), the
2-hour and 10-minute idle limits, frames of more than 128 KB, authorizers on ``$connect``.

The protocol (RFC 6455) is the small part a browser and boto3 need: the handshake, masked
client frames, fragmented messages, ping/pong and close.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import struct
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from infra.local import REGION

LOG = logging.getLogger("infra.local")
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's message limit
Invoke = Callable[[str, Any], Awaitable[Any]]


@dataclass
class WebSocketApiSpec:
    logical_id: str
    stage: str
    selection: str  # the body field named by RouteSelectionExpression
    routes: dict[str, str | None]  # route key -> function logical id (None: a MOCK)


def websocket_api(cfn: dict[str, Any], resolve: Callable[[Any], Any]) -> WebSocketApiSpec | None:
    """The template's (first) WebSocket API, its routes resolved to functions (``resolve``
    resolves intrinsics such as the stage name's ``Ref``)."""
    resources = cfn.get("Resources") or {}
    apis = [
        name
        for name, r in resources.items()
        if r.get("Type") == "AWS::ApiGatewayV2::Api"
        and (r.get("Properties") or {}).get("ProtocolType") == "WEBSOCKET"
    ]
    if not apis:
        return None
    api = apis[0]
    expression = resources[api]["Properties"].get("RouteSelectionExpression", "")
    selection = expression.removeprefix("$request.body.")
    routes: dict[str, str | None] = {}
    stage = ""
    for resource in resources.values():
        props = resource.get("Properties") or {}
        if resource.get("Type") != "AWS::ApiGatewayV2::Route" or props.get("ApiId") != {"Ref": api}:
            continue
        integration = _referenced(props.get("Target"), resources)
        routes[props["RouteKey"]] = _function_of(integration, resources)
    for resource in resources.values():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::ApiGatewayV2::Stage" and props.get("ApiId") == {
            "Ref": api
        }:
            stage = str(resolve(props.get("StageName")))
    return WebSocketApiSpec(api, stage, selection, routes)


def _referenced(target: Any, resources: dict[str, Any]) -> str | None:
    """The integration a route's ``Target`` ("integrations/${Integration}") names."""
    text = target.get("Fn::Sub") if isinstance(target, dict) else target
    if isinstance(text, str) and "${" in text:
        name = text.split("${", 1)[1].split("}", 1)[0]
        return name if name in resources else None
    return None


def _function_of(integration: str | None, resources: dict[str, Any]) -> str | None:
    """The function an AWS_PROXY integration invokes (through an alias or not); None: MOCK."""
    if integration is None:
        return None
    props = resources[integration].get("Properties") or {}
    if props.get("IntegrationType") != "AWS_PROXY":
        return None
    names = set()
    _collect_refs(props.get("IntegrationUri"), names)
    for name in names:
        kind = resources.get(name, {}).get("Type")
        if kind == "AWS::Lambda::Alias":
            target = resources[name]["Properties"]["FunctionName"]
            return str(target["Ref"]) if isinstance(target, dict) else str(target)
        if kind in ("AWS::Lambda::Function", "AWS::Serverless::Function"):
            return name
    return None


def _collect_refs(value: Any, found: set[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt" and isinstance(item, list):
                found.add(str(item[0]))
            elif key == "Fn::Sub" and isinstance(item, str):
                found.update(part.split("}")[0].split(".")[0] for part in item.split("${")[1:])
            else:
                _collect_refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_refs(item, found)


# ---------------------------------------------------------------------------- frames


async def _read_frame(reader: asyncio.StreamReader) -> tuple[bool, int, bytes]:
    head = await reader.readexactly(2)
    fin, opcode = bool(head[0] & 0x80), head[0] & 0x0F
    masked, length = bool(head[1] & 0x80), head[1] & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    if length > MAX_MESSAGE_BYTES:
        raise ValueError("message too big")
    mask = await reader.readexactly(4) if masked else b""
    data = await reader.readexactly(length)
    if masked:
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return fin, opcode, data


def _frame(opcode: int, data: bytes) -> bytes:
    length = len(data)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return head + data


@dataclass
class Connection:
    id: str
    writer: asyncio.StreamWriter
    source_ip: str
    user_agent: str
    connected_at: int = field(default_factory=lambda: int(time.time() * 1000))
    last_active: int = field(default_factory=lambda: int(time.time() * 1000))

    async def send_text(self, text: bytes) -> None:
        self.writer.write(_frame(0x1, text))
        await self.writer.drain()


class WebSocketGateway:
    """Serves one WebSocket API of the template on one port."""

    def __init__(self, spec: WebSocketApiSpec, invoke: Invoke, *, api_id: str) -> None:
        self.spec = spec
        self.invoke = invoke
        self.api_id = api_id  # what Ref gives for the Api in the functions' environment
        self.connections: dict[str, Connection] = {}
        self.host = "127.0.0.1"
        self.port = 0
        self.messages = 0  # routed messages so far (for the bench and tests)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/{self.spec.stage}"

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/{self.spec.stage}"

    async def serve(self, host: str, port: int) -> asyncio.Server:
        server = await asyncio.start_server(self._client, host, port)
        self.host = host
        self.port = server.sockets[0].getsockname()[1]
        return server

    def localize(self, env: dict[str, str]) -> dict[str, str]:
        """The functions' environment with the API's AWS URLs replaced by this server's."""
        remote = f"{self.api_id}.execute-api.{REGION}.amazonaws.com/{self.spec.stage}"
        local = f"{self.host}:{self.port}/{self.spec.stage}"
        return {
            name: value.replace(f"wss://{remote}", f"ws://{local}").replace(
                f"https://{remote}", f"http://{local}"
            )
            for name, value in env.items()
        }

    # ------------------------------------------------------------------ HTTP
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = [*lines[0].split(" "), "", ""][:3]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip()] = value.strip()
        lowered = {k.lower(): v for k, v in headers.items()}
        peer = (writer.get_extra_info("peername") or ("127.0.0.1", 0))[0]
        try:
            if lowered.get("upgrade", "").lower() == "websocket":
                await self._websocket(reader, writer, target, headers, lowered, peer)
            else:
                length = int(lowered.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                await self._management(writer, method, target, body)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _respond(
        self, writer: asyncio.StreamWriter, status: int, body: bytes = b"", kind: str = ""
    ) -> None:
        reason = {
            200: "OK",
            204: "No Content",
            400: "Bad Request",
            401: "Unauthorized",
            403: "Forbidden",
            404: "Not Found",
            410: "Gone",
        }
        lines = [f"HTTP/1.1 {status} {reason.get(status, 'Error')}"]
        if kind:
            lines.append(f"Content-Type: {kind}")
        lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
        writer.write("\r\n".join(lines).encode() + body)
        await writer.drain()

    async def _management(
        self, writer: asyncio.StreamWriter, method: str, target: str, body: bytes
    ) -> None:
        path = urlsplit(target).path
        prefix = f"/{self.spec.stage}/@connections/"
        if not path.startswith(prefix):
            await self._respond(writer, 404)
            return
        connection = self.connections.get(unquote(path[len(prefix) :]))
        if connection is None:
            await self._respond(writer, 410, b'{"message":"Gone"}', "application/json")
            return
        if method == "POST":
            await connection.send_text(body)
            await self._respond(writer, 200)
        elif method == "GET":
            info = {
                "ConnectedAt": connection.connected_at / 1000,
                "LastActiveAt": connection.last_active / 1000,
                "Identity": {"SourceIp": connection.source_ip, "UserAgent": connection.user_agent},
            }
            await self._respond(writer, 200, json.dumps(info).encode(), "application/json")
        elif method == "DELETE":
            with contextlib.suppress(Exception):
                connection.writer.write(_frame(0x8, struct.pack("!H", 1000)))
                connection.writer.close()
            self.connections.pop(connection.id, None)
            await self._respond(writer, 204)
        else:
            await self._respond(writer, 400)

    # ------------------------------------------------------------------ WebSocket
    def _context(self, connection: Connection, route: str, kind: str) -> dict[str, Any]:
        now = int(time.time() * 1000)
        request_id = base64.b64encode(os.urandom(9)).decode()
        return {
            "routeKey": route,
            "eventType": kind,
            "messageDirection": "IN",
            "stage": self.spec.stage,
            "connectedAt": connection.connected_at,
            "requestTimeEpoch": now,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now / 1000)),
            "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
            "requestId": request_id,
            "extendedRequestId": request_id,
            "domainName": f"{self.host}:{self.port}",
            "connectionId": connection.id,
            "apiId": self.api_id,
        }

    async def _call(self, route: str, event: dict[str, Any]) -> int:
        """Invoke the route's function; its statusCode (500 when it failed)."""
        function = self.spec.routes.get(route)
        if function is None:
            return 200  # a MOCK integration
        result = await self.invoke(function, event)
        if not getattr(result, "ok", False):
            return 500
        try:
            return int(json.loads(result.payload).get("statusCode", 200))
        except (ValueError, AttributeError):
            return 200

    async def _websocket(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        target: str,
        headers: dict[str, str],
        lowered: dict[str, str],
        peer: str,
    ) -> None:
        parts = urlsplit(target)
        key = lowered.get("sec-websocket-key")
        if parts.path.rstrip("/") != f"/{self.spec.stage}" or not key:
            await self._respond(writer, 404)
            return
        connection = Connection(
            id=base64.b64encode(uuid.uuid4().bytes[:10]).decode(),
            writer=writer,
            source_ip=peer,
            user_agent=lowered.get("user-agent", ""),
        )
        query = dict(parse_qsl(parts.query))
        event = {
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
            "requestContext": self._context(connection, "$connect", "CONNECT"),
            "isBase64Encoded": False,
        }
        if "$connect" in self.spec.routes:
            status = await self._call("$connect", event)
            if not 200 <= status < 300:
                await self._respond(writer, status)
                return
        accept = base64.b64encode(
            hashlib.sha1((key + _GUID).encode()).digest()
        ).decode()  # RFC 6455
        writer.write(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        self.connections[connection.id] = connection
        try:
            await self._messages(reader, connection)
        finally:
            self.connections.pop(connection.id, None)
            if "$disconnect" in self.spec.routes:
                disconnect = {
                    "requestContext": self._context(connection, "$disconnect", "DISCONNECT"),
                    "isBase64Encoded": False,
                }
                await self._call("$disconnect", disconnect)

    async def _messages(self, reader: asyncio.StreamReader, connection: Connection) -> None:
        buffer = b""
        while True:
            fin, opcode, data = await _read_frame(reader)
            connection.last_active = int(time.time() * 1000)
            if opcode == 0x8:  # close
                with contextlib.suppress(Exception):
                    connection.writer.write(_frame(0x8, data[:2]))
                return
            if opcode == 0x9:  # ping
                connection.writer.write(_frame(0xA, data))
                continue
            if opcode in (0x1, 0x2, 0x0):
                buffer += data
                if not fin:
                    continue
                text, buffer = buffer, b""
                # routed concurrently, as API Gateway does; kept so it is not collected
                task = asyncio.ensure_future(self._route(connection, text))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _route(self, connection: Connection, text: bytes) -> None:
        self.messages += 1
        try:
            chosen = json.loads(text).get(self.spec.selection)
        except (ValueError, AttributeError):
            chosen = None
        route = chosen if chosen in self.spec.routes else "$default"
        if route not in self.spec.routes:
            error = {"message": "Forbidden", "connectionId": connection.id}
            with contextlib.suppress(Exception):
                await connection.send_text(json.dumps(error).encode())
            return
        event = {
            "requestContext": {
                **self._context(connection, route, "MESSAGE"),
                "messageId": base64.b64encode(os.urandom(9)).decode(),
            },
            "body": text.decode("utf-8", errors="replace"),
            "isBase64Encoded": False,
        }
        await self._call(route, event)
