"""Resources (a person or a room, with weekly hours in an IANA zone and date overrides) and
event types (what can be booked on a resource), with optimistic versions and events.

A tenant's whole scheduling config is one small partition, read with one Query and kept per
warm environment for ``CONFIG_TTL`` seconds; the environment that changes it drops its copy
at once. The booking write itself never trusts the cache for overlap: locks decide.
"""

from __future__ import annotations

import secrets
from typing import Any

from agenthub.cache import TTLCache
from agenthub.environment import ttl_cache
from agenthub.errors import Conflict, NotFound, ValidationFailed
from agenthub.events import Actor, utc_now_iso
from scheduling.dal import repository
from scheduling.models import (
    EventType,
    EventTypeChanged,
    EventTypeChangedPayload,
    EventTypeCreate,
    EventTypeUpdate,
    Resource,
    ResourceChanged,
    ResourceChangedPayload,
    ResourceCreate,
    ResourceUpdate,
)

CONFIG_TTL = 30.0
_configs: TTLCache[repository.Config] = ttl_cache(CONFIG_TTL, max_entries=1024)


def config_cache() -> TTLCache[repository.Config]:
    return _configs


def config(tenant_id: str, *, fresh: bool = False) -> repository.Config:
    found = None if fresh else _configs.get(tenant_id)
    if found is None:
        found = repository.load_config(tenant_id)
        _configs.set(tenant_id, found)
    return found


def get_resource(tenant_id: str, resource_id: str, *, fresh: bool = False) -> Resource:
    found = config(tenant_id, fresh=fresh).resources.get(resource_id)
    if found is None:
        raise NotFound("resource not found")
    return found


def get_event_type(tenant_id: str, event_type_id: str, *, fresh: bool = False) -> EventType:
    found = config(tenant_id, fresh=fresh).event_types.get(event_type_id)
    if found is None:
        raise NotFound("event type not found")
    return found


def list_resources(tenant_id: str) -> list[Resource]:
    return sorted(config(tenant_id, fresh=True).resources.values(), key=lambda r: r.created_at)


def list_event_types(tenant_id: str, agent_id: str | None = None) -> list[EventType]:
    found = config(tenant_id, fresh=agent_id is None).event_types.values()
    return sorted(
        (e for e in found if agent_id is None or e.agent_id == agent_id),
        key=lambda e: e.created_at,
    )


def _resource_event(resource: Resource, change: str, actor: Actor) -> ResourceChanged:
    return ResourceChanged(
        tenant_id=resource.tenant_id,
        actor=actor,
        subject=f"resource/{resource.id}",
        data=ResourceChangedPayload(
            resource_id=resource.id, change=change, version=resource.version
        ),
    )


def _event_type_event(event_type: EventType, change: str, actor: Actor) -> EventTypeChanged:
    return EventTypeChanged(
        tenant_id=event_type.tenant_id,
        actor=actor,
        subject=f"event_type/{event_type.id}",
        data=EventTypeChangedPayload(
            event_type_id=event_type.id,
            change=change,
            version=event_type.version,
        ),
    )


def create_resource(tenant_id: str, data: ResourceCreate, actor: Actor) -> Resource:
    now = utc_now_iso()
    resource = Resource(
        id="rs_" + secrets.token_hex(8),
        tenant_id=tenant_id,
        created_at=now,
        updated_at=now,
        **data.model_dump(exclude_none=True),
    )
    repository.create_config(resource, [_resource_event(resource, "created", actor)])
    _configs.invalidate(tenant_id)
    return resource


def update_resource(
    tenant_id: str, resource_id: str, data: ResourceUpdate, actor: Actor
) -> Resource:
    current = get_resource(tenant_id, resource_id, fresh=True)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    _check_changes(changes, current.version, data.version, nullable={"email", "busy_ics_url"})
    resource = Resource.model_validate(
        {
            **current.model_dump(),
            **changes,
            "version": current.version + 1,
            "updated_at": utc_now_iso(),
        }
    )
    try:
        repository.replace_config(resource, [_resource_event(resource, "updated", actor)])
    finally:
        _configs.invalidate(tenant_id)
    return resource


def delete_resource(tenant_id: str, resource_id: str, actor: Actor) -> None:
    current = config(tenant_id, fresh=True)
    resource = current.resources.get(resource_id)
    if resource is None:
        raise NotFound("resource not found")
    used = sorted(e.id for e in current.event_types.values() if e.resource_id == resource_id)
    if used:
        raise Conflict(
            "event types still book this resource; delete them first",
            details={"event_types": used},
        )
    try:
        repository.delete_config(
            tenant_id, "resource", resource_id, [_resource_event(resource, "deleted", actor)]
        )
    finally:
        _configs.invalidate(tenant_id)


def create_event_type(tenant_id: str, data: EventTypeCreate, actor: Actor) -> EventType:
    from agents.logic import get_agent

    get_agent(tenant_id, data.agent_id)  # NotFound for another tenant's agent
    resource = get_resource(tenant_id, data.resource_id, fresh=True)
    now = utc_now_iso()
    try:
        event_type = EventType(
            id="et_" + secrets.token_hex(8),
            tenant_id=tenant_id,
            created_at=now,
            updated_at=now,
            **data.model_dump(exclude_none=True),
        )
    except ValueError as exc:
        raise ValidationFailed("event type is invalid", details=_errors(exc)) from None
    repository.create_config(
        event_type, [_event_type_event(event_type, "created", actor)], requires=resource
    )
    _configs.invalidate(tenant_id)
    return event_type


def update_event_type(
    tenant_id: str, event_type_id: str, data: EventTypeUpdate, actor: Actor
) -> EventType:
    current = get_event_type(tenant_id, event_type_id, fresh=True)
    changes = data.model_dump(exclude_unset=True, exclude={"version", "clear_price"})
    if data.clear_price:
        changes["price"] = None
    _check_changes(
        changes,
        current.version,
        data.version,
        nullable={"price", "daily_limit", "weekly_limit", "slot_interval_minutes"},
    )
    try:
        event_type = EventType.model_validate(
            {
                **current.model_dump(),
                **changes,
                "version": current.version + 1,
                "updated_at": utc_now_iso(),
            }
        )
    except ValueError as exc:
        raise ValidationFailed("event type is invalid", details=_errors(exc)) from None
    try:
        repository.replace_config(event_type, [_event_type_event(event_type, "updated", actor)])
    finally:
        _configs.invalidate(tenant_id)
    return event_type


def delete_event_type(tenant_id: str, event_type_id: str, actor: Actor) -> None:
    event_type = get_event_type(tenant_id, event_type_id, fresh=True)
    try:
        repository.delete_config(
            tenant_id,
            "event_type",
            event_type_id,
            [_event_type_event(event_type, "deleted", actor)],
        )
    finally:
        _configs.invalidate(tenant_id)


def _check_changes(
    changes: dict[str, Any], current_version: int, expected: int, *, nullable: set[str]
) -> None:
    if not changes:
        raise ValidationFailed("nothing to update")
    nulls = sorted(
        name for name, value in changes.items() if value is None and name not in nullable
    )
    if nulls:
        raise ValidationFailed("fields cannot be null", details={"fields": nulls})
    if current_version != expected:
        from agenthub.errors import VersionConflict

        raise VersionConflict(
            "it was changed by someone else; fetch it and retry",
            details={"current_version": current_version, "expected_version": expected},
        )


def _errors(exc: ValueError) -> list[dict[str, Any]]:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return [{"loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errors()]
    return [{"msg": str(exc)}]
