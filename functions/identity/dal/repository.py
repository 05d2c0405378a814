"""Identity persistence: tenants and keys in the single table."""

from __future__ import annotations

from collections.abc import Sequence

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from agenthub import keys, outbox
from agenthub.errors import Conflict, NotFound, is_condition_failure
from agenthub.events import DomainEvent
from identity.dal.items import ApiKeyItem, TenantItem
from identity.models import KeyRecord, Tenant


def _tenant_model(item: TenantItem) -> Tenant:
    return Tenant(id=item.tenant_id, name=item.name, plan=item.plan, created_at=item.created_at)


def _key_model(item: ApiKeyItem) -> KeyRecord:
    return KeyRecord(
        id=item.key_id,
        tenant_id=item.tenant_id,
        type=item.key_type,
        name=item.name,
        role=item.role,
        agent_id=item.agent_id,
        allowed_origins=list(item.allowed_origins or []),
        last4=item.last4,
        key_hash=item.key_hash,
        created_at=item.created_at,
        created_by=item.created_by,
        last_used_at=item.last_used_at,
        revoked_at=item.revoked_at,
        key=item.publishable_key if item.key_type == "publishable" else None,
    )


def _key_item(record: KeyRecord) -> ApiKeyItem:
    return ApiKeyItem(
        pk=keys.tenant_pk(record.tenant_id),
        sk=keys.api_key_sk(record.id),
        tenant_id=record.tenant_id,
        key_id=record.id,
        key_type=record.type,
        key_hash=record.key_hash,
        name=record.name,
        last4=record.last4,
        role=record.role,
        agent_id=record.agent_id,
        allowed_origins=record.allowed_origins or None,
        created_at=record.created_at,
        created_by=record.created_by,
        publishable_key=record.key if record.type == "publishable" else None,
    )


def create_tenant_with_owner_key(
    tenant: Tenant, owner_key: KeyRecord, events: Sequence[DomainEvent]
) -> None:
    """Tenant and its first key in one transaction: never a tenant nobody can use."""
    tenant_item = TenantItem(
        pk=keys.tenant_pk(tenant.id),
        sk=keys.TENANT_SK,
        tenant_id=tenant.id,
        name=tenant.name,
        plan=tenant.plan,
        created_at=tenant.created_at,
        active_owner_keys=1,
    )
    key_item = _key_item(owner_key)

    def build(transaction: TransactWrite) -> None:
        transaction.save(tenant_item, condition=TenantItem.pk.does_not_exist())
        transaction.save(key_item, condition=ApiKeyItem.pk.does_not_exist())

    outbox.write(
        build,
        events,
        on_condition_failure=Conflict("tenant already exists"),
    )


def get_tenant(tenant_id: str) -> Tenant:
    try:
        item = TenantItem.get(keys.tenant_pk(tenant_id), keys.TENANT_SK)
    except DoesNotExist:
        raise NotFound("tenant not found") from None
    return _tenant_model(item)


def put_key(record: KeyRecord, events: Sequence[DomainEvent]) -> None:
    """Store a new key with its events; an owner key also counts on the tenant."""
    item = _key_item(record)
    tenant = TenantItem(pk=keys.tenant_pk(record.tenant_id), sk=keys.TENANT_SK)

    def build(transaction: TransactWrite) -> None:
        transaction.save(item, condition=ApiKeyItem.pk.does_not_exist())
        if record.role == "owner":
            transaction.update(
                tenant,
                actions=[TenantItem.active_owner_keys.add(1)],
                condition=TenantItem.pk.exists(),
            )

    outbox.write(
        build,
        events,
        on_condition_failure=Conflict("key id collision, retry"),
    )


def get_key(tenant_id: str, key_id: str) -> KeyRecord | None:
    """One GetItem. None when absent or not a key item."""
    try:
        item = ApiKeyItem.get(keys.tenant_pk(tenant_id), keys.api_key_sk(key_id))
    except DoesNotExist:
        return None
    return _key_model(item)


def list_keys(tenant_id: str) -> list[KeyRecord]:
    """All keys of a tenant (a tenant has tens of keys, not thousands)."""
    items = ApiKeyItem.query(
        keys.tenant_pk(tenant_id),
        ApiKeyItem.sk.startswith(keys.API_KEY_SK_PREFIX),
    )
    return [_key_model(item) for item in items]


def revoke_key(
    tenant_id: str,
    key_id: str,
    key_type: str,
    revoked_at: str,
    events: Sequence[DomainEvent],
    *,
    owner: bool = False,
) -> None:
    """Mark revoked once; revoking twice or another type's id is a 404/409, not a silent no-op.
    Revoking an owner key also decrements the tenant's owner count, only if one stays."""
    item = ApiKeyItem(pk=keys.tenant_pk(tenant_id), sk=keys.api_key_sk(key_id))
    tenant = TenantItem(pk=keys.tenant_pk(tenant_id), sk=keys.TENANT_SK)
    condition = (
        ApiKeyItem.pk.exists()
        & (ApiKeyItem.key_type == key_type)
        & ApiKeyItem.revoked_at.does_not_exist()
    )

    def build(transaction: TransactWrite) -> None:
        if not owner:
            transaction.update(
                item, actions=[ApiKeyItem.revoked_at.set(revoked_at)], condition=condition
            )
            return
        transaction.update(
            item,
            actions=[ApiKeyItem.revoked_at.set(revoked_at)],
            condition=condition & (ApiKeyItem.role == "owner"),
        )
        transaction.update(
            tenant,
            actions=[TenantItem.active_owner_keys.add(-1)],
            condition=TenantItem.active_owner_keys > 1,
        )

    try:
        outbox.write(build, events)
    except TransactWriteError as exc:
        if not is_condition_failure(exc):
            raise
        current = get_key(tenant_id, key_id)
        if current is None or current.type != key_type:
            raise NotFound("key not found") from exc
        if current.revoked_at:
            raise Conflict("key is already revoked") from exc
        raise Conflict(
            "cannot revoke the last active owner key; create another owner key first"
        ) from exc


def touch_key(tenant_id: str, key_id: str, used_at: str) -> None:
    """Record last use; best effort and conditional so a revoked key is never resurrected."""
    item = ApiKeyItem(pk=keys.tenant_pk(tenant_id), sk=keys.api_key_sk(key_id))
    try:
        item.update(
            actions=[ApiKeyItem.last_used_at.set(used_at)],
            condition=ApiKeyItem.pk.exists(),
        )
    except UpdateError:
        return
