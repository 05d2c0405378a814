"""The template's WebSocket API in the local runtime (infra/local/websocket.py), spoken to as
a browser would (aiohttp's WebSocket client): the handshake runs `$connect` (key + Origin),
messages are routed by their `action`, the management API posts to a connection, and a
subscribed connection gets a person's reply."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import pytest

from infra.local.runtime import LocalRuntime
from tests.e2e.api import Api
from tests.e2e.support import eventually


def _run[T](scenario: Coroutine[Any, Any, T]) -> T:
    """Run ``scenario`` on a loop of its own (Playwright's sync API keeps one running in this
    thread once a browser test has run)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, scenario).result()


async def _status(url: str, origin: str) -> int:
    """The status of a WebSocket handshake (101 when it was accepted)."""
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url, origin=origin):
                return 101
        except aiohttp.WSServerHandshakeError as refused:
            return refused.status


async def _next_text(socket: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    return dict(json.loads(await socket.receive_str(timeout=20)))


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
        return [
            await _status(url, widget_agent["origin"]),
            await _status(url, "https://evil.example.net"),
            await _status(runtime.realtime_url or "", widget_agent["origin"]),
        ]

    assert _run(scenario()) == [101, 403, 401]


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
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url, origin=origin) as socket,
        ):
            return await conversation(socket)

    async def conversation(socket: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
        heard = []
        # an action the API has no route for: API Gateway's own answer
        await socket.send_str(json.dumps({"action": "dance"}))
        heard.append(await _next_text(socket))
        # a ping goes to a mock integration: no answer, no function
        await socket.send_str(json.dumps({"action": "ping"}))
        hello = {
            "action": "subscribe",
            "agent_id": agent["id"],
            "key": key,
            "conversation_id": conversation_id,
            "visitor_token": token,
        }
        await socket.send_str(json.dumps(hello))
        heard.append(await _next_text(socket))
        path = f"/v1/agents/{agent['id']}/conversations/{conversation_id}/replies"
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(
            None,
            lambda: api.ok(
                "POST", path, tenant.owner_key, json={"text": "Hello!", "author": "Ana"}
            ),
        )
        heard.append(await _next_text(socket))
        return heard

    forbidden, subscribed, pushed = _run(scenario())
    assert forbidden["message"] == "Forbidden"
    assert subscribed == {"type": "subscribed", "conversation_id": conversation_id}
    assert [m["role"] for m in pushed["messages"]] == ["system", "operator"]
    assert pushed["messages"][1]["author"] == "Ana"
    assert pushed["handoff_state"]["status"] == "held"
    # and the connection is forgotten once closed: a push finds it gone
    eventually(lambda: not runtime.realtime.connections)
