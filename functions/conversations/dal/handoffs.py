"""Live handoff persistence: the handoff's state on the conversation's header, the tenant's list
of open handoffs (a sparse gsi1 item per open handoff), the notes and replies in the message
list, and the visitor's WebSocket connections.

Every change of a handoff is one transaction: the header's status (conditional on the status
it was read with, so two people cannot both take a conversation over, and a timeout never
overrides a reply), the open-handoffs item (written or deleted with it), the messages and the
events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from agenthub import keys, outbox
from agenthub.errors import Conflict, NotFound, is_condition_failure
from agenthub.events import DomainEvent
from conversations.dal.items import ConnectionItem, ConversationItem, HandoffItem, MessageItem
from conversations.dal.repository import message_item
from conversations.models import Conversation, HandoffStatus, Message, OpenHandoff


class HandoffChanged(Conflict):
    code = "handoff_changed"


def _header(conversation: Conversation) -> ConversationItem:
    return ConversationItem(
        pk=keys.conversation_pk(conversation.tenant_id, conversation.id), sk=keys.CONVERSATION_SK
    )


def _status_is(expected: HandoffStatus | None) -> Condition:
    """The header still has the status the change was decided on."""
    if expected is None or expected == "released":
        # never asked, or handed back: a new handoff may start (old conversations have no
        # status attribute at all)
        missing = ConversationItem.handoff_status.does_not_exist()
        return ConversationItem.pk.exists() & (
            missing | (ConversationItem.handoff_status == "released")
        )
    return ConversationItem.pk.exists() & (ConversationItem.handoff_status == expected)


def change(
    conversation: Conversation,
    *,
    expected: HandoffStatus | None,
    status: HandoffStatus,
    changed_at: str,
    requested_at: str,
    operator: str | None,
    messages: Sequence[Message],
    events: Sequence[DomainEvent],
    reason: str | None = None,
) -> None:
    """Move the conversation's handoff from ``expected`` to ``status`` with ``messages`` (notes,
    a reply) and ``events``, in one transaction. HandoffChanged (409) when the status is no
    longer ``expected``; NotFound when the conversation is gone."""
    tenant_id = conversation.tenant_id
    pk = keys.conversation_pk(tenant_id, conversation.id)
    actions: list[Action] = [
        ConversationItem.handoff.set(True),
        ConversationItem.handoff_status.set(status),
        ConversationItem.handoff_changed_at.set(changed_at),
        ConversationItem.handoff_requested_at.set(requested_at),
    ]
    if operator:
        actions.append(ConversationItem.handoff_operator.set(operator))
    if status == "requested":
        # a new handoff: no person yet, no transcript sent yet
        actions += [
            ConversationItem.handoff_operator.remove(),
            ConversationItem.handoff_emailed.remove(),
        ]
        if reason:
            actions.append(ConversationItem.handoff_reason.set(reason))
    condition = _status_is(expected)
    if status == "timed_out":
        # only the handoff this timeout was set for (not a later one)
        condition &= ConversationItem.handoff_requested_at == requested_at
    index = HandoffItem(
        pk=pk,
        sk=keys.HANDOFF_SK,
        gsi1pk=keys.handoffs_gsi1pk(tenant_id),
        gsi1sk=keys.handoffs_gsi1sk(requested_at, conversation.id),
        tenant_id=tenant_id,
        conversation_id=conversation.id,
        agent_id=conversation.agent_id,
        status=status,
        requested_at=requested_at,
        changed_at=changed_at,
        operator=operator,
    )

    def build(t: TransactWrite) -> None:
        t.update(_header(conversation), actions=actions, condition=condition)
        if status == "released":
            t.delete(HandoffItem(pk=pk, sk=keys.HANDOFF_SK))
        else:
            t.save(index)
        for message in messages:
            t.save(message_item(tenant_id, message), condition=MessageItem.pk.does_not_exist())

    _write(conversation, build, events)


def _write(
    conversation: Conversation,
    build: Callable[[TransactWrite], None],
    events: Sequence[DomainEvent],
) -> None:
    """One transaction; a failed condition is NotFound (the conversation is gone) or
    HandoffChanged (someone changed the handoff since it was read)."""
    try:
        outbox.write(build, events)
    except TransactWriteError as exc:
        if not is_condition_failure(exc):
            raise
        if _gone(conversation):
            raise NotFound("conversation not found") from exc
        raise HandoffChanged(
            "the handoff changed meanwhile (a reply, a release or a timeout); read it again"
        ) from exc


def _gone(conversation: Conversation) -> bool:
    from pynamodb.exceptions import DoesNotExist

    pk = keys.conversation_pk(conversation.tenant_id, conversation.id)
    try:
        ConversationItem.get(pk, keys.CONVERSATION_SK)
    except DoesNotExist:
        return True
    return False


def add_message(
    conversation: Conversation,
    message: Message,
    *,
    status: HandoffStatus,
    events: Sequence[DomainEvent],
) -> None:
    """A reply in a handoff that does not change (its status must still be ``status``)."""
    tenant_id = conversation.tenant_id

    def build(t: TransactWrite) -> None:
        pk = keys.conversation_pk(tenant_id, conversation.id)
        t.condition_check(ConversationItem, pk, keys.CONVERSATION_SK, condition=_status_is(status))
        t.save(message_item(tenant_id, message), condition=MessageItem.pk.does_not_exist())

    _write(conversation, build, events)


def mark_emailed(tenant_id: str, conversation_id: str, reason: str) -> bool:
    """Record that the transcript went out for ``reason``; False if it already had."""
    header = ConversationItem(
        pk=keys.conversation_pk(tenant_id, conversation_id), sk=keys.CONVERSATION_SK
    )
    emailed = ConversationItem.handoff_emailed
    try:
        header.update(
            actions=[emailed.set((emailed | []).append([reason]))],
            condition=ConversationItem.pk.exists() & ~emailed.contains(reason),
        )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def list_open(
    tenant_id: str, agent_id: str | None, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[OpenHandoff], dict[str, Any] | None]:
    """The tenant's open handoffs, oldest request first (one gsi1 Query)."""
    result = HandoffItem.gsi1.query(
        keys.handoffs_gsi1pk(tenant_id),
        filter_condition=(HandoffItem.agent_id == agent_id) if agent_id else None,
        limit=limit,
        page_size=limit,
        last_evaluated_key=start_key,
    )
    found = [
        OpenHandoff(
            conversation_id=item.conversation_id,
            agent_id=item.agent_id,
            status=item.status,
            requested_at=item.requested_at,
            changed_at=item.changed_at,
            operator=item.operator,
        )
        for item in result
        if isinstance(item, HandoffItem)
    ]
    return found, result.last_evaluated_key


# ---------------------------------------------------------------------------- connections


def put_connection(
    tenant_id: str, conversation_id: str, connection_id: str, at: str, expires_at: datetime
) -> None:
    ConnectionItem(
        pk=keys.conversation_pk(tenant_id, conversation_id),
        sk=keys.connection_sk(connection_id),
        connection_id=connection_id,
        connected_at=at,
        expires_at=expires_at,
    ).save()


def connections(tenant_id: str, conversation_id: str) -> list[str]:
    """The connection ids following the conversation (one Query)."""
    return [
        item.connection_id
        for item in ConnectionItem.query(
            keys.conversation_pk(tenant_id, conversation_id),
            ConnectionItem.sk.startswith(keys.CONNECTION_SK_PREFIX),
        )
        if isinstance(item, ConnectionItem)
    ]


def delete_connection(tenant_id: str, conversation_id: str, connection_id: str) -> None:
    ConnectionItem(
        pk=keys.conversation_pk(tenant_id, conversation_id),
        sk=keys.connection_sk(connection_id),
    ).delete()
