"""Embed codes: the script tag a tenant pastes into their site for one of their agents."""

from __future__ import annotations

from collections.abc import Callable

from agenthub.errors import Conflict
from agents.logic import get_agent
from identity.logic import active_publishable_keys
from widget.logic.assets import loader_url, snippet
from widget.models import EmbedCode, EmbedKey

# Stands in for a publishable key stored without its value (only its hash).
PLACEHOLDER = "PASTE_YOUR_PUBLISHABLE_KEY_ENDING_IN_{last4}"


def embed_code(tenant_id: str, agent_id: str, *, assets_url: Callable[[], str]) -> EmbedCode:
    """The snippet for the agent's first active publishable key (the oldest one not revoked);
    ``assets_url`` tells where the loader is served (asked only once the agent and key exist).

    Another tenant's agent, or none, is a NotFound (from agents); an agent without an active
    publishable key is a Conflict that says how to make one."""
    get_agent(tenant_id, agent_id)
    keys = active_publishable_keys(tenant_id, agent_id)
    if not keys:
        raise Conflict(
            "the agent has no active publishable key: create one with POST /v1/publishable-keys",
            details={"agent_id": agent_id},
        )
    first = keys[0]
    value = first.key  # None for a key stored without its value (only its hash)
    url = loader_url(assets_url())
    return EmbedCode(
        agent_id=agent_id,
        loader_url=url,
        publishable_key=EmbedKey(
            id=first.id,
            last4=first.last4,
            allowed_origins=list(first.allowed_origins),
            included=value is not None,
        ),
        snippet=snippet(url, agent_id, value or PLACEHOLDER.format(last4=first.last4)),
    )
