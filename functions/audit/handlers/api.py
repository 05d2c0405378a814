"""Audit log REST API: newest first, owners and admins only."""

from __future__ import annotations

from functools import partial
from typing import Any

from agenthub.http import (
    MANAGERS,
    Caller,
    answers,
    api_handler,
    endpoint,
    make_resolver,
    paginated,
)
from audit.logic import service
from audit.models import AuditEntry

app = make_resolver()


@app.get("/v1/audit-log", summary="The tenant's audit log, newest first", tags=["audit"])
@answers(AuditEntry, page=True, exclude={"tenant_id"})
@endpoint(app, roles=MANAGERS)
def list_audit_log(who: Caller):
    load = partial(service.list_entries, who.tenant_id)
    return paginated(app, who, load, view=_view, limit=50, max_limit=200)


def _view(entry: AuditEntry) -> dict[str, Any]:
    return entry.model_dump(exclude={"tenant_id"})


handler = api_handler(app)
