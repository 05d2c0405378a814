"""The conversation's live channel: an API Gateway WebSocket API the widget connects to while a
handoff is open. The widget subscribes its connection to its conversation (with the visitor
token it holds); a person's reply, a handoff that times out or is handed back is pushed to
every connection following the conversation (the management API's PostToConnection).

Pushes are a courtesy, not the record: the message is stored before it is pushed, and the
widget reads what it missed when it (re)subscribes or, where WebSockets cannot connect, polls.
A failed push is logged and never fails the reply. Why a WebSocket API and not long polling:
docs/widget.md ("Live handoff"), with the figures `make bench` prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from agenthub.environment import connection
from agenthub.errors import Forbidden, Unauthorized
from agenthub.events import Actor, utc_now_iso
from agenthub.observability import logger
from conversations.dal import handoffs, repository
from conversations.logic.service import Access, owned
from conversations.logic.visitors import VisitorTokens
from conversations.models import Conversation, Message, RealtimeSubscribe, public_message
from identity.logic import verify_publishable

# API Gateway closes a WebSocket connection after two hours; its item goes with it (TTL).
CONNECTION_LIFETIME = timedelta(hours=2)


@dataclass(frozen=True)
class Channel:
    """Where pushes go: the WebSocket API stage's management endpoint (https://…/<stage>);
    ``url`` is what the widget connects to (wss://…/<stage>). None: no live channel (the
    widget polls)."""

    endpoint: str | None = None
    url: str | None = None

    def describe(self) -> dict[str, Any] | None:
        """What the widget is told about the channel."""
        return {"url": self.url} if self.url else None

    def push(
        self,
        conversation: Conversation,
        messages: list[Message],
        *,
        handoff: bool = True,
    ) -> int:
        """Send ``messages`` (and the conversation's handoff state) to every connection
        following the conversation; returns how many took it. Gone connections are forgotten."""
        if not self.endpoint:
            return 0
        following = handoffs.connections(conversation.tenant_id, conversation.id)
        if not following:
            return 0
        payload: dict[str, Any] = {
            "type": "messages",
            "messages": [public_message(m) for m in messages],
        }
        if handoff:
            state = conversation.handoff_state
            payload["handoff_state"] = state.model_dump(mode="json") if state else None
        data = json.dumps(payload, separators=(",", ":")).encode()
        api = _management(self.endpoint)
        delivered = 0
        for connection_id in following:
            try:
                api.post_to_connection(ConnectionId=connection_id, Data=data)
                delivered += 1
            except api.exceptions.GoneException:
                handoffs.delete_connection(conversation.tenant_id, conversation.id, connection_id)
            except Exception:
                logger().warning(
                    "push to a connection failed", extra={"conversation_id": conversation.id}
                )
        return delivered

    def send(self, connection_id: str, payload: dict[str, Any]) -> None:
        """One message to one connection (the answer to its subscription)."""
        if self.endpoint:
            _management(self.endpoint).post_to_connection(
                ConnectionId=connection_id, Data=json.dumps(payload).encode()
            )


@connection
def _management(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2)
    return boto3.session.Session().client(
        "apigatewaymanagementapi", endpoint_url=endpoint, config=config
    )


def subscribe(access: Access, conversation_id: str, connection_id: str) -> Conversation:
    """Follow the conversation on this connection (the visitor's own conversation only: any
    other is a NotFound)."""
    conversation = owned(repository.get_conversation(access.tenant_id, conversation_id), access)
    handoffs.put_connection(
        access.tenant_id,
        conversation_id,
        connection_id,
        utc_now_iso(),
        datetime.now(UTC) + CONNECTION_LIFETIME,
    )
    return conversation


def admit(agent_id: str, key: str, origin: str) -> None:
    """A handshake (``$connect``): the publishable key must be the agent's and the Origin one of
    the key's allowed origins, what the REST authorizer checks for the widget's other calls."""
    if not agent_id or not key or not origin:
        raise Unauthorized("agent, key and Origin are required")
    if verify_publishable(key, agent_id, origin) is None:
        raise Forbidden("this key may not be used from here")


def follow(request: RealtimeSubscribe, connection_id: str, tokens: VisitorTokens) -> Conversation:
    """A ``subscribe`` message: the connection follows the visitor's own conversation. A
    message has no Origin: the connection's handshake was checked by ``admit``."""
    who = verify_publishable(request.key, request.agent_id, None)
    if who is None:
        raise Unauthorized("this key may not be used here")
    visitor = tokens.verify(request.visitor_token, who.tenant_id, request.agent_id)
    actor = Actor(kind="publishable_key", key_id=who.key_id)
    access = Access(who.tenant_id, request.agent_id, actor, visitor.id)
    return subscribe(access, request.conversation_id, connection_id)
