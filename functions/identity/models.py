"""Identity's API and domain models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from agenthub.events import DomainEvent, EventData
from agenthub.models import StrictInput
from agenthub.origins import normalize_origin
from agenthub.roles import Role

KeyType = Literal["secret", "publishable"]

MAX_ORIGINS = 20


class TenantCreate(StrictInput):
    name: str = Field(min_length=1, max_length=100)


class Tenant(BaseModel):
    id: str
    name: str
    plan: str = "free"
    created_at: str


class SecretKeyCreate(StrictInput):
    name: str = Field(min_length=1, max_length=80)
    role: Role


class PublishableKeyCreate(StrictInput):
    name: str = Field(default="widget", min_length=1, max_length=80)
    agent_id: str = Field(min_length=1, max_length=64)
    # Omitted: the agent's own allowed origins.
    allowed_origins: list[str] | None = Field(default=None, min_length=1, max_length=MAX_ORIGINS)

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str] | None) -> list[str] | None:
        return sorted({normalize_origin(origin) for origin in value}) if value else value


class ApiKey(BaseModel):
    """A key as listed: never the secret, only its last four characters."""

    id: str
    type: KeyType
    name: str
    role: Role | None = None
    agent_id: str | None = None
    allowed_origins: list[str] = Field(default_factory=list)
    last4: str
    created_at: str
    last_used_at: str | None = None
    revoked_at: str | None = None
    created_by: str | None = None
    # Publishable keys only: they are public by nature (every page with the widget shows
    # them), so the full value is kept and listed, for embed codes. Secret keys never are.
    key: str | None = None


class KeyRecord(ApiKey):
    """What the authorizer needs: the stored hash and the tenant."""

    tenant_id: str
    key_hash: str


class CreatedKey(ApiKey):
    """Returned once at creation: the only time the full key is shown."""

    secret: str


class NewTenant(BaseModel):
    """A new tenant and its first (owner) secret key, shown once."""

    tenant: Tenant
    key: CreatedKey


class AuthContext(BaseModel):
    """The authorizer's verdict, passed to handlers as API Gateway authorizer context."""

    tenant_id: str
    key_id: str
    key_type: KeyType
    role: Role | None = None
    agent_id: str | None = None
    allowed_origins: list[str] = Field(default_factory=list)


# ---- domain events (contracts on the bus; versioned by schema_version) ----


class IdentityEvent(DomainEvent):
    source = "agenthub.identity"


class TenantCreatedData(EventData):
    name: str


class ApiKeyCreatedData(EventData):
    type: KeyType
    name: str
    role: Role | None = None  # secret keys
    agent_id: str | None = None  # publishable keys
    allowed_origins: list[str] = Field(default_factory=list)  # publishable keys


class ApiKeyRevokedData(EventData):
    type: KeyType


class TenantCreated(IdentityEvent):
    detail_type = "TenantCreated"
    data: TenantCreatedData


class ApiKeyCreated(IdentityEvent):
    detail_type = "ApiKeyCreated"
    data: ApiKeyCreatedData


class ApiKeyRevoked(IdentityEvent):
    detail_type = "ApiKeyRevoked"
    data: ApiKeyRevokedData
