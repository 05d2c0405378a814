"""The platform API end to end, over HTTP against the real template in the local runtime: what
a new user does with curl (README, "Try it with curl"). Tenants, keys, agents, the widget's
public config, CORS, tenant isolation, bad input, the audit log (bus → rule → queue →
consumer → table), its dead-letter queue and archive job, and the API docs.

Each test makes its own tenant with the platform admin token, so tests neither share state
nor depend on order. Asynchronous work (the audit pipeline) is polled with a deadline; nothing
asserts how long anything took.
"""

from __future__ import annotations

import gzip
import http.client
import json
import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from infra.local.resources import boto_client
from infra.local.runtime import LocalRuntime
from tests.e2e.api import Api, Tenant, assert_error
from tests.e2e.support import eventually

pytestmark = pytest.mark.slow

SHOP = "https://shop.example.com"
EVIL = "https://evil.example.net"


@pytest.fixture(scope="module")
def api(runtime: LocalRuntime) -> Api:
    return Api(runtime)


@pytest.fixture
def tenant(api: Api) -> Tenant:
    return api.new_tenant(f"Acme {uuid.uuid4().hex[:6]}")


# ---------------------------------------------------------------------- tenants and keys
def test_a_tenant_is_created_only_with_the_platform_admin_token(api: Api) -> None:
    # When a tenant is requested with a wrong token, or none
    wrong = api.call("POST", "/v1/tenants", "not-the-admin-token", json={"name": "Acme"})
    missing = api.call("POST", "/v1/tenants", json={"name": "Acme"})
    # Then both are 401 in the error envelope
    assert_error(wrong, 401, "unauthorized")
    assert_error(missing, 401, "unauthorized")
    # When the admin token is used
    response = api.call("POST", "/v1/tenants", api.runtime.admin_token, json={"name": "Acme"})
    # Then the tenant exists with a first owner key, shown once, that works
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["tenant"]["name"] == "Acme"
    assert created["key"]["role"] == "owner"
    assert created["key"]["secret"].startswith("sk_")
    me = api.ok("GET", "/v1/tenant", created["key"]["secret"])
    assert me["id"] == created["tenant"]["id"]


def test_secret_keys_per_role_are_listed_masked(api: Api, tenant: Tenant) -> None:
    # Given a key for each role
    created = {role: api.new_key(tenant, role) for role in ("admin", "member", "viewer")}
    # When the owner lists the keys
    response = api.call("GET", "/v1/keys", tenant.owner_key)
    listed = {key["id"]: key for key in response.json()["items"]}
    # Then each key is there with its role and last four characters, and no secret anywhere
    for role, key in created.items():
        assert listed[key["id"]]["role"] == role
        assert listed[key["id"]]["last4"] == key["secret"][-4:]
        assert key["secret"] not in response.text
    assert all("secret" not in key and "key_hash" not in key for key in listed.values())
    assert listed[tenant.owner_key_id]["role"] == "owner"
    # and every role can read its tenant, but only managers may list keys
    for key in created.values():
        assert api.ok("GET", "/v1/tenant", key["secret"])["id"] == tenant.id
    assert api.call("GET", "/v1/keys", created["admin"]["secret"]).status_code == 200
    assert_error(api.call("GET", "/v1/keys", created["member"]["secret"]), 403, "forbidden")
    assert_error(api.call("GET", "/v1/keys", created["viewer"]["secret"]), 403, "forbidden")


def test_a_revoked_key_is_refused_at_once(api: Api, tenant: Tenant) -> None:
    # Given a member key that was never used (so no cache anywhere knows it)
    key = api.new_key(tenant, "member")
    # When the owner revokes it
    revoked = api.ok("DELETE", f"/v1/keys/{key['id']}", tenant.owner_key)
    assert revoked["revoked_at"]
    # Then it is refused on its very first use
    assert_error(api.call("GET", "/v1/tenant", key["secret"]), 401, "unauthorized")
    # and it shows as revoked in the list
    listed = {k["id"]: k for k in api.ok("GET", "/v1/keys", tenant.owner_key)["items"]}
    assert listed[key["id"]]["revoked_at"] == revoked["revoked_at"]
    # and the last active owner key cannot be revoked
    last = api.call("DELETE", f"/v1/keys/{tenant.owner_key_id}", tenant.owner_key)
    assert_error(last, 409)


def test_keys_that_do_not_exist_are_401(api: Api) -> None:
    assert_error(api.call("GET", "/v1/tenant", "sk_" + "x" * 40), 401, "unauthorized")
    assert_error(api.call("GET", "/v1/tenant"), 401, "unauthorized")


# ---------------------------------------------------------------------- agents
def test_agent_lifecycle_with_etags_and_optimistic_concurrency(api: Api, tenant: Tenant) -> None:
    key = tenant.owner_key
    # When an agent is created
    response = api.call("POST", "/v1/agents", key, json={"name": "Support", "temperature": 0.3})
    assert response.status_code == 201, response.text
    agent = response.json()
    path = f"/v1/agents/{agent['id']}"
    # Then it reads back with ETag "v1", and If-None-Match answers 304 without a body
    got = api.call("GET", path, key)
    assert got.status_code == 200
    assert got.headers["ETag"] == '"v1"'
    assert got.json()["name"] == "Support"
    unchanged = api.call("GET", path, key, headers={"If-None-Match": '"v1"'})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    # When it is updated with If-Match "v1"
    updated = api.call(
        "PATCH", path, key, headers={"If-Match": '"v1"'}, json={"greeting": "Hello!"}
    )
    # Then the update gets a new ETag, and a read shows it
    assert updated.status_code == 200, updated.text
    assert updated.headers["ETag"] == '"v2"'
    fresh = api.call("GET", path, key, headers={"Cache-Control": "no-cache"})
    assert fresh.json()["greeting"] == "Hello!"
    assert fresh.headers["ETag"] == '"v2"'
    # and a write from a stale copy is a conflict, and one without a precondition is refused
    stale = api.call("PATCH", path, key, headers={"If-Match": '"v1"'}, json={"greeting": "Hi"})
    assert_error(stale, 409)
    assert_error(api.call("PATCH", path, key, json={"greeting": "Hi"}), 428)
    # When it is deleted
    deleted = api.call("DELETE", path, key)
    # Then it is gone
    assert deleted.status_code == 204
    assert_error(api.call("GET", path, key, headers={"Cache-Control": "no-cache"}), 404)


def test_roles_limit_what_a_key_may_do_to_agents(api: Api, tenant: Tenant) -> None:
    viewer = api.new_key(tenant, "viewer")["secret"]
    member = api.new_key(tenant, "member")["secret"]
    agent = api.new_agent(member)
    # Then a viewer may read but not create; a member may create but not delete
    assert api.call("GET", f"/v1/agents/{agent['id']}", viewer).status_code == 200
    assert_error(api.call("POST", "/v1/agents", viewer, json={"name": "x"}), 403, "forbidden")
    assert_error(api.call("DELETE", f"/v1/agents/{agent['id']}", member), 403, "forbidden")


def test_agent_list_pages_with_opaque_cursors(api: Api, tenant: Tenant) -> None:
    created = {api.new_agent(tenant.owner_key, name=f"Agent {i}")["id"] for i in range(5)}
    # When the list is read two at a time, following next_cursor
    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        query = "?limit=2&fields=id,name" + (f"&cursor={cursor}" if cursor else "")
        page = api.ok("GET", "/v1/agents" + query, tenant.owner_key)
        pages += 1
        assert len(page["items"]) <= 2
        assert all(set(item) == {"id", "name"} for item in page["items"])
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
        assert pages < 10, "the cursor never ends"
    # Then every agent came exactly once, over several pages
    assert sorted(seen) == sorted(created)
    assert pages >= 3
    # and a cursor cannot be forged, nor used by another tenant
    first = api.ok("GET", "/v1/agents?limit=2", tenant.owner_key)["next_cursor"]
    assert_error(api.call("GET", "/v1/agents?cursor=" + first[:-3] + "abc", tenant.owner_key), 400)
    other = api.new_tenant("Other")
    assert_error(api.call("GET", "/v1/agents?cursor=" + first, other.owner_key), 400)
    # and an unknown field selection is a 400 naming it
    error = assert_error(api.call("GET", "/v1/agents?fields=id,secret", tenant.owner_key), 400)
    assert error["details"]["unknown"] == ["secret"]


def test_a_large_list_is_gzipped_for_clients_that_accept_it(api: Api, tenant: Tenant) -> None:
    for i in range(4):
        api.new_agent(tenant.owner_key, name=f"Agent {i}", instructions="Answer briefly. " * 40)
    connection = http.client.HTTPConnection("127.0.0.1", api.runtime.api_port, timeout=30)
    try:
        # When the list (well over MinimumCompressionSize, 1 KiB) is asked for with gzip
        connection.request(
            "GET",
            "/v1/agents?limit=10",
            headers={"Authorization": f"Bearer {tenant.owner_key}", "Accept-Encoding": "gzip"},
        )
        zipped = connection.getresponse()
        raw = zipped.read()
        # Then it comes compressed, and decompresses to the list
        assert zipped.getheader("Content-Encoding") == "gzip"
        assert len(json.loads(gzip.decompress(raw))["items"]) == 4
        # When a client does not accept gzip, it gets plain JSON
        connection.request(
            "GET",
            "/v1/agents?limit=10",
            headers={"Authorization": f"Bearer {tenant.owner_key}", "Accept-Encoding": "identity"},
        )
        plain = connection.getresponse()
        assert plain.getheader("Content-Encoding") is None
        assert len(json.loads(plain.read())["items"]) == 4
    finally:
        connection.close()


# ---------------------------------------------------------------------- the widget
def _public_config(api: Api, agent_id: str, key: str, origin: str | None) -> Any:
    headers = {"Origin": origin} if origin else {}
    return api.call("GET", f"/v1/public/agents/{agent_id}/config", key, headers=headers)


def test_the_widget_reads_public_config_only_from_allowed_origins(api: Api, tenant: Tenant) -> None:
    agent = api.new_agent(
        tenant.owner_key, name="Shop helper", instructions="Secret sauce.", allowed_origins=[SHOP]
    )
    # Given a publishable key for the agent
    response = api.call(
        "POST",
        "/v1/publishable-keys",
        tenant.owner_key,
        json={"agent_id": agent["id"], "allowed_origins": [SHOP]},
    )
    assert response.status_code == 201, response.text
    widget_key = response.json()["secret"]
    assert widget_key.startswith("pk_")
    # When the widget asks from the allowed origin
    allowed = _public_config(api, agent["id"], widget_key, SHOP)
    # Then it gets the public fields only, cacheable by the CDN, for that origin
    assert allowed.status_code == 200, allowed.text
    config = allowed.json()
    assert config["agent_id"] == agent["id"]
    assert config["name"] == "Shop helper"
    assert "instructions" not in config and "Secret sauce." not in allowed.text
    assert allowed.headers["Access-Control-Allow-Origin"] == SHOP
    assert "s-maxage=900" in allowed.headers["Cache-Control"]
    assert "Origin" in allowed.headers["Vary"]
    # When it asks from another origin, or without one
    evil = _public_config(api, agent["id"], widget_key, EVIL)
    no_origin = _public_config(api, agent["id"], widget_key, None)
    # Then both are refused and carry no agent data: another origin is denied (403); without
    # an Origin the gateway refuses before any authorizer runs (Origin is an identity source
    # of the public routes' authorizer, so API Gateway answers 401)
    assert_error(evil, 403, "forbidden")
    assert_error(no_origin, 401, "unauthorized")
    for refused in (evil, no_origin):
        assert "Shop helper" not in refused.text
        assert refused.headers.get("Access-Control-Allow-Origin") != SHOP
    # and the publishable key opens no secret-key route
    assert_error(api.call("GET", "/v1/agents", widget_key, headers={"Origin": SHOP}), 403)
    assert_error(
        api.call("GET", f"/v1/agents/{agent['id']}", widget_key, headers={"Origin": SHOP}), 403
    )


def test_cors_preflight_is_answered_without_a_key(api: Api) -> None:
    # When a browser preflights a PATCH with If-Match from some page
    response = api.call(
        "OPTIONS",
        "/v1/agents/ag_123",
        headers={
            "Origin": SHOP,
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization,content-type,if-match",
        },
    )
    # Then the API's CORS configuration answers, with no authorizer involved
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
    assert "If-Match" in response.headers["Access-Control-Allow-Headers"]
    assert response.headers["Access-Control-Max-Age"] == "600"


# ---------------------------------------------------------------------- isolation, bad input
def test_another_tenants_ids_are_not_found_everywhere(api: Api, tenant: Tenant) -> None:
    # Given tenant A's agent and key, and tenant B's owner
    agent = api.new_agent(tenant.owner_key, allowed_origins=[SHOP])
    key = api.new_key(tenant, "member")
    other = api.new_tenant("Tenant B")
    path = f"/v1/agents/{agent['id']}"
    b = other.owner_key
    # Then every route answers B as if A's ids did not exist
    assert_error(api.call("GET", path, b), 404, "not_found")
    assert_error(api.call("PATCH", path, b, headers={"If-Match": '"v1"'}, json={"name": "x"}), 404)
    assert_error(api.call("DELETE", path, b), 404)
    assert_error(api.call("DELETE", f"/v1/keys/{key['id']}", b), 404)
    assert_error(api.call("POST", "/v1/publishable-keys", b, json={"agent_id": agent["id"]}), 404)
    assert_error(api.call("GET", f"{path}/documents", b), 404)
    # and A's agent is untouched
    assert (
        api.ok("GET", path, tenant.owner_key, headers={"Cache-Control": "no-cache"})["version"] == 1
    )


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"name": "Support",', "application/json", 400, "bad_request"),
        (b'{"name": "Support", "colour": "red"}', "application/json", 422, "validation_failed"),
        (b'{"name": "' + b"x" * 70_000 + b'"}', "application/json", 413, "payload_too_large"),
        (b"name=Support", "text/plain", 415, "unsupported_media_type"),
        (b'{"name": "Support", "temperature": 3}', "application/json", 422, "validation_failed"),
    ],
    ids=["malformed-json", "unknown-field", "oversized", "wrong-content-type", "out-of-range"],
)
def test_bad_bodies_are_refused_with_the_envelope(
    api: Api, tenant: Tenant, body: bytes, content_type: str, status: int, code: str
) -> None:
    # When an agent is created with a bad body
    response = api.call(
        "POST", "/v1/agents", tenant.owner_key, data=body, headers={"Content-Type": content_type}
    )
    # Then the answer is the envelope with the status that names the problem
    error = assert_error(response, status, code)
    if status == 422:
        assert error["details"] and all("loc" in detail for detail in error["details"])
    # and nothing was created
    assert api.ok("GET", "/v1/agents", tenant.owner_key)["items"] == []


# ---------------------------------------------------------------------- the audit log
def _audit(api: Api, tenant: Tenant) -> list[dict[str, Any]]:
    return list(api.ok("GET", "/v1/audit-log?limit=200", tenant.owner_key)["items"])


def test_the_audit_log_lists_what_was_done_newest_first(api: Api, tenant: Tenant) -> None:
    # Given a tenant's owner who creates a key, creates, updates and deletes an agent, and
    # revokes the key
    member = api.new_key(tenant, "member")
    agent = api.new_agent(tenant.owner_key)
    api.ok(
        "PATCH",
        f"/v1/agents/{agent['id']}",
        tenant.owner_key,
        headers={"If-Match": '"v1"'},
        json={"greeting": "Hello!"},
    )
    api.ok("DELETE", f"/v1/agents/{agent['id']}", tenant.owner_key)
    api.ok("DELETE", f"/v1/keys/{member['id']}", tenant.owner_key)
    expected = [
        ("ApiKeyRevoked", f"key/{member['id']}"),
        ("AgentDeleted", f"agent/{agent['id']}"),
        ("AgentUpdated", f"agent/{agent['id']}"),
        ("AgentCreated", f"agent/{agent['id']}"),
        ("ApiKeyCreated", f"key/{member['id']}"),
    ]
    # When the audit log has caught up (events travel bus → rule → queue → consumer → table)
    entries = eventually(
        lambda: (found := _audit(api, tenant)) and len(found) >= len(expected) + 2 and found
    )
    # Then it lists every mutation, newest first, with who did it and to what
    ours = [(e["type"], e["subject"]) for e in entries if e["subject"] != f"tenant/{tenant.id}"]
    assert ours[: len(expected)] == expected
    assert {e["type"] for e in entries} >= {"TenantCreated", "ApiKeyCreated"}
    times = [e["occurred_at"] for e in entries]
    assert times == sorted(times, reverse=True)
    by_type = {e["type"]: e for e in entries}
    assert by_type["AgentUpdated"]["actor"]["key_id"] == tenant.owner_key_id
    assert by_type["AgentUpdated"]["actor"]["role"] == "owner"
    assert by_type["AgentCreated"]["source"] == "agenthub.agents"
    # and each event was recorded once, although delivery is at least once
    assert len({e["event_id"] for e in entries}) == len(entries)
    # and a viewer may not read it
    viewer = api.new_key(tenant, "viewer")["secret"]
    assert_error(api.call("GET", "/v1/audit-log", viewer), 403)


def _domain_event(tenant: Tenant, subject: str) -> dict[str, Any]:
    """What EventBridge delivers to the audit queue for one AgentHub domain event."""
    event_id = uuid.uuid4().hex
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AgentUpdated",
        "source": "agenthub.agents",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "event_id": event_id,
            "occurred_at": "2026-01-01T00:00:00.000000Z",
            "tenant_id": tenant.id,
            "actor": {"kind": "system", "key_id": None, "role": None},
            "subject": subject,
            "data": {},
            "type": "AgentUpdated",
            "schema_version": 1,
        },
    }


def _queue_bodies(runtime: LocalRuntime, logical_id: str) -> list[str]:
    sqs = boto_client("sqs", runtime.moto_url)
    response = sqs.receive_message(
        QueueUrl=runtime.stack.refs[logical_id], MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    return [m["Body"] for m in response.get("Messages", [])]


def test_a_poison_audit_message_ends_in_the_dlq_and_nothing_else_is_lost(
    api: Api, tenant: Tenant
) -> None:
    runtime = api.runtime
    sqs = boto_client("sqs", runtime.moto_url)
    marker = uuid.uuid4().hex
    # Given a poison message between two good ones, sent straight to the audit queue
    before, after = f"agent/before-{marker}", f"agent/after-{marker}"
    poison = json.dumps({"detail-type": "AgentUpdated", "detail": f"poison {marker}"})
    sqs.send_message_batch(
        QueueUrl=runtime.stack.refs["AuditQueue"],
        Entries=[
            {"Id": "1", "MessageBody": json.dumps(_domain_event(tenant, before))},
            {"Id": "2", "MessageBody": poison},
            {"Id": "3", "MessageBody": json.dumps(_domain_event(tenant, after))},
        ],
    )
    # When the consumer has retried it maxReceiveCount (3) times
    dead = eventually(
        lambda: [b for b in _queue_bodies(runtime, "AuditDeadLetterQueue") if marker in b],
        within=60,
    )
    # Then it is in the DLQ, unchanged
    assert dead == [poison]
    # and both good messages around it were written
    subjects = eventually(
        lambda: (
            {e["subject"] for e in _audit(api, tenant)} >= {before, after}
            and {e["subject"] for e in _audit(api, tenant)}
        )
    )
    assert {before, after} <= subjects


def test_the_archive_job_copies_past_retention_entries_to_s3(api: Api, tenant: Tenant) -> None:
    runtime = api.runtime
    # Given a tenant with audit entries of today
    api.new_agent(tenant.owner_key)
    entries = eventually(lambda: (found := _audit(api, tenant)) and len(found) >= 3 and found)
    day = entries[0]["occurred_at"][:10]
    # When the daily schedule fires on demand, for a date when today is past retention
    retention = int(runtime.model.parameters["AuditRetentionDays"])
    as_of = (date.fromisoformat(day) + timedelta(days=retention + 1)).isoformat()
    response = api.call(
        "POST", "/__local__/schedules/AuditArchiveFunction/Daily", json={"as_of": as_of}
    )
    # Then the job reports the day archived
    assert response.status_code == 200, response.text
    archived = response.json()["archived_days"]
    assert archived.get(day, 0) >= len(entries)
    # and the tenant's entries are in the archive bucket as JSON lines
    s3 = boto_client("s3", runtime.moto_url)
    key = f"audit/tenant={tenant.id}/day={day}.jsonl"
    body = s3.get_object(Bucket=runtime.stack.refs["ArchiveBucket"], Key=key)["Body"].read()
    lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
    assert {line["event_id"] for line in lines} >= {e["event_id"] for e in entries}
    assert {line["tenant_id"] for line in lines} == {tenant.id}
    # and firing it again does nothing more: the day is marked done
    again = api.call(
        "POST", "/__local__/schedules/AuditArchiveFunction/Daily", json={"as_of": as_of}
    )
    assert again.json()["archived_days"] == {}


# ---------------------------------------------------------------------- docs
def test_docs_serve_swagger_ui_and_an_openapi_document_of_every_route(api: Api) -> None:
    # When anyone opens the docs
    page = api.call("GET", "/v1/docs")
    document = api.call("GET", "/v1/openapi.json")
    # Then Swagger UI is served as HTML, without a key
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "swagger-ui" in page.text.lower()
    # and the OpenAPI document lists every route the template gives the API
    assert document.status_code == 200
    spec = document.json()
    assert spec["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, item in spec["paths"].items() for method in item}
    routes = {
        (route.path, method)
        for route in api.runtime.model.api.api.routes
        for method in route.methods
        if method != "OPTIONS" and route.path not in ("/v1/docs", "/v1/openapi.json", "/v1/health")
    }
    assert routes - documented == set()
