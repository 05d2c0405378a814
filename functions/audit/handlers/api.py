"""Audit log REST API: newest first, owners and admins only."""

from __future__ import annotations

from typing import Any

from agenthub.http import (
    MANAGERS,
    Caller,
    endpoint,
    json_response,
    make_resolver,
    query_int,
    resolve,
)
from agenthub.keys import audit_pk
from agenthub.pagination import CursorCodec, codec_from_secret
from agenthub.runtime import init_function
from agenthub.settings import ApiSettings
from audit.logic import service

app = make_resolver()


def _settings() -> ApiSettings:
    return init_function(ApiSettings)


def _cursors() -> CursorCodec:
    return codec_from_secret(_settings().signing_secret_arn)


@app.get("/v1/audit-log", summary="The tenant's audit log, newest first", tags=["audit"])
@endpoint(app, roles=MANAGERS)
def list_audit_log(who: Caller):
    limit = query_int(app, "limit", 50, low=1, high=200)
    scope = f"audit:{audit_pk(who.tenant_id)}"
    cursor = app.current_event.get_query_string_value("cursor")
    start = _cursors().decode(cursor, scope=scope, tenant_id=who.tenant_id) if cursor else None
    entries, last_key = service.list_entries(who.tenant_id, limit, start)
    next_cursor = _cursors().encode(last_key, scope=scope) if last_key else None
    items = [entry.model_dump(exclude={"tenant_id"}) for entry in entries]
    return json_response(app, {"items": items, "next_cursor": next_cursor})


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return resolve(app, event, context, max_body_bytes=lambda: _settings().max_body_bytes)
