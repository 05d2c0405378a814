"""Agents persistence: one item per agent in the tenant's partition."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError

from agenthub import keys
from agenthub.errors import Conflict, NotFound, VersionConflict, is_condition_failure
from agents.dal.items import AgentItem
from agents.models import Agent

# Attributes a PATCH may change (names equal on the model and the item).
MUTABLE = (
    "name",
    "description",
    "instructions",
    "model",
    "temperature",
    "greeting",
    "suggested_questions",
    "theme",
    "allowed_origins",
    "enabled_tools",
)


def _model(item: AgentItem) -> Agent:
    return Agent(
        id=item.agent_id,
        tenant_id=item.tenant_id,
        name=item.name,
        description=item.description,
        instructions=item.instructions,
        model=item.model,
        temperature=float(item.temperature),
        greeting=item.greeting,
        suggested_questions=list(item.suggested_questions or []),
        theme=dict(item.theme or {}),
        allowed_origins=list(item.allowed_origins or []),
        enabled_tools=list(item.enabled_tools or []),
        version=int(item.version),
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def create(agent: Agent) -> None:
    values = agent.model_dump(exclude={"id"})
    item = AgentItem(
        pk=keys.tenant_pk(agent.tenant_id),
        sk=keys.agent_sk(agent.id),
        agent_id=agent.id,
        **values,
    )
    try:
        item.save(condition=AgentItem.pk.does_not_exist())
    except PutError as exc:
        if is_condition_failure(exc):
            raise Conflict("agent id collision, retry") from exc
        raise


def get(tenant_id: str, agent_id: str) -> Agent:
    try:
        item = AgentItem.get(keys.tenant_pk(tenant_id), keys.agent_sk(agent_id))
    except DoesNotExist:
        raise NotFound("agent not found") from None
    return _model(item)


def list_page(
    tenant_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[Agent], dict[str, Any] | None]:
    """One page of agents (oldest id first) and DynamoDB's LastEvaluatedKey."""
    result = AgentItem.query(
        keys.tenant_pk(tenant_id),
        AgentItem.sk.startswith(keys.AGENT_SK_PREFIX),
        limit=limit,
        page_size=limit,
        last_evaluated_key=start_key,
    )
    agents = [_model(item) for item in result]
    return agents, result.last_evaluated_key


def update(
    tenant_id: str, agent_id: str, changes: dict[str, Any], expected_version: int, updated_at: str
) -> Agent:
    """Apply ``changes`` only if the stored version is ``expected_version`` (optimistic lock)."""
    item = AgentItem(pk=keys.tenant_pk(tenant_id), sk=keys.agent_sk(agent_id))
    actions = [getattr(AgentItem, name).set(value) for name, value in changes.items()]
    actions += [AgentItem.updated_at.set(updated_at), AgentItem.version.add(1)]
    try:
        item.update(
            actions=actions,
            condition=AgentItem.pk.exists() & (AgentItem.version == expected_version),
        )
    except UpdateError as exc:
        if not is_condition_failure(exc):
            raise
        current = get(tenant_id, agent_id)  # raises NotFound when it is gone
        raise VersionConflict(
            "the agent was changed by someone else; fetch it and retry",
            details={"current_version": current.version, "expected_version": expected_version},
        ) from exc
    return _model(item)


def delete(tenant_id: str, agent_id: str) -> None:
    item = AgentItem(pk=keys.tenant_pk(tenant_id), sk=keys.agent_sk(agent_id))
    try:
        item.delete(condition=AgentItem.pk.exists())
    except DeleteError as exc:
        if is_condition_failure(exc):
            raise NotFound("agent not found") from exc
        raise
