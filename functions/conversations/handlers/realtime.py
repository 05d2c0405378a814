"""The WebSocket API's function (RealtimeApi in template.yaml): the widget's live channel during
a handoff.

- ``$connect`` (``?agent=ag_…&key=pk_…``): the publishable key must be the agent's and the
  handshake's Origin one of the key's allowed origins (what the REST authorizer checks for
  the widget's other calls); anything else refuses the connection (403).
- ``subscribe`` (``{"action": "subscribe", "agent_id", "key", "conversation_id",
  "visitor_token"}``): the connection follows the visitor's own conversation (another
  visitor's is a not-found); answered ``{"type": "subscribed"}`` on the connection, after
  which the widget reads what it missed.
- ``ping`` is a mock integration in the template: it never reaches this function.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agenthub.errors import AppError
from agenthub.events import Actor
from agenthub.observability import logger
from agenthub.runtime import entry
from agenthub.settings import BaseSettings
from conversations.logic import realtime, visitors
from conversations.logic.service import Access
from identity.logic import verify_publishable

_ID = r"^[A-Za-z0-9_]{3,64}$"


class RealtimeSettings(BaseSettings):
    signing_secret_arn: str = Field(min_length=1)
    realtime_endpoint: str | None = None


class Subscribe(BaseModel):
    model_config = ConfigDict(extra="ignore")

    agent_id: str = Field(pattern=_ID)
    key: str = Field(min_length=10, max_length=200)
    conversation_id: str = Field(pattern=_ID)
    visitor_token: str = Field(min_length=10, max_length=600)


def _status(code: int, message: str = "") -> dict[str, Any]:
    return {"statusCode": code, "body": message}


def _connect(event: dict[str, Any]) -> dict[str, Any]:
    query = event.get("queryStringParameters") or {}
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    agent_id, key = query.get("agent") or "", query.get("key") or ""
    origin = headers.get("origin") or ""
    if not agent_id or not key or not origin:
        return _status(401, "agent, key and Origin are required")
    if verify_publishable(key, agent_id, origin) is None:
        return _status(403, "this key may not be used from here")
    return _status(200)


def _subscribe(event: dict[str, Any], settings: RealtimeSettings) -> dict[str, Any]:
    context = event["requestContext"]
    connection_id = context["connectionId"]
    channel = realtime.Channel(endpoint=settings.realtime_endpoint)
    try:
        body = Subscribe.model_validate(json.loads(event.get("body") or "{}"))
    except (ValueError, ValidationError):
        channel.send(connection_id, {"type": "error", "code": "bad_request"})
        return _status(400)
    # a message has no Origin: the connection's handshake was checked by $connect
    who = verify_publishable(body.key, body.agent_id, None)
    if who is None:
        channel.send(connection_id, {"type": "error", "code": "unauthorized"})
        return _status(401)
    from agenthub.clients import secret_json

    tokens = visitors.VisitorTokens(str(secret_json(settings.signing_secret_arn)["key"]).encode())
    try:
        visitor = tokens.verify(body.visitor_token, who.tenant_id, body.agent_id)
        access = Access(
            who.tenant_id,
            body.agent_id,
            Actor(kind="publishable_key", key_id=who.key_id),
            visitor.id,
        )
        realtime.subscribe(access, body.conversation_id, connection_id)
    except AppError as exc:
        channel.send(connection_id, {"type": "error", "code": exc.code})
        return _status(exc.status)
    channel.send(connection_id, {"type": "subscribed", "conversation_id": body.conversation_id})
    return _status(200)


@entry(RealtimeSettings)
def handler(event: dict[str, Any], context: Any, settings: RealtimeSettings) -> dict[str, Any]:
    route = (event.get("requestContext") or {}).get("routeKey")
    if route == "$connect":
        return _connect(event)
    if route == "subscribe":
        return _subscribe(event, settings)
    logger().info("unexpected route", extra={"route": route})
    return _status(404)
