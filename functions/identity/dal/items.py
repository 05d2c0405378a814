"""pynamodb items of the identity domain (stay inside dal/)."""

from __future__ import annotations

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute

from agenthub.table import TableItem


class TenantItem(TableItem, discriminator="tenant"):
    tenant_id = UnicodeAttribute()
    name = UnicodeAttribute()
    plan = UnicodeAttribute(default="free")
    created_at = UnicodeAttribute()
    # Live owner keys; revoking an owner key decrements it in the same transaction, on the
    # condition that one owner stays, so two concurrent revocations cannot orphan a tenant.
    active_owner_keys = NumberAttribute(default=0)


class ApiKeyItem(TableItem, discriminator="api_key"):
    """Secret and publishable keys. Only the SHA-256 of the key is stored."""

    tenant_id = UnicodeAttribute()
    key_id = UnicodeAttribute()
    key_type = UnicodeAttribute()  # secret | publishable
    key_hash = UnicodeAttribute()
    name = UnicodeAttribute()
    last4 = UnicodeAttribute()
    role = UnicodeAttribute(null=True)
    agent_id = UnicodeAttribute(null=True)
    allowed_origins = ListAttribute(of=UnicodeAttribute, null=True)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute(null=True)
    last_used_at = UnicodeAttribute(null=True)
    revoked_at = UnicodeAttribute(null=True)
    publishable_key = UnicodeAttribute(null=True)  # the full value, publishable keys only
