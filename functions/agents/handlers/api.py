"""Agents REST API, and the widget's public config."""

from __future__ import annotations

import hashlib
import re
from functools import partial
from typing import Any

from agenthub.errors import BadRequest
from agenthub.events import Actor
from agenthub.http import (
    ALL_ROLES,
    MANAGERS,
    WRITERS,
    Caller,
    answers,
    api_handler,
    endpoint,
    json_response,
    make_resolver,
    no_content,
    paginated,
    public_cors,
    publishable_caller,
    select_fields,
)
from agents.logic import service
from agents.models import AGENT_FIELDS, Agent, AgentCreate, AgentUpdate, PublicConfig

app = make_resolver()

# The CDN (CloudFront) may keep the public config 15 minutes, browsers 5; Vary: Origin because
# the CORS answer names the caller's origin.
PUBLIC_CACHE_CONTROL = "public, max-age=300, s-maxage=900"
_IF_MATCH = re.compile(r'^(?:W/)?"v(\d+)"$')


def _etag(agent: Agent, fields: str | None) -> str:
    suffix = "-" + hashlib.sha256(fields.encode()).hexdigest()[:8] if fields else ""
    return f'"v{agent.version}{suffix}"'


def _view(agent: Agent) -> dict[str, Any]:
    return agent.model_dump(mode="json", exclude={"tenant_id"})


def _use_cache() -> bool:
    # A client that must read its own writes from any environment says so.
    return "no-cache" not in (app.current_event.headers.get("cache-control") or "")


@app.post("/v1/agents", summary="Create an agent", tags=["agents"])
@answers(Agent, status=201, exclude={"tenant_id"})
@endpoint(app, roles=WRITERS, body=AgentCreate)
def create_agent(who: Caller, body: AgentCreate):
    agent = service.create_agent(who.tenant_id, body, Actor(**who.actor))
    return json_response(app, _view(agent), status=201, headers={"ETag": _etag(agent, None)})


@app.get("/v1/agents", summary="List agents (cursor pagination)", tags=["agents"])
@answers(Agent, page=True, partial=True, exclude={"tenant_id"})
@endpoint(app, roles=ALL_ROLES)
def list_agents(who: Caller):
    load = partial(service.list_agents, who.tenant_id)
    return paginated(app, who, load, view=_view, fields=AGENT_FIELDS)


@app.get("/v1/agents/<agentId>", summary="Get an agent", tags=["agents"])
@answers(Agent, partial=True, exclude={"tenant_id"})
@endpoint(app, roles=ALL_ROLES)
def get_agent(who: Caller, agentId: str):
    agent = service.get_agent(who.tenant_id, agentId, use_cache=_use_cache())
    fields = app.current_event.get_query_string_value("fields")
    data = select_fields(app, _view(agent), AGENT_FIELDS)
    return json_response(app, data, conditional=True, etag=_etag(agent, fields))


@app.patch("/v1/agents/<agentId>", summary="Update an agent (If-Match)", tags=["agents"])
@answers(Agent, exclude={"tenant_id"})
@endpoint(app, roles=WRITERS, body=AgentUpdate)
def update_agent(who: Caller, body: AgentUpdate, agentId: str):
    agent = service.update_agent(
        who.tenant_id,
        agentId,
        body,
        if_match_version=_if_match_version(),
        actor=Actor(**who.actor),
    )
    return json_response(app, _view(agent), headers={"ETag": _etag(agent, None)})


@app.delete("/v1/agents/<agentId>", summary="Delete an agent", tags=["agents"])
@answers(status=204)
@endpoint(app, roles=MANAGERS)
def delete_agent(who: Caller, agentId: str):
    service.delete_agent(who.tenant_id, agentId, Actor(**who.actor))
    return no_content()


@app.get(
    "/v1/public/agents/<agentId>/config",
    summary="Public widget config (publishable key, allowed Origin)",
    tags=["widget"],
)
@answers(PublicConfig)
def get_public_config(agentId: str):
    who = publishable_caller(app, agentId)
    agent = service.get_agent(who.tenant_id, agentId)
    headers = {"Cache-Control": PUBLIC_CACHE_CONTROL, **public_cors(app)}
    return json_response(app, agent.public_config(), headers=headers, conditional=True)


def _if_match_version() -> int | None:
    raw = app.current_event.headers.get("if-match")
    if raw is None:
        return None
    match = _IF_MATCH.match(raw.strip())
    if not match:
        raise BadRequest('If-Match must be an ETag of this API, like "v3"')
    return int(match.group(1))


handler = api_handler(app)
