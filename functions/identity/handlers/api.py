"""Identity REST API: tenant bootstrap, secret keys, publishable keys."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from agenthub.events import Actor
from agenthub.http import (
    ALL_ROLES,
    MANAGERS,
    Caller,
    accepts,
    answers,
    api_handler,
    endpoint,
    json_response,
    make_resolver,
    parse_body,
)
from agenthub.settings import ApiSettings, load_settings
from identity.logic import service
from identity.models import (
    ApiKey,
    CreatedKey,
    NewTenant,
    PublishableKeyCreate,
    SecretKeyCreate,
    Tenant,
    TenantCreate,
)


class IdentitySettings(ApiSettings):
    admin_secret_arn: str = Field(min_length=1)


app = make_resolver()


def _settings() -> IdentitySettings:
    return load_settings(IdentitySettings)


def _actor(who: Caller) -> Actor:
    return Actor(kind="api_key", key_id=who.key_id, role=who.role)


@app.post("/v1/tenants", summary="Create a tenant (platform admin)", tags=["identity"])
@answers(NewTenant, status=201)
@accepts(TenantCreate)
def create_tenant():
    authorization = app.current_event.headers.get("authorization")
    service.check_platform_admin(authorization, _settings().admin_secret_arn)
    body = parse_body(app, TenantCreate)
    tenant, key = service.create_tenant(body)
    return json_response(app, {"tenant": tenant.model_dump(), "key": _key_view(key)}, status=201)


@app.get("/v1/tenant", summary="The caller's tenant", tags=["identity"])
@answers(Tenant)
@endpoint(app, roles=ALL_ROLES)
def get_tenant(who: Caller):
    return json_response(app, service.get_tenant(who.tenant_id).model_dump(), conditional=True)


@app.post("/v1/keys", summary="Create a secret key (shown once)", tags=["identity"])
@answers(CreatedKey, status=201)
@endpoint(app, roles=MANAGERS, body=SecretKeyCreate)
def create_key(who: Caller, body: SecretKeyCreate):
    created = service.create_secret_key(who.tenant_id, body, _actor(who))
    return json_response(app, _key_view(created), status=201)


@app.get("/v1/keys", summary="List secret keys (masked)", tags=["identity"])
@answers(ApiKey, page=True)
@endpoint(app, roles=MANAGERS)
def list_keys(who: Caller):
    return json_response(app, _listing(service.list_keys(who.tenant_id, "secret")))


@app.delete("/v1/keys/<keyId>", summary="Revoke a secret key", tags=["identity"])
@answers(ApiKey)
@endpoint(app, roles=MANAGERS)
def revoke_key(who: Caller, keyId: str):
    revoked = service.revoke_key(who.tenant_id, keyId, "secret", _actor(who))
    return json_response(app, _key_view(revoked))


@app.post("/v1/publishable-keys", summary="Create a widget key", tags=["identity"])
@answers(CreatedKey, status=201)
@endpoint(app, roles=MANAGERS, body=PublishableKeyCreate)
def create_publishable_key(who: Caller, body: PublishableKeyCreate):
    created = service.create_publishable_key(who.tenant_id, body, _actor(who))
    return json_response(app, _key_view(created), status=201)


@app.get("/v1/publishable-keys", summary="List widget keys", tags=["identity"])
@answers(ApiKey, page=True)
@endpoint(app, roles=MANAGERS)
def list_publishable_keys(who: Caller):
    return json_response(app, _listing(service.list_keys(who.tenant_id, "publishable")))


@app.delete("/v1/publishable-keys/<keyId>", summary="Revoke a widget key", tags=["identity"])
@answers(ApiKey)
@endpoint(app, roles=MANAGERS)
def revoke_publishable_key(who: Caller, keyId: str):
    revoked = service.revoke_key(who.tenant_id, keyId, "publishable", _actor(who))
    return json_response(app, _key_view(revoked))


def _listing(items: list[Any]) -> dict[str, Any]:
    return {"items": [_key_view(item) for item in items], "next_cursor": None}


def _key_view(key: ApiKey) -> dict[str, Any]:
    """A key as the API shows it: a secret key never has a ``key`` field at all."""
    return key.model_dump(exclude={"key"} if key.type == "secret" else None)


handler = api_handler(app, IdentitySettings)
