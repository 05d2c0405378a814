"""Notes in a conversation (system messages: a person was asked for, joined, left, nobody
answered, contact details were left) and the message ids that keep them in order."""

from __future__ import annotations

import secrets
import time

from conversations.models import Conversation, Message, SystemKind

# what the notes say to the tenant's people (the widget shows its own, translated words)
NOTES: dict[str, str] = {
    "handoff_requested": "The visitor asked for a person.",
    "operator_joined": "{author} joined the conversation.",
    "handoff_released": "{author} handed the conversation back to the assistant.",
    "handoff_timed_out": "Nobody replied in time; the visitor was asked for an email.",
    "lead_captured": "The visitor left contact details.",
}
TEAM = "Someone from the team"


def message_ids(count: int) -> list[str]:
    """``count`` new message ids in increasing order (ids sort by time, to the microsecond)."""
    ids: list[str] = []
    while len(ids) < count:
        candidate = f"msg_{time.time_ns() // 1000:014x}{secrets.token_hex(4)}"
        if not ids or candidate[:18] > ids[-1][:18]:
            ids.append(candidate)
    return ids


def note(
    conversation: Conversation,
    kind: SystemKind,
    at: str,
    *,
    author: str | None = None,
    message_id: str | None = None,
) -> Message:
    """A system note in the conversation's messages."""
    return Message(
        id=message_id or message_ids(1)[0],
        conversation_id=conversation.id,
        role="system",
        kind=kind,
        author=author,
        text=NOTES[kind].format(author=author or TEAM),
        created_at=at,
    )
