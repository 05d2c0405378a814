"""The transcript email a tenant's team gets when nobody answered a handoff in time (and again,
shorter to act on, when the visitor then leaves contact details): who asked, how to reach them,
and the whole conversation. Sent with Amazon SES from the deployment's sender address to the
agent's handoff email (agents' HandoffSettings.email); an agent without one gets no email (the
conversation stays in the API and the open-handoffs list).

At least once: the email is sent, then recorded on the conversation (handoff_emailed); a
redelivery checks that record first, so only a crash between the two sends it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from agenthub.clients import client
from agenthub.observability import logger
from agents.logic import get_agent
from conversations.dal import handoffs, repository
from conversations.logic.notes import TEAM
from conversations.models import Conversation, Message

Reason = Literal["timeout", "lead"]
SUBJECTS: dict[str, str] = {
    "timeout": "{agent}: a visitor asked for a person and nobody answered",
    "lead": "{agent}: the visitor who asked for a person left contact details",
}


@dataclass(frozen=True)
class Mailer:
    """Sends from ``sender`` (an SES-verified address); ``configuration_set`` optional."""

    sender: str
    configuration_set: str | None = None

    def send(self, to: str, subject: str, text: str) -> str:
        request: dict[str, Any] = {
            "FromEmailAddress": self.sender,
            "Destination": {"ToAddresses": [to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                }
            },
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        return str(client("sesv2").send_email(**request).get("MessageId", ""))


def _speaker(message: Message) -> str:
    if message.role == "user":
        return "Visitor"
    if message.role == "assistant":
        return "Assistant"
    if message.role == "operator":
        return f"{message.author or TEAM} (team)"
    return "--"


def compose(
    conversation: Conversation, messages: list[Message], agent_name: str, reason: Reason
) -> tuple[str, str]:
    """(subject, plain text body)."""
    lead = conversation.lead
    contact = (
        "\n".join(
            f"  {label}: {value}"
            for label, value in (
                ("Name", lead.name),
                ("Email", lead.email),
                ("Phone", lead.phone),
                ("Message", lead.note),
            )
            if value
        )
        if lead
        else "  (none yet: the visitor was asked for an email)"
    )
    lines = [
        f"Conversation {conversation.id} with {agent_name}",
        f"Started {conversation.started_at}; a person was asked for at "
        f"{conversation.handoff_requested_at}.",
        "",
        "How to reach the visitor:",
        contact,
        "",
        "Reply in the chat while the visitor is there: POST "
        f"/v1/agents/{conversation.agent_id}/conversations/{conversation.id}/replies",
        "",
        "Transcript:",
    ]
    for message in messages:
        when = message.created_at[11:16]
        text = " ".join(message.text.split()) if message.role == "system" else message.text
        lines.append(f"[{when}] {_speaker(message)}: {text}")
    subject = SUBJECTS[reason].format(agent=agent_name)
    return subject, "\n".join(lines) + "\n"


def send(tenant_id: str, conversation_id: str, reason: Reason, mailer: Mailer) -> bool:
    """Email the transcript for ``reason`` unless it already went out; True if sent now."""
    conversation, messages = repository.get_with_messages(tenant_id, conversation_id)
    state = conversation.handoff_state if conversation else None
    if conversation is None or state is None or reason in state.emailed:
        return False
    agent = get_agent(tenant_id, conversation.agent_id)
    to = agent.handoff.get("email")
    if not to:
        logger().info(
            "no handoff email for this agent: transcript not sent",
            extra={"conversation_id": conversation_id},
        )
        return False
    subject, text = compose(conversation, messages, agent.name, reason)
    mailer.send(str(to), subject, text)
    handoffs.mark_emailed(tenant_id, conversation_id, reason)
    return True


def send_after_timeout(tenant_id: str, conversation_id: str, mailer: Mailer) -> bool:
    """Contact details left after nobody answered: the team gets them with the transcript."""
    conversation = repository.get_conversation(tenant_id, conversation_id)
    state = conversation.handoff_state if conversation else None
    if conversation is None or state is None or state.status != "timed_out":
        return False
    return send(tenant_id, conversation_id, "lead", mailer)
