"""Agents through their API handler: CRUD, validation, optimistic concurrency, conditional
reads, field selection, pagination, the widget's public config, the L1 cache and events."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from tests.integration import harness as h
from tests.integration.harness import AGENTS, AUDIT, api

NewTenant = Callable[..., h.Tenant]
AGENT_FIELDS = {
    "id",
    "name",
    "description",
    "instructions",
    "model",
    "temperature",
    "greeting",
    "suggested_questions",
    "theme",
    "allowed_origins",
    "enabled_tools",
    "locale",
    "handoff",
    "version",
    "created_at",
    "updated_at",
}
PUBLIC_FIELDS = {
    "agent_id",
    "name",
    "greeting",
    "suggested_questions",
    "theme",
    "tools",
    "locale",
    "version",
}
FULL = {
    "name": "Front desk",
    "description": "Opening hours and bookings",
    "instructions": "Be brief.",
    "model": "amazon.nova-lite-v1:0",
    "temperature": 0.4,
    "greeting": "Hi!",
    "suggested_questions": ["When are you open?"],
    "theme": {
        "primary_color": "#0EA5E9",
        "position": "bottom-left",
        "title": "Acme",
        "avatar_url": "https://cdn.acme.example/bot.png",
        "mode": "dark",
    },
    "allowed_origins": ["https://www.acme.example/"],
    "enabled_tools": ["knowledge", "booking", "lead_capture", "booking"],
    "locale": "pt",
    "handoff": {"timeout_seconds": 300, "email": "Support@ACME.example"},
}


@pytest.fixture
def acme(tenant: NewTenant) -> h.Tenant:
    return tenant("Acme")


def _path(agent: dict) -> str:
    return f"/v1/agents/{agent['id']}"


# ---------------------------------------------------------------------------- CRUD


def test_create_read_update_delete(acme: h.Tenant, published):
    # When an agent is created with every field
    created = api(AGENTS, "POST", "/v1/agents", FULL, caller=acme.owner)

    # Then it comes back whole, normalised, at version 1 with an ETag
    assert created.status == 201, created
    agent = created.json
    assert set(agent) == AGENT_FIELDS and agent["id"].startswith("ag_")
    assert agent["version"] == 1 and created.headers["ETag"] == '"v1"'
    assert agent["allowed_origins"] == ["https://www.acme.example"]
    assert agent["enabled_tools"] == ["booking", "knowledge", "lead_capture"]
    assert agent["theme"]["avatar_url"] == "https://cdn.acme.example/bot.png"
    assert agent["theme"]["mode"] == "dark" and agent["locale"] == "pt"
    assert agent["handoff"] == {"timeout_seconds": 300, "email": "Support@acme.example"}
    assert agent["created_at"] == agent["updated_at"]

    # And reading it (cold cache) gives the same thing
    from agents.logic.service import agent_cache

    agent_cache().clear()
    got = api(AGENTS, "GET", _path(agent), caller=acme.owner)
    assert got.status == 200 and got.json == agent and got.headers["ETag"] == '"v1"'

    # When it is updated
    updated = api(
        AGENTS,
        "PATCH",
        _path(agent),
        {"greeting": "Hello!", "temperature": 0},
        caller=acme.owner,
        headers={"If-Match": '"v1"'},
    )
    assert updated.status == 200, updated
    assert updated.json["greeting"] == "Hello!" and updated.json["temperature"] == 0
    assert updated.json["version"] == 2 and updated.headers["ETag"] == '"v2"'
    assert updated.json["updated_at"] > agent["updated_at"]
    assert {
        k: v
        for k, v in updated.json.items()
        if k not in ("greeting", "temperature", "version", "updated_at")
    } == {
        k: v
        for k, v in agent.items()
        if k not in ("greeting", "temperature", "version", "updated_at")
    }

    # When it is deleted, then it is gone for every verb
    assert api(AGENTS, "DELETE", _path(agent), caller=acme.owner).status == 204
    assert api(AGENTS, "GET", _path(agent), caller=acme.owner).status == 404
    agent_cache().clear()
    assert api(AGENTS, "GET", _path(agent), caller=acme.owner).status == 404
    again = api(AGENTS, "DELETE", _path(agent), caller=acme.owner)
    patch = api(AGENTS, "PATCH", _path(agent), {"name": "x", "version": 2}, caller=acme.owner)
    assert (again.status, patch.status) == (404, 404)
    assert api(AGENTS, "GET", "/v1/agents", caller=acme.owner).json["items"] == []

    # And each change is on the bus, with the tenant and who did it
    events = published.of(acme.id)
    kinds = [e["detail-type"] for e in events if e["source"] == "agenthub.agents"]
    assert kinds == ["AgentCreated", "AgentUpdated", "AgentDeleted"]
    for event in events:
        if event["source"] != "agenthub.agents":
            continue
        detail = event["detail"]
        assert detail["tenant_id"] == acme.id
        assert detail["subject"] == f"agent/{agent['id']}"
        assert detail["actor"] == {"kind": "api_key", "key_id": acme.owner.key_id, "role": "owner"}
        assert detail["schema_version"] == 1 and detail["type"] == event["detail-type"]
    created_event, updated_event, _ = (e for e in events if e["source"] == "agenthub.agents")
    assert created_event["detail"]["data"] == {"name": "Front desk", "version": 1}
    assert updated_event["detail"]["data"] == {"changed": ["greeting", "temperature"], "version": 2}


def test_defaults_of_a_minimal_agent(acme: h.Tenant):
    agent = acme.agent()
    assert agent["model"] == "extractive"
    assert agent["enabled_tools"] == ["knowledge"]
    assert agent["theme"]["primary_color"].startswith("#")
    assert 0 <= agent["temperature"] <= 1


def test_a_member_creates_and_the_actor_is_the_member(acme: h.Tenant, published):
    member = acme.key("member")
    agent = acme.agent(by=member)
    [event] = published.of(acme.id, "AgentCreated")
    assert event["detail"]["subject"] == f"agent/{agent['id']}"
    assert event["detail"]["actor"] == {
        "kind": "api_key",
        "key_id": member.key_id,
        "role": "member",
    }


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 81}, "name"),
        ({"name": 42}, "name"),
        ({"name": None}, "name"),
        ({"description": "d" * 501}, "description"),
        ({"instructions": "i" * 8001}, "instructions"),
        ({"greeting": "g" * 501}, "greeting"),
        ({"temperature": -0.01}, "temperature"),
        ({"temperature": 1.01}, "temperature"),
        ({"temperature": "warm"}, "temperature"),
        ({"model": "gpt-4o"}, "model"),
        ({"model": "anthropic.claude-v2"}, "model"),
        ({"allowed_origins": ["acme.example"]}, "allowed_origins"),
        ({"allowed_origins": ["https://acme.example/path"]}, "allowed_origins"),
        ({"allowed_origins": ["http://*.acme.example"]}, "allowed_origins"),
        ({"allowed_origins": "https://acme.example"}, "allowed_origins"),
        ({"allowed_origins": [f"https://s{n}.acme.example" for n in range(21)]}, "allowed_origins"),
        ({"suggested_questions": [f"q{n}?" for n in range(7)]}, "suggested_questions"),
        ({"suggested_questions": ["q" * 151]}, "suggested_questions"),
        ({"suggested_questions": ["  "]}, "suggested_questions"),
        ({"suggested_questions": "what?"}, "suggested_questions"),
        ({"enabled_tools": ["email"]}, "enabled_tools"),
        ({"theme": {"primary_color": "blue"}}, "theme"),
        ({"theme": {"primary_color": "#12345"}}, "theme"),
        ({"theme": {"primary_color": "#1234567"}}, "theme"),
        ({"theme": {"primary_color": "#12345g"}}, "theme"),
        ({"theme": {"position": "top-center"}}, "theme"),
        ({"theme": {"title": "t" * 61}}, "theme"),
        ({"theme": {"avatar_url": "http://cdn.acme.example/a.png"}}, "theme"),
        ({"theme": {"avatar_url": "javascript:alert(1)"}}, "theme"),
        ({"theme": {"avatar_url": "not a url"}}, "theme"),
        ({"theme": {"font": "Comic Sans"}}, "theme"),
        ({"theme": "dark"}, "theme"),
        ({"theme": {"mode": "sepia"}}, "theme"),
        ({"locale": "xx"}, "locale"),
        ({"locale": "EN"}, "locale"),
        ({"handoff": {"timeout_seconds": 29}}, "handoff"),
        ({"handoff": {"timeout_seconds": 901}}, "handoff"),
        ({"handoff": {"timeout_seconds": "soon"}}, "handoff"),
        ({"handoff": {"email": "team@acme"}}, "handoff"),
        ({"handoff": {"email": "a" * 250 + "@acme.example"}}, "handoff"),
        ({"handoff": {"sms": "+351900000000"}}, "handoff"),
        ({"colour": "red"}, "colour"),
        ({"id": "ag_mine"}, "id"),
        ({"tenant_id": "0" * 16}, "tenant_id"),
        ({"version": 7}, "version"),
    ],
)
def test_create_validation(acme: h.Tenant, change, where):
    body = {"name": "Front desk", **change}
    response = api(AGENTS, "POST", "/v1/agents", body, caller=acme.owner)
    assert (response.status, response.error_code) == (422, "validation_failed"), response
    locations = [d["loc"] for d in response.json["error"]["details"]]
    assert any(where in loc for loc in locations), locations
    # The invalid input is not echoed back
    if isinstance(change.get(where), str) and len(change[where]) > 20:
        assert change[where] not in response.body


def test_limits_are_inclusive(acme: h.Tenant):
    body = {
        "name": "n" * 80,
        "description": "d" * 500,
        "instructions": "i" * 8000,
        "greeting": "g" * 500,
        "temperature": 1,
        "suggested_questions": ["q" * 150] * 6,
        "allowed_origins": [f"https://s{n}.acme.example" for n in range(20)],
        "theme": {"title": "t" * 60, "primary_color": "#abcdef"},
    }
    response = api(AGENTS, "POST", "/v1/agents", body, caller=acme.owner)
    assert response.status == 201, response
    assert len(response.json["instructions"]) == 8000


def test_strings_are_trimmed(acme: h.Tenant):
    agent = acme.agent(name="  Front desk  ", suggested_questions=["  Open?  "])
    assert agent["name"] == "Front desk"
    assert agent["suggested_questions"] == ["Open?"]


# ---------------------------------------------------------------------------- PATCH


def _patch(acme: h.Tenant, agent: dict, body: dict, if_match: str | None = None) -> h.HttpResponse:
    headers = {"If-Match": if_match} if if_match is not None else None
    return api(AGENTS, "PATCH", _path(agent), body, caller=acme.owner, headers=headers)


def test_patch_needs_a_version(acme: h.Tenant):
    agent = acme.agent()
    response = _patch(acme, agent, {"greeting": "Hello"})
    assert (response.status, response.error_code) == (428, "precondition_required")
    # And nothing changed
    assert api(AGENTS, "GET", _path(agent), caller=acme.owner).json["version"] == 1


def test_patch_with_the_version_in_the_body_or_if_match(acme: h.Tenant):
    agent = acme.agent()

    by_body = _patch(acme, agent, {"greeting": "One", "version": 1})
    by_header = _patch(acme, agent, {"greeting": "Two"}, if_match='"v2"')
    weak = _patch(acme, agent, {"greeting": "Three"}, if_match='W/"v3"')

    assert [r.status for r in (by_body, by_header, weak)] == [200, 200, 200]
    assert [r.json["version"] for r in (by_body, by_header, weak)] == [2, 3, 4]
    assert weak.headers["ETag"] == '"v4"'


def test_a_stale_version_is_a_conflict_naming_the_current_one(acme: h.Tenant, published):
    agent = acme.agent()
    assert _patch(acme, agent, {"greeting": "Mine"}, if_match='"v1"').status == 200

    # When someone still holding version 1 updates
    stale = _patch(acme, agent, {"greeting": "Theirs"}, if_match='"v1"')

    # Then it is refused, with what they need to recover
    assert (stale.status, stale.error_code) == (409, "version_conflict"), stale
    assert stale.json["error"]["details"] == {"current_version": 2, "expected_version": 1}
    got = api(AGENTS, "GET", _path(agent), caller=acme.owner, headers={"Cache-Control": "no-cache"})
    assert got.json["greeting"] == "Mine" and got.json["version"] == 2
    # And only the successful update was published
    assert len(published.of(acme.id, "AgentUpdated")) == 1


def test_the_body_version_wins_over_if_match(acme: h.Tenant):
    agent = acme.agent()
    response = _patch(acme, agent, {"greeting": "x", "version": 1}, if_match='"v9"')
    assert response.status == 200


@pytest.mark.parametrize("if_match", ["v1", '"1"', "*", '"v1-abcdef12"', '"v"'])
def test_an_if_match_that_is_not_our_etag_is_a_bad_request(acme: h.Tenant, if_match):
    agent = acme.agent()
    response = _patch(acme, agent, {"greeting": "x"}, if_match=if_match)
    assert (response.status, response.error_code) == (400, "bad_request"), response


@pytest.mark.parametrize(
    "body",
    [{}, {"version": 1}, {"name": None}, {"greeting": "x", "theme": None}],
    ids=["empty", "only-version", "null-name", "null-theme"],
)
def test_patch_needs_something_non_null_to_change(acme: h.Tenant, body):
    agent = acme.agent()
    response = _patch(acme, agent, body, if_match='"v1"')
    assert (response.status, response.error_code) == (422, "validation_failed"), response


@pytest.mark.parametrize(
    "body",
    [{"name": "n" * 81}, {"temperature": 2}, {"colour": "red"}, {"version": 0}, {"version": 1.5}],
)
def test_patch_validates_like_create(acme: h.Tenant, body):
    agent = acme.agent()
    response = _patch(acme, agent, {"greeting": "x", **body}, if_match='"v1"')
    assert response.status == 422, response


def test_an_agent_starts_with_english_an_automatic_theme_and_a_two_minute_handoff(
    acme: h.Tenant,
):
    agent = acme.agent()
    assert agent["locale"] == "en"
    assert agent["theme"]["mode"] == "auto"
    assert agent["handoff"] == {"timeout_seconds": 120, "email": None}


def test_patching_the_handoff_timeout_keeps_its_email(acme: h.Tenant):
    # Given an agent whose handoff transcripts go to the team's inbox
    agent = acme.agent(handoff={"email": "team@acme.example"})
    # When only the timeout changes
    response = _patch(acme, agent, {"handoff": {"timeout_seconds": 60}}, if_match='"v1"')
    # Then the inbox is kept, and the public config shows neither
    assert response.status == 200, response
    assert response.json["handoff"] == {"timeout_seconds": 60, "email": "team@acme.example"}


def test_patching_one_theme_field_keeps_the_others(acme: h.Tenant):
    # Given an agent with a full theme
    agent = acme.agent(theme={"primary_color": "#112233", "position": "bottom-left", "title": "A"})

    # When only the title is changed
    response = _patch(acme, agent, {"theme": {"title": "B"}}, if_match='"v1"')

    # Then the colour and position are still there (or at least valid defaults): the widget
    # reads theme.primary_color and theme.position on every page load
    assert response.status == 200
    theme = response.json["theme"]
    assert theme["title"] == "B"
    assert theme.get("primary_color") == "#112233"
    assert theme.get("position") == "bottom-left"


# ---------------------------------------------------------------------------- conditional reads


def test_if_none_match_answers_304_until_the_agent_changes(acme: h.Tenant):
    agent = acme.agent()
    first = api(AGENTS, "GET", _path(agent), caller=acme.owner)
    etag = first.headers["ETag"]

    for header in (etag, f"W/{etag}", f'"other", {etag}'):
        same = api(
            AGENTS, "GET", _path(agent), caller=acme.owner, headers={"If-None-Match": header}
        )
        assert same.status == 304, header
        assert same.body == "" and same.headers["ETag"] == etag
    assert (
        api(
            AGENTS, "GET", _path(agent), caller=acme.owner, headers={"If-None-Match": '"v9"'}
        ).status
        == 200
    )

    # When it changes, the old ETag no longer matches
    _patch(acme, agent, {"greeting": "New"}, if_match=etag)
    after = api(AGENTS, "GET", _path(agent), caller=acme.owner, headers={"If-None-Match": etag})
    assert after.status == 200 and after.json["greeting"] == "New"


def test_fields_selects_top_level_fields_with_its_own_etag(acme: h.Tenant):
    agent = acme.agent()
    full = api(AGENTS, "GET", _path(agent), caller=acme.owner)

    some = api(AGENTS, "GET", _path(agent), caller=acme.owner, query={"fields": "name,version"})

    assert some.status == 200
    assert some.json == {"name": "Front desk", "version": 1}
    assert some.headers["ETag"] != full.headers["ETag"]
    cached = api(
        AGENTS,
        "GET",
        _path(agent),
        caller=acme.owner,
        query={"fields": "name,version"},
        headers={"If-None-Match": some.headers["ETag"]},
    )
    assert cached.status == 304
    # a partial representation's ETag must not validate the full one
    full_with_partial_tag = api(
        AGENTS,
        "GET",
        _path(agent),
        caller=acme.owner,
        headers={"If-None-Match": some.headers["ETag"]},
    )
    assert full_with_partial_tag.status == 200


@pytest.mark.parametrize(
    "fields",
    [
        "name,secret_sauce",
        "tenant_id",
        "name,,NAME",
    ],
)
def test_unknown_fields_are_a_bad_request_naming_them(acme: h.Tenant, fields):
    agent = acme.agent()
    response = api(AGENTS, "GET", _path(agent), caller=acme.owner, query={"fields": fields})
    assert (response.status, response.error_code) == (400, "bad_request")
    assert response.json["error"]["details"]["unknown"]


def test_fields_on_the_list(acme: h.Tenant):
    acme.agent(name="One")
    response = api(AGENTS, "GET", "/v1/agents", caller=acme.owner, query={"fields": "id,name"})
    assert response.status == 200
    assert [set(item) for item in response.json["items"]] == [{"id", "name"}]
    bad = api(AGENTS, "GET", "/v1/agents", caller=acme.owner, query={"fields": "id,nope"})
    assert bad.status == 400


# ---------------------------------------------------------------------------- pagination


def _all_pages(caller: h.Principal, limit: int) -> tuple[list[str], int]:
    ids: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        response = api(AGENTS, "GET", "/v1/agents", caller=caller, query=query)
        assert response.status == 200, response
        pages += 1
        assert len(response.json["items"]) <= limit
        ids += [item["id"] for item in response.json["items"]]
        cursor = response.json["next_cursor"]
        if not cursor:
            return ids, pages
        assert pages < 20, "pagination does not end"


def test_list_pages_through_every_agent_once(acme: h.Tenant):
    created = {acme.agent(name=f"Agent {n}")["id"] for n in range(5)}

    ids, pages = _all_pages(acme.owner, limit=2)

    assert sorted(ids) == sorted(created) and len(ids) == len(set(ids))
    assert pages == 3
    one_page, _ = _all_pages(acme.owner, limit=100)
    assert one_page == ids  # a stable order


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "1.5", ""])
def test_a_bad_limit_is_a_bad_request(acme: h.Tenant, limit):
    response = api(AGENTS, "GET", "/v1/agents", caller=acme.owner, query={"limit": limit})
    assert (response.status, response.error_code) == (400, "bad_request"), response


def _cursor(caller: h.Principal) -> str:
    response = api(AGENTS, "GET", "/v1/agents", caller=caller, query={"limit": "1"})
    cursor = response.json["next_cursor"]
    assert cursor
    return str(cursor)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_forged_or_tampered_cursors_are_refused(acme: h.Tenant, tenant: NewTenant):
    for n in range(3):
        acme.agent(name=f"A{n}")
    cursor = _cursor(acme.owner)
    body, signature = cursor.split(".", 1)
    payload = json.loads(_unb64(body))
    other = tenant("Other")
    payload_other = {**payload, "k": {"pk": {"S": f"TENANT#{other.id}"}, "sk": {"S": "AGENT#"}}}
    forged = [
        "garbage",
        "",
        body,  # no signature
        f"{body}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{_b64(json.dumps(payload_other).encode())}.{signature}",
        f"{_b64(b'not json')}.{signature}",
        cursor + "x",
        "." + signature,
    ]
    for bad in forged:
        response = api(AGENTS, "GET", "/v1/agents", caller=acme.owner, query={"cursor": bad})
        if bad == "":
            assert response.status == 200
            continue
        assert (response.status, response.error_code) == (400, "bad_request"), bad


def test_another_tenants_cursor_is_refused_and_shows_nothing(tenant: NewTenant):
    acme, globex = tenant("Acme"), tenant("Globex")
    acme_ids = [acme.agent(name=f"Secret {n}")["id"] for n in range(3)]
    globex.agent(name="Globex agent")
    cursor = _cursor(acme.owner)

    response = api(AGENTS, "GET", "/v1/agents", caller=globex.owner, query={"cursor": cursor})

    assert (response.status, response.error_code) == (400, "bad_request")
    assert not any(agent_id in response.body for agent_id in acme_ids)


def test_a_cursor_only_works_for_the_list_that_issued_it(acme: h.Tenant):
    acme.agent(name="A")
    acme.agent(name="B")
    agents_cursor = _cursor(acme.owner)

    on_audit = api(
        AUDIT, "GET", "/v1/audit-log", caller=acme.owner, query={"cursor": agents_cursor}
    )

    assert (on_audit.status, on_audit.error_code) == (400, "bad_request")


# ---------------------------------------------------------------------------- public config


@pytest.fixture
def widget(acme: h.Tenant) -> tuple[dict, h.Principal]:
    agent = acme.agent(**FULL)
    return agent, acme.widget_key(agent["id"], [h.ALLOWED_ORIGIN, "https://*.acme.example"])


def _public(agent: dict) -> str:
    return f"/v1/public/agents/{agent['id']}/config"


def test_public_config_from_an_allowed_origin(widget):
    agent, key = widget

    response = api(AGENTS, "GET", _public(agent), caller=key, headers={"Origin": h.ALLOWED_ORIGIN})

    # Then only what a visitor's browser may see
    assert response.status == 200, response
    config = response.json
    assert set(config) == PUBLIC_FIELDS
    assert config["agent_id"] == agent["id"] and config["version"] == 1
    assert config["tools"] == ["booking", "lead_capture"]  # knowledge is not a widget tool
    for secret in ("Be brief.", "amazon.nova", "www.acme.example"):
        assert secret not in response.body
    # And cacheable by the CDN for 15 minutes, per origin, for this origin only
    cache_control = response.headers["Cache-Control"]
    assert "s-maxage=900" in cache_control and "public" in cache_control
    assert "no-store" not in cache_control
    assert response.headers["Vary"] == "Origin"
    assert response.headers["Access-Control-Allow-Origin"] == h.ALLOWED_ORIGIN
    # And revalidation is cheap
    again = api(
        AGENTS,
        "GET",
        _public(agent),
        caller=key,
        headers={"Origin": h.ALLOWED_ORIGIN, "If-None-Match": response.headers["ETag"]},
    )
    assert again.status == 304


def test_public_config_through_the_gateway(widget):
    agent, key = widget
    allowed = h.gateway("GET", _public(agent), key=key, origin="https://shop.acme.example")
    refused = h.gateway("GET", _public(agent), key=key, origin="https://evil.example")
    no_origin = h.gateway("GET", _public(agent), key=key)

    assert allowed.status == 200, allowed
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.acme.example"
    assert refused.status == 403
    assert no_origin.status == 401  # Origin is an identity source: missing → 401, no call


@pytest.mark.parametrize(
    "origin",
    [None, "https://evil.example", "http://www.acme-dental.example", "https://acme.example"],
)
def test_public_config_from_another_origin_is_forbidden(widget, origin):
    # Given the verdict the authorizer gave this key from its allowed origin (as if cached)
    agent, key = widget

    # When the same key is used from another origin
    response = api(AGENTS, "GET", _public(agent), caller=key, headers={"Origin": origin})

    # Then the function refuses it itself: the refusal is readable (so the widget can say
    # why) but carries nothing of the agent
    assert response.status == 403, response
    assert response.error_code == "origin_not_allowed"
    assert set(response.json) == {"error"}
    if origin:
        assert response.headers.get("Vary") == "Origin"


def test_a_widget_key_only_opens_its_own_agent(acme: h.Tenant, widget):
    _, key = widget
    other = acme.agent(name="Other agent")
    response = api(AGENTS, "GET", _public(other), caller=key, headers={"Origin": h.ALLOWED_ORIGIN})
    assert (response.status, response.error_code) == (404, "not_found")


def test_public_config_of_a_deleted_agent_is_not_found(acme: h.Tenant, widget):
    agent, key = widget
    assert api(AGENTS, "DELETE", _path(agent), caller=acme.owner).status == 204
    response = api(AGENTS, "GET", _public(agent), caller=key, headers={"Origin": h.ALLOWED_ORIGIN})
    assert response.status == 404


def test_public_config_follows_updates(acme: h.Tenant, widget):
    agent, key = widget
    _patch(acme, agent, {"greeting": "Welcome back"}, if_match='"v1"')
    response = api(AGENTS, "GET", _public(agent), caller=key, headers={"Origin": h.ALLOWED_ORIGIN})
    assert response.json["greeting"] == "Welcome back" and response.json["version"] == 2


# ---------------------------------------------------------------------------- L1 cache


def test_a_warm_read_costs_no_aws_call(acme: h.Tenant, aws_calls):
    from agents.logic.service import agent_cache

    agent = acme.agent()
    agent_cache().clear()
    api(AGENTS, "GET", "/v1/agents", caller=acme.owner)  # settings and secrets warm
    aws_calls.clear()

    # When the agent is read twice in the same environment
    first = api(AGENTS, "GET", _path(agent), caller=acme.owner)
    first_calls = list(aws_calls.calls)
    aws_calls.clear()
    second = api(AGENTS, "GET", _path(agent), caller=acme.owner)

    # Then the first read is one GetItem, the second none at all
    assert first.status == second.status == 200
    assert first_calls == [("dynamodb", "GetItem")]
    assert aws_calls.calls == []
    assert second.json == first.json


def test_a_cold_start_read_is_one_getitem_and_nothing_else(acme: h.Tenant, cold_start, aws_calls):
    agent = acme.agent()
    cold_start()  # new settings, table binding, clients; empty caches
    aws_calls.clear()

    response = api(AGENTS, "GET", _path(agent), caller=acme.owner)

    assert response.status == 200
    assert aws_calls.calls == [("dynamodb", "GetItem")]  # no DescribeTable, no secret


def test_the_public_config_is_served_from_the_same_cache(widget, aws_calls):
    agent, key = widget
    headers = {"Origin": h.ALLOWED_ORIGIN}
    api(AGENTS, "GET", _public(agent), caller=key, headers=headers)
    aws_calls.clear()
    assert api(AGENTS, "GET", _public(agent), caller=key, headers=headers).status == 200
    assert aws_calls.calls == []


def test_a_write_refreshes_this_environments_cache(acme: h.Tenant, aws_calls):
    agent = acme.agent()
    _patch(acme, agent, {"name": "Renamed"}, if_match='"v1"')
    aws_calls.clear()
    got = api(AGENTS, "GET", _path(agent), caller=acme.owner)
    assert got.json["name"] == "Renamed" and got.json["version"] == 2
    assert aws_calls.of("dynamodb") == []


def test_no_cache_reads_through_and_other_environments_converge_within_the_ttl(
    acme: h.Tenant, aws, aws_calls
):
    from agents.logic.service import AGENT_CACHE_TTL, agent_cache

    # Given an environment with the agent cached, and a clock we control
    now = [1000.0]
    cache = agent_cache()
    cache._clock = lambda: now[0]
    try:
        agent = acme.agent()
        api(AGENTS, "GET", _path(agent), caller=acme.owner)
        # When another environment renames it (written straight to the table here)
        h.aws_client("dynamodb").update_item(
            TableName=aws.table_name,
            Key={"pk": {"S": f"TENANT#{acme.id}"}, "sk": {"S": f"AGENT#{agent['id']}"}},
            UpdateExpression="SET #n = :n, #v = :v",
            ExpressionAttributeNames={"#n": "name", "#v": "version"},
            ExpressionAttributeValues={":n": {"S": "Elsewhere"}, ":v": {"N": "2"}},
        )
        aws_calls.clear()

        # Then this environment serves its copy until the TTL
        assert api(AGENTS, "GET", _path(agent), caller=acme.owner).json["name"] == "Front desk"
        assert aws_calls.of("dynamodb") == []
        # And a client that must read its own writes asks for no-cache
        fresh = api(
            AGENTS, "GET", _path(agent), caller=acme.owner, headers={"Cache-Control": "no-cache"}
        )
        assert fresh.json["name"] == "Elsewhere" and aws_calls.of("dynamodb") == ["GetItem"]
        # And after the TTL everyone sees it
        cache.invalidate((acme.id, agent["id"]))
        api(AGENTS, "GET", _path(agent), caller=acme.owner)  # warm again with the old clock
        now[0] += AGENT_CACHE_TTL + 1
        assert api(AGENTS, "GET", _path(agent), caller=acme.owner).json["name"] == "Elsewhere"
    finally:
        cache._clock = __import__("time").monotonic
