"""Tenant isolation: a valid key of tenant B never reaches tenant A's data, and cannot tell it
exists (another tenant's ids are a plain 404, like ids that were never issued)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration import harness as h
from tests.integration.harness import AGENTS, AUDIT, IDENTITY, api

NewTenant = Callable[..., h.Tenant]


@pytest.fixture
def two(tenant: NewTenant) -> tuple[h.Tenant, dict, h.Tenant]:
    acme, globex = tenant("Acme"), tenant("Globex")
    return acme, acme.agent(name="Acme private agent", instructions="acme secret"), globex


@pytest.mark.parametrize(
    ("method", "body"),
    [("GET", None), ("PATCH", {"name": "pwned", "version": 1}), ("DELETE", None)],
)
def test_another_tenants_agent_is_not_found(two, method, body):
    acme, agent, globex = two

    response = api(AGENTS, method, f"/v1/agents/{agent['id']}", body, caller=globex.owner)

    assert (response.status, response.error_code) == (404, "not_found"), response
    assert "acme secret" not in response.body
    # And A's agent is untouched
    got = api(AGENTS, "GET", f"/v1/agents/{agent['id']}", caller=acme.owner)
    assert got.status == 200 and got.json["name"] == "Acme private agent"
    assert got.json["version"] == 1


def test_another_tenants_agent_is_not_found_even_when_cached(two):
    # Given A's agent is warm in this environment's L1 cache
    acme, agent, globex = two
    assert api(AGENTS, "GET", f"/v1/agents/{agent['id']}", caller=acme.owner).status == 200
    # Then B still gets a 404 (the cache key includes the tenant)
    response = api(AGENTS, "GET", f"/v1/agents/{agent['id']}", caller=globex.owner)
    assert response.status == 404


def test_another_tenants_agent_is_not_in_the_list(two):
    _, agent, globex = two
    own = globex.agent(name="Globex agent")
    listed = api(AGENTS, "GET", "/v1/agents", caller=globex.owner, query={"limit": "100"})
    assert [item["id"] for item in listed.json["items"]] == [own["id"]]
    assert agent["id"] not in listed.body


@pytest.mark.parametrize("route", ["/v1/keys", "/v1/publishable-keys"])
def test_another_tenants_key_cannot_be_revoked(two, route):
    acme, agent, globex = two
    victim = acme.key("member") if route == "/v1/keys" else acme.widget_key(agent["id"])

    response = api(IDENTITY, "DELETE", f"{route}/{victim.key_id}", caller=globex.owner)

    assert (response.status, response.error_code) == (404, "not_found")
    # And it still works
    listed = api(IDENTITY, "GET", route, caller=acme.owner).json["items"]
    assert next(k for k in listed if k["id"] == victim.key_id)["revoked_at"] is None


def test_another_tenants_keys_are_not_listed(two):
    acme, agent, globex = two
    acme.widget_key(agent["id"])
    for route in ("/v1/keys", "/v1/publishable-keys"):
        listed = api(IDENTITY, "GET", route, caller=globex.owner).json["items"]
        assert all(k["id"] != acme.owner.key_id for k in listed)
        assert acme.owner.key_id not in str(listed)
    assert api(IDENTITY, "GET", "/v1/publishable-keys", caller=globex.owner).json["items"] == []


def test_no_widget_key_for_another_tenants_agent(two, published):
    acme, agent, globex = two
    response = api(
        IDENTITY,
        "POST",
        "/v1/publishable-keys",
        {"agent_id": agent["id"], "allowed_origins": ["https://evil.example"]},
        caller=globex.owner,
    )
    assert (response.status, response.error_code) == (404, "not_found")
    assert api(IDENTITY, "GET", "/v1/publishable-keys", caller=globex.owner).json["items"] == []
    for tenant_id in (acme.id, globex.id):
        created = published.of(tenant_id, "ApiKeyCreated")
        assert [e for e in created if e["detail"]["data"]["type"] == "publishable"] == []


def test_a_widget_key_of_b_cannot_open_as_agent(two):
    _, agent, globex = two
    own = globex.agent()
    key = globex.widget_key(own["id"])
    response = api(
        AGENTS,
        "GET",
        f"/v1/public/agents/{agent['id']}/config",
        caller=key,
        headers={"Origin": h.ALLOWED_ORIGIN},
    )
    assert response.status == 404


def test_a_body_naming_another_tenant_is_refused(two):
    """The authorizer's context is the only source of the tenant; a body cannot name one."""
    acme, _, globex = two
    response = api(
        AGENTS,
        "POST",
        "/v1/agents",
        {"name": "x", "tenant_id": acme.id},
        caller=globex.owner,
    )
    assert response.status == 422


def test_audit_log_of_b_never_shows_a(two, published):
    acme, agent, globex = two
    globex.agent(name="Globex agent")
    # Given every event so far has been consumed into the audit log
    envelope_messages = published.messages_of(acme.id) + published.messages_of(globex.id)
    consumed = h.invoke(h.CONSUMER, h.sqs_event_from_messages(envelope_messages))
    assert consumed == {"batchItemFailures": []}

    # When each reads its log
    a_log = api(AUDIT, "GET", "/v1/audit-log", caller=acme.owner, query={"limit": "200"})
    b_log = api(AUDIT, "GET", "/v1/audit-log", caller=globex.owner, query={"limit": "200"})

    # Then each sees exactly its own entries
    a_subjects = {e["subject"] for e in a_log.json["items"]}
    b_subjects = {e["subject"] for e in b_log.json["items"]}
    assert f"agent/{agent['id']}" in a_subjects
    assert f"tenant/{globex.id}" in b_subjects and f"tenant/{acme.id}" not in b_subjects
    assert not a_subjects & b_subjects
    assert acme.id not in b_log.body and agent["id"] not in b_log.body
