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
2-hour and 10-minute idle limits, authorizers on ``$connect``; a message over 128 KB closes
the connection (1009) where API Gateway answers it with an error.

The protocol (RFC 6455: handshake, fragments, ping/pong, close) is aiohttp's, served on its
own port by the same server as the REST API (infra/local/server.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from infra.local import REGION
from infra.local.server import HttpRequest, HttpResponse, Listener, serve

if TYPE_CHECKING:
    from aiohttp import web

LOG = logging.getLogger("infra.local")
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
    names: set[str] = set()
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


@dataclass
class Connection:
    id: str
    source_ip: str
    user_agent: str
    connected_at: int = field(default_factory=lambda: int(time.time() * 1000))
    last_active: int = field(default_factory=lambda: int(time.time() * 1000))
    socket: web.WebSocketResponse | None = None  # None until $connect accepted it

    async def send_text(self, text: bytes) -> None:
        if self.socket is not None and not self.socket.closed:
            await self.socket.send_str(text.decode("utf-8", errors="replace"))

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()


def _json(status: int, data: Any = None) -> HttpResponse:
    if data is None:
        return HttpResponse(status)
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(data).encode())


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

    async def serve(self, host: str, port: int) -> Listener:
        listener = await serve(self._management, host, port, upgrade=self._websocket)
        self.host, self.port = host, listener.port
        return listener

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

    # ------------------------------------------------------------------ management API
    async def _management(self, request: HttpRequest) -> HttpResponse:
        prefix = f"/{self.spec.stage}/@connections/"
        if not request.path.startswith(prefix):
            return _json(404, {"message": "Not Found"})
        connection = self.connections.get(unquote(request.path[len(prefix) :]))
        if connection is None:
            return _json(410, {"message": "Gone"})
        if request.method == "POST":
            await connection.send_text(request.body)
            return _json(200)
        if request.method == "GET":
            return _json(
                200,
                {
                    "ConnectedAt": connection.connected_at / 1000,
                    "LastActiveAt": connection.last_active / 1000,
                    "Identity": {
                        "SourceIp": connection.source_ip,
                        "UserAgent": connection.user_agent,
                    },
                },
            )
        if request.method == "DELETE":
            self.connections.pop(connection.id, None)
            await connection.close()
            return _json(204)
        return _json(400, {"message": "Bad Request"})

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
        self, request: HttpRequest, accept: Callable[[int], Awaitable[web.WebSocketResponse]]
    ) -> HttpResponse | None:
        """A handshake: ``$connect`` decides; ``accept`` completes it (None: the connection
        was served until it closed)."""
        if request.path.rstrip("/") != f"/{self.spec.stage}":
            return _json(404, {"message": "Not Found"})
        headers = dict(request.headers)
        connection = Connection(
            id=base64.b64encode(uuid.uuid4().bytes[:10]).decode(),
            source_ip=request.remote_addr,
            user_agent=request.header("user-agent") or "",
        )
        query = dict(parse_qsl(request.query))
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
                return HttpResponse(status)
        connection.socket = await accept(MAX_MESSAGE_BYTES)
        self.connections[connection.id] = connection
        try:
            await self._messages(connection.socket, connection)
        finally:
            self.connections.pop(connection.id, None)
            if "$disconnect" in self.spec.routes:
                disconnect = {
                    "requestContext": self._context(connection, "$disconnect", "DISCONNECT"),
                    "isBase64Encoded": False,
                }
                await self._call("$disconnect", disconnect)
        return None

    async def _messages(self, socket: web.WebSocketResponse, connection: Connection) -> None:
        from aiohttp import WSMsgType

        async for message in socket:
            connection.last_active = int(time.time() * 1000)
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            data = message.data if isinstance(message.data, bytes) else message.data.encode()
            # routed concurrently, as API Gateway does; kept so it is not collected
            task = asyncio.ensure_future(self._route(connection, data))
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
