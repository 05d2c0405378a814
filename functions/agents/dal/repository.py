"""Agents persistence: one item per agent in the tenant's partition."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from agenthub import keys, outbox
from agenthub.errors import Conflict, NotFound, VersionConflict, is_condition_failure
from agenthub.events import DomainEvent
from agents.dal.items import AgentItem
from agents.models import Agent


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


def create(agent: Agent, events: Sequence[DomainEvent]) -> None:
    """Store a new agent and its events in one transaction."""
    values = agent.model_dump(exclude={"id"})
    item = AgentItem(
        pk=keys.tenant_pk(agent.tenant_id),
        sk=keys.agent_sk(agent.id),
        agent_id=agent.id,
        **values,
    )
    outbox.write(
        lambda t: t.save(item, condition=AgentItem.pk.does_not_exist()),
        events,
        on_condition_failure=Conflict("agent id collision, retry"),
    )


def get(tenant_id: str, agent_id: str, *, consistent: bool = False) -> Agent:
    try:
        item = AgentItem.get(
            keys.tenant_pk(tenant_id), keys.agent_sk(agent_id), consistent_read=consistent
        )
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


def update(updated: Agent, changes: dict[str, Any], events: Sequence[DomainEvent]) -> None:
    """Write ``changes`` (already applied to ``updated``) only if the stored version is still
    the one before ``updated`` (optimistic lock), with the events, in one transaction."""
    item = AgentItem(pk=keys.tenant_pk(updated.tenant_id), sk=keys.agent_sk(updated.id))
    actions = [getattr(AgentItem, name).set(value) for name, value in changes.items()]
    actions += [
        AgentItem.updated_at.set(updated.updated_at),
        AgentItem.version.set(updated.version),
    ]
    expected = updated.version - 1
    try:
        outbox.write(
            lambda t: t.update(
                item,
                actions=actions,
                condition=AgentItem.pk.exists() & (AgentItem.version == expected),
            ),
            events,
        )
    except TransactWriteError as exc:
        if not is_condition_failure(exc):
            raise
        current = get(updated.tenant_id, updated.id, consistent=True)  # NotFound if gone
        raise VersionConflict(
            "the agent was changed by someone else; fetch it and retry",
            details={"current_version": current.version, "expected_version": expected},
        ) from exc


def still_exists(tenant_id: str, agent_id: str) -> outbox.Required:
    """The agent's item as a condition of another domain's transaction."""
    return outbox.Required(
        keys.tenant_pk(tenant_id), keys.agent_sk(agent_id), NotFound("agent not found")
    )


def delete(tenant_id: str, agent_id: str, events: Sequence[DomainEvent]) -> None:
    item = AgentItem(pk=keys.tenant_pk(tenant_id), sk=keys.agent_sk(agent_id))
    outbox.write(
        lambda t: t.delete(item, condition=AgentItem.pk.exists()),
        events,
        on_condition_failure=NotFound("agent not found"),
    )
