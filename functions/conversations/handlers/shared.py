"""What both routers of the conversations function use: its settings, the message policy
they imply, the visitor tokens and the views of a message exchange."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from agenthub.clients import secret_json
from agenthub.settings import ApiSettings, load_settings
from conversations.logic import messages, visitors
from conversations.logic.rate_limits import Limits
from conversations.models import Message, public_message


class ConversationSettings(ApiSettings):
    documents_bucket: str = Field(min_length=3)
    embedding_provider: Literal["none", "bedrock"] = "none"
    embedding_model: str | None = None
    embedding_dimensions: int = 512
    visitor_messages_per_window: int = Field(default=20, ge=1)
    agent_messages_per_window: int = Field(default=600, ge=1)
    client_messages_per_window: int = Field(default=60, ge=1)
    key_messages_per_window: int = Field(default=400, ge=1)
    client_starts_per_window: int = Field(default=10, ge=1)
    key_starts_per_window: int = Field(default=300, ge=1)
    rate_window_seconds: int = Field(default=60, ge=1, le=3600)


def settings() -> ConversationSettings:
    return load_settings(ConversationSettings)


def limits() -> Limits:
    loaded = settings()
    return Limits(
        visitor_messages=loaded.visitor_messages_per_window,
        agent_messages=loaded.agent_messages_per_window,
        window_seconds=loaded.rate_window_seconds,
        client_messages=loaded.client_messages_per_window,
        key_messages=loaded.key_messages_per_window,
        client_starts=loaded.client_starts_per_window,
        key_starts=loaded.key_starts_per_window,
    )


def message_policy() -> messages.MessagePolicy:
    from knowledge.logic import embedder

    loaded = settings()
    return messages.MessagePolicy(
        limits=limits(),
        documents_bucket=loaded.documents_bucket,
        embedder=embedder(
            loaded.embedding_provider, loaded.embedding_model, loaded.embedding_dimensions
        ),
    )


def visitor_tokens() -> visitors.VisitorTokens:
    return visitors.VisitorTokens(str(secret_json(settings().signing_secret_arn)["key"]).encode())


def message_view(message: Message, *, public: bool) -> dict[str, Any]:
    if public:
        return public_message(message)
    return message.model_dump(mode="json", exclude={"conversation_id"})


def exchange_view(
    exchange: messages.Exchange, *, public: bool, tenant_id: str, agent_id: str
) -> dict[str, Any]:
    """The question and its answer, each citation with its ``link``: the page, or a signed
    link to the uploaded file valid for 5 minutes. (Stored messages keep no links, which
    would expire; a conversation read later has the document ids.)"""
    from knowledge.logic import source_link

    answer = message_view(exchange.answer, public=public)
    bucket = settings().documents_bucket
    for citation in answer["citations"]:
        citation["link"] = source_link(
            tenant_id,
            agent_id,
            citation["document_id"],
            source_url=citation["source_url"],
            file_name=citation["file_name"],
            bucket=bucket,
        )
    return {"question": message_view(exchange.question, public=public), "answer": answer}
