"""Identity REST API: tenant bootstrap, secret keys, publishable keys."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import Field

from agenthub.clients import secret_json
from agenthub.errors import Unauthorized
from agenthub.events import Actor, DomainEvent, publisher
from agenthub.http import MANAGERS, caller, json_response, make_resolver, resolve
from agenthub.runtime import init_function
from agenthub.settings import ApiSettings
from identity.logic import key_format, service
from identity.models import PublishableKeyCreate, SecretKeyCreate, TenantCreate


class IdentitySettings(ApiSettings):
    admin_secret_arn: str = Field(min_length=1)


app = make_resolver()
KeyId = Annotated[str, Path(min_length=1, max_length=64)]


def _settings() -> IdentitySettings:
    return init_function(IdentitySettings)


def _publish(events: list[DomainEvent]) -> None:
    publisher(_settings().event_bus_name).publish(events)


def _actor() -> tuple[str, Actor]:
    who = caller(app, MANAGERS)
    return who.tenant_id, Actor(kind="api_key", key_id=who.key_id, role=who.role)


@app.post("/v1/tenants", summary="Create a tenant (platform admin)", tags=["identity"])
def create_tenant(body: TenantCreate):
    presented = key_format.bearer_token(app.current_event.headers.get("authorization")) or ""
    expected = str(secret_json(_settings().admin_secret_arn).get("token", ""))
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise Unauthorized("platform admin token required")
    tenant, key = service.create_tenant(body, _publish)
    return json_response(app, {"tenant": tenant.model_dump(), "key": key.model_dump()}, status=201)


@app.get("/v1/tenant", summary="The caller's tenant", tags=["identity"])
def get_tenant():
    who = caller(app)
    return json_response(app, service.get_tenant(who.tenant_id).model_dump(), conditional=True)


@app.post("/v1/keys", summary="Create a secret key (shown once)", tags=["identity"])
def create_key(body: SecretKeyCreate):
    tenant_id, actor = _actor()
    created = service.create_secret_key(tenant_id, body, actor, _publish)
    return json_response(app, created.model_dump(), status=201)


@app.get("/v1/keys", summary="List secret keys (masked)", tags=["identity"])
def list_keys():
    tenant_id, _ = _actor()
    return json_response(app, _listing(service.list_keys(tenant_id, "secret")))


@app.delete("/v1/keys/<keyId>", summary="Revoke a secret key", tags=["identity"])
def revoke_key(keyId: KeyId):
    tenant_id, actor = _actor()
    revoked = service.revoke_key(tenant_id, keyId, "secret", actor, _publish)
    return json_response(app, revoked.model_dump())


@app.post("/v1/publishable-keys", summary="Create a widget key", tags=["identity"])
def create_publishable_key(body: PublishableKeyCreate):
    tenant_id, actor = _actor()
    created = service.create_publishable_key(tenant_id, body, actor, _publish)
    return json_response(app, created.model_dump(), status=201)


@app.get("/v1/publishable-keys", summary="List widget keys", tags=["identity"])
def list_publishable_keys():
    tenant_id, _ = _actor()
    return json_response(app, _listing(service.list_keys(tenant_id, "publishable")))


@app.delete("/v1/publishable-keys/<keyId>", summary="Revoke a widget key", tags=["identity"])
def revoke_publishable_key(keyId: KeyId):
    tenant_id, actor = _actor()
    revoked = service.revoke_key(tenant_id, keyId, "publishable", actor, _publish)
    return json_response(app, revoked.model_dump())


def _listing(items: list[Any]) -> dict[str, Any]:
    return {"items": [item.model_dump() for item in items], "next_cursor": None}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return resolve(app, event, context, max_body_bytes=_settings().max_body_bytes)
