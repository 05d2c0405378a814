"""Agents behaviour: CRUD with optimistic concurrency, the L1-cached read path, events."""

from __future__ import annotations

import secrets
from typing import Any

from agenthub.cache import TTLCache
from agenthub.environment import ttl_cache
from agenthub.errors import NotFound, PreconditionRequired, ValidationFailed, VersionConflict
from agenthub.events import Actor, utc_now_iso
from agenthub.outbox import Required
from agenthub.shared_cache import TieredCache, pydantic_codec
from agents.dal import repository
from agents.models import (
    Agent,
    AgentCreate,
    AgentCreated,
    AgentCreatedData,
    AgentDeleted,
    AgentDeletedData,
    AgentUpdate,
    AgentUpdated,
    AgentUpdatedData,
    Theme,
)

# L1: agent configuration per warm environment for 5 minutes. The
# environment that writes an agent drops its entry at once; others converge within the TTL.
# With the optional shared L2 (memcached), a cold environment reads the agent from there, and
# a write replaces the shared entry at once.
AGENT_CACHE_TTL = 300
_cache: TTLCache[Agent] = ttl_cache(AGENT_CACHE_TTL, max_entries=2048)
_tiered: TieredCache[Agent] = TieredCache(
    _cache, "agent", ttl_seconds=AGENT_CACHE_TTL, **pydantic_codec(Agent)
)


def agent_cache() -> TTLCache[Agent]:
    return _cache


def new_agent_id() -> str:
    return "ag_" + secrets.token_hex(8)


def create_agent(tenant_id: str, data: AgentCreate, actor: Actor) -> Agent:
    now = utc_now_iso()
    agent = Agent(
        id=new_agent_id(),
        tenant_id=tenant_id,
        created_at=now,
        updated_at=now,
        **data.model_dump(mode="json", exclude_none=True),
    )
    created = AgentCreated(
        tenant_id=tenant_id,
        actor=actor,
        subject=f"agent/{agent.id}",
        data=AgentCreatedData(name=agent.name, version=agent.version),
    )
    repository.create(agent, [created])
    _tiered.set((tenant_id, agent.id), agent)
    return agent


def get_agent(tenant_id: str, agent_id: str, *, use_cache: bool = True) -> Agent:
    """The agent, from the L1 cache when warm (0 AWS calls) or one GetItem. Another tenant's
    agent is a NotFound: the key includes the tenant, so it is never even read."""
    key = (tenant_id, agent_id)
    if use_cache:
        cached = _tiered.get(key)
        if cached is not None:
            return cached
    agent = repository.get(tenant_id, agent_id)
    _tiered.set(key, agent)
    return agent


def agent_still_exists(tenant_id: str, agent_id: str) -> Required:
    """A condition for another domain's write (``outbox.write(..., requires=[...])``): the
    write commits only if the agent exists at that moment, else it is the agent's 404.
    Cached reads may be up to AGENT_CACHE_TTL old; this is how a write sees a deletion at
    once, from any environment, for no extra round trip."""
    return repository.still_exists(tenant_id, agent_id)


def list_agents(
    tenant_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Agent], dict[str, Any] | None]:
    return repository.list_page(tenant_id, limit, start_key)


def update_agent(
    tenant_id: str,
    agent_id: str,
    data: AgentUpdate,
    *,
    if_match_version: int | None,
    actor: Actor,
) -> Agent:
    """Apply a partial update against a known version (body ``version`` or If-Match).

    The new state is computed from the current one (from the L1 cache when it holds exactly
    the expected version — same version, same content — else one consistent read), then
    written with a condition on the version, so a concurrent change is a 409, never lost."""
    expected = data.version if data.version is not None else if_match_version
    if expected is None:
        raise PreconditionRequired("send If-Match with the agent's ETag, or 'version' in the body")
    changes = data.model_dump(mode="json", exclude_unset=True, exclude={"version"})
    if not changes:
        raise ValidationFailed("nothing to update")
    nulls = sorted(name for name, value in changes.items() if value is None)
    if nulls:
        raise ValidationFailed("fields cannot be null", details={"fields": nulls})
    current = _cache.get((tenant_id, agent_id))
    if current is None or current.version != expected:
        current = repository.get(tenant_id, agent_id, consistent=True)
    if current.version != expected:
        raise VersionConflict(
            "the agent was changed by someone else; fetch it and retry",
            details={"current_version": current.version, "expected_version": expected},
        )
    if "theme" in changes:
        # A theme in a PATCH changes only the theme fields it names.
        merged = {**current.theme, **changes["theme"]}
        changes["theme"] = Theme.model_validate(merged).model_dump(mode="json")
    agent = Agent.model_validate(
        {
            **current.model_dump(),
            **changes,
            "version": expected + 1,
            "updated_at": utc_now_iso(),
        }
    )
    event = AgentUpdated(
        tenant_id=tenant_id,
        actor=actor,
        subject=f"agent/{agent_id}",
        data=AgentUpdatedData(changed=sorted(changes), version=agent.version),
    )
    try:
        repository.update(agent, changes, [event])
    except (VersionConflict, NotFound):
        _tiered.invalidate((tenant_id, agent_id))
        raise
    _tiered.set((tenant_id, agent_id), agent)
    return agent


def delete_agent(tenant_id: str, agent_id: str, actor: Actor) -> None:
    event = AgentDeleted(
        tenant_id=tenant_id, actor=actor, subject=f"agent/{agent_id}", data=AgentDeletedData()
    )
    try:
        repository.delete(tenant_id, agent_id, [event])
    finally:
        _tiered.invalidate((tenant_id, agent_id))
