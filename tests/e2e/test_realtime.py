"""The template's WebSocket API in the local runtime (infra/local/websocket.py), spoken to as
a browser would (a raw RFC 6455 client here): the handshake runs `$connect` (key + Origin),
messages are routed by their `action`, the management API posts to a connection, and a
subscribed connection gets a person's reply."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from typing import Any
from urllib.parse import urlsplit

import pytest

from infra.local.runtime import LocalRuntime
from infra.local.websocket import _read_frame
from tests.e2e.api import Api
from tests.e2e.support import eventually


def _masked(text: str) -> bytes:
    data = text.encode()
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    if len(data) < 126:
        head = struct.pack("!BB", 0x81, 0x80 | len(data))
    else:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, len(data))
    return head + mask + body


async def _open(url: str, origin: str) -> tuple[int, Any, Any]:
    """(status, reader, writer) of a WebSocket handshake."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    key = base64.b64encode(os.urandom(16)).decode()
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    writer.write(
        (
            f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {origin}\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    return int(head.split(b" ")[1]), reader, writer


async def _next_text(reader: Any) -> dict[str, Any]:
    _, _, data = await asyncio.wait_for(_read_frame(reader), timeout=20)
    return dict(json.loads(data))


@pytest.fixture(scope="module")
def widget_agent(runtime: LocalRuntime) -> dict[str, Any]:
    api = Api(runtime)
    tenant = api.new_tenant("Realtime shop")
    agent = api.new_agent(tenant.owner_key, name="Live", enabled_tools=["knowledge", "handoff"])
    origin = "https://shop.realtime.example"
    key = api.ok(
        "POST",
        "/v1/publishable-keys",
        tenant.owner_key,
        json={"agent_id": agent["id"], "allowed_origins": [origin]},
    )
    return {"api": api, "tenant": tenant, "agent": agent, "key": key["secret"], "origin": origin}


def test_the_handshake_admits_only_the_keys_origins(
    runtime: LocalRuntime, widget_agent: dict[str, Any]
) -> None:
    url = f"{runtime.realtime_url}?agent={widget_agent['agent']['id']}&key={widget_agent['key']}"

    async def scenario() -> list[int]:
        statuses = []
        for origin in (widget_agent["origin"], "https://evil.example.net"):
            status, _, writer = await _open(url, origin)
            statuses.append(status)
            writer.close()
        status, _, writer = await _open(runtime.realtime_url or "", widget_agent["origin"])
        statuses.append(status)
        writer.close()
        return statuses

    assert asyncio.run(scenario()) == [101, 403, 401]


def test_a_subscribed_connection_gets_a_persons_reply(
    runtime: LocalRuntime, widget_agent: dict[str, Any]
) -> None:
    api, tenant, agent = widget_agent["api"], widget_agent["tenant"], widget_agent["agent"]
    origin, key = widget_agent["origin"], widget_agent["key"]
    headers = {"Origin": origin, "Authorization": f"Bearer {key}"}
    public = f"/v1/public/agents/{agent['id']}/conversations"
    started = api.call("POST", public, headers=headers, json={}).json()
    conversation_id, token = started["conversation"]["id"], started["visitor_token"]
    # the widget is told where the live channel is
    assert started["realtime"] == {"url": runtime.realtime_url}
    asked = api.call(
        "POST",
        f"{public}/{conversation_id}/handoff",
        headers=headers,
        json={"visitor_token": token},
    )
    assert asked.status_code == 200, asked.text

    async def scenario() -> list[dict[str, Any]]:
        url = f"{runtime.realtime_url}?agent={agent['id']}&key={key}"
        status, reader, writer = await _open(url, origin)
        assert status == 101
        heard = []
        # an action the API has no route for: API Gateway's own answer
        writer.write(_masked(json.dumps({"action": "dance"})))
        heard.append(await _next_text(reader))
        # a ping goes to a mock integration: no answer, no function
        writer.write(_masked(json.dumps({"action": "ping"})))
        hello = {
            "action": "subscribe",
            "agent_id": agent["id"],
            "key": key,
            "conversation_id": conversation_id,
            "visitor_token": token,
        }
        writer.write(_masked(json.dumps(hello)))
        heard.append(await _next_text(reader))
        path = f"/v1/agents/{agent['id']}/conversations/{conversation_id}/replies"
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            None,
            lambda: api.ok(
                "POST", path, tenant.owner_key, json={"text": "Hello!", "author": "Ana"}
            ),
        )
        heard.append(await _next_text(reader))
        writer.close()
        return heard

    forbidden, subscribed, pushed = asyncio.run(scenario())
    assert forbidden["message"] == "Forbidden"
    assert subscribed == {"type": "subscribed", "conversation_id": conversation_id}
    assert [m["role"] for m in pushed["messages"]] == ["system", "operator"]
    assert pushed["messages"][1]["author"] == "Ana"
    assert pushed["handoff_state"]["status"] == "held"
    # and the connection is forgotten once closed: a push finds it gone
    eventually(lambda: not runtime.realtime.connections)
