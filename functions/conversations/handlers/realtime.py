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

from typing import Any

from pydantic import Field, ValidationError

from agenthub.clients import secret_json
from agenthub.errors import AppError
from agenthub.observability import logger
from agenthub.runtime import entry
from agenthub.settings import BaseSettings
from conversations.logic import realtime, visitors
from conversations.models import RealtimeSubscribe


class RealtimeSettings(BaseSettings):
    signing_secret_arn: str = Field(min_length=1)
    realtime_endpoint: str | None = None


def _status(code: int, message: str = "") -> dict[str, Any]:
    return {"statusCode": code, "body": message}


def _connect(event: dict[str, Any]) -> dict[str, Any]:
    query = event.get("queryStringParameters") or {}
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    try:
        realtime.admit(
            query.get("agent") or "", query.get("key") or "", headers.get("origin") or ""
        )
    except AppError as refused:
        return _status(refused.status, refused.message)
    return _status(200)


def _subscribe(event: dict[str, Any], settings: RealtimeSettings) -> dict[str, Any]:
    connection_id = event["requestContext"]["connectionId"]
    channel = realtime.Channel(endpoint=settings.realtime_endpoint)
    tokens = visitors.VisitorTokens(str(secret_json(settings.signing_secret_arn)["key"]).encode())
    try:
        request = RealtimeSubscribe.model_validate_json(event.get("body") or "{}")
        realtime.follow(request, connection_id, tokens)
    except ValidationError:
        channel.send(connection_id, {"type": "error", "code": "bad_request"})
        return _status(400)
    except AppError as exc:
        channel.send(connection_id, {"type": "error", "code": exc.code})
        return _status(exc.status)
    channel.send(connection_id, {"type": "subscribed", "conversation_id": request.conversation_id})
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
