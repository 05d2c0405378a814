"""The widget's API models: an agent's embed code."""

from __future__ import annotations

from pydantic import BaseModel


class EmbedKey(BaseModel):
    """The publishable key the snippet carries, as a tenant may see it."""

    id: str
    last4: str
    allowed_origins: list[str]
    # False for a key stored without its value (only its hash): the snippet then holds a
    # placeholder naming the key's last four characters, to be replaced by the key itself.
    included: bool


class EmbedCode(BaseModel):
    """What a tenant pastes into their site: one script tag, and what it is made of."""

    agent_id: str
    loader_url: str
    publishable_key: EmbedKey
    snippet: str
