"""Identity behaviour: tenants, secret keys, publishable keys and key verification."""

from __future__ import annotations

import hmac

from agenthub.clients import secret_json
from agenthub.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from agenthub.events import Actor, utc_now_iso
from agenthub.roles import ALL_ROLES
from agents.logic import get_agent
from identity.dal import repository
from identity.logic import key_format
from identity.models import (
    ApiKey,
    ApiKeyCreated,
    ApiKeyCreatedData,
    ApiKeyRevoked,
    ApiKeyRevokedData,
    CreatedKey,
    KeyRecord,
    PublishableKeyCreate,
    SecretKeyCreate,
    Tenant,
    TenantCreate,
    TenantCreated,
    TenantCreatedData,
)

# Who may mint or revoke which role: an admin cannot create or revoke owners (no escalation).
_GRANTABLE = {"owner": ALL_ROLES, "admin": ALL_ROLES - {"owner"}}


def _public(record: KeyRecord) -> ApiKey:
    return ApiKey.model_validate(record.model_dump(exclude={"tenant_id", "key_hash"}))


def _new_record(
    tenant_id: str, key_type: str, name: str, created_by: str | None, **extra: object
) -> tuple[KeyRecord, str]:
    key_id = key_format.new_key_id()
    secret = key_format.new_key(key_type, tenant_id, key_id)
    record = KeyRecord(
        id=key_id,
        tenant_id=tenant_id,
        type=key_type,
        name=name,
        last4=secret[-4:],
        key_hash=key_format.hash_key(secret),
        created_at=utc_now_iso(),
        created_by=created_by,
        key=secret if key_type == "publishable" else None,
        **extra,
    )
    return record, secret


def check_platform_admin(authorization: str | None, admin_secret_arn: str) -> None:
    """Unauthorized unless ``authorization`` is ``Bearer <the platform admin token>`` (the
    ``token`` of the admin secret), compared in constant time."""
    presented = key_format.bearer_token(authorization) or ""
    expected = str(secret_json(admin_secret_arn).get("token", ""))
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise Unauthorized("platform admin token required")


def create_tenant(data: TenantCreate) -> tuple[Tenant, CreatedKey]:
    """Create a tenant and its first owner key (shown once), atomically, with its events."""
    tenant = Tenant(id=key_format.new_tenant_id(), name=data.name, created_at=utc_now_iso())
    record, secret = _new_record(tenant.id, "secret", "owner (bootstrap)", None, role="owner")
    actor = Actor(kind="platform_admin")
    repository.create_tenant_with_owner_key(
        tenant,
        record,
        [
            TenantCreated(
                tenant_id=tenant.id,
                actor=actor,
                subject=f"tenant/{tenant.id}",
                data=TenantCreatedData(name=tenant.name),
            ),
            ApiKeyCreated(
                tenant_id=tenant.id,
                actor=actor,
                subject=f"key/{record.id}",
                data=ApiKeyCreatedData(type="secret", role="owner", name=record.name),
            ),
        ],
    )
    return tenant, CreatedKey(**_public(record).model_dump(), secret=secret)


def get_tenant(tenant_id: str) -> Tenant:
    return repository.get_tenant(tenant_id)


def create_secret_key(tenant_id: str, data: SecretKeyCreate, actor: Actor) -> CreatedKey:
    if data.role not in _GRANTABLE.get(actor.role or "", frozenset()):
        raise Forbidden(f"role '{actor.role}' may not create '{data.role}' keys")
    record, secret = _new_record(tenant_id, "secret", data.name, actor.key_id, role=data.role)
    repository.put_key(
        record,
        [
            ApiKeyCreated(
                tenant_id=tenant_id,
                actor=actor,
                subject=f"key/{record.id}",
                data=ApiKeyCreatedData(type="secret", role=data.role, name=data.name),
            )
        ],
    )
    return CreatedKey(**_public(record).model_dump(), secret=secret)


def create_publishable_key(tenant_id: str, data: PublishableKeyCreate, actor: Actor) -> CreatedKey:
    """A widget key for one of the tenant's agents (another tenant's agent is a 404). Its
    origins default to the agent's own allowed origins."""
    agent = get_agent(tenant_id, data.agent_id, use_cache=False)
    origins = data.allowed_origins or agent.allowed_origins
    if not origins:
        raise ValidationFailed(
            "give allowed_origins, or set the agent's allowed_origins first",
            details=[{"loc": ["body", "allowed_origins"], "type": "missing"}],
        )
    record, secret = _new_record(
        tenant_id,
        "publishable",
        data.name,
        actor.key_id,
        agent_id=data.agent_id,
        allowed_origins=origins,
    )
    repository.put_key(
        record,
        [
            ApiKeyCreated(
                tenant_id=tenant_id,
                actor=actor,
                subject=f"key/{record.id}",
                data=ApiKeyCreatedData(
                    type="publishable",
                    name=data.name,
                    agent_id=data.agent_id,
                    allowed_origins=origins,
                ),
            )
        ],
    )
    return CreatedKey(**_public(record).model_dump(), secret=secret)


def list_keys(tenant_id: str, key_type: str) -> list[ApiKey]:
    records = [r for r in repository.list_keys(tenant_id) if r.type == key_type]
    records.sort(key=lambda r: r.created_at, reverse=True)
    return [_public(r) for r in records]


def active_publishable_keys(tenant_id: str, agent_id: str) -> list[ApiKey]:
    """The agent's publishable keys that are not revoked, oldest first."""
    records = [
        r
        for r in repository.list_keys(tenant_id)
        if r.type == "publishable" and r.agent_id == agent_id and not r.revoked_at
    ]
    records.sort(key=lambda r: (r.created_at, r.id))
    return [_public(r) for r in records]


def revoke_key(tenant_id: str, key_id: str, key_type: str, actor: Actor) -> ApiKey:
    current = repository.get_key(tenant_id, key_id)
    if current is None or current.type != key_type:
        raise NotFound("key not found")
    if current.revoked_at:
        raise Conflict("key is already revoked")
    secret = key_type == "secret"
    if secret and current.role not in _GRANTABLE.get(actor.role or "", frozenset()):
        raise Forbidden(f"role '{actor.role}' may not revoke '{current.role}' keys")
    revoked_at = utc_now_iso()
    owner = secret and current.role == "owner"
    event = ApiKeyRevoked(
        tenant_id=tenant_id,
        actor=actor,
        subject=f"key/{key_id}",
        data=ApiKeyRevokedData(type=current.type),
    )
    repository.revoke_key(tenant_id, key_id, key_type, revoked_at, [event], owner=owner)
    return _public(current.model_copy(update={"revoked_at": revoked_at}))


def revoke_agent_keys(tenant_id: str, agent_id: str, actor: Actor) -> int:
    """Revoke every active publishable key of a (deleted) agent, each with its ApiKeyRevoked
    event; the number revoked. Idempotent: a key revoked meanwhile is skipped."""
    revoked = 0
    for key in active_publishable_keys(tenant_id, agent_id):
        try:
            revoke_key(tenant_id, key.id, "publishable", actor)
        except Conflict:
            continue
        revoked += 1
    return revoked
