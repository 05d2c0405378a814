"""Identity through its API handler: tenant bootstrap, secret keys, publishable keys."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration import harness as h
from tests.integration.harness import IDENTITY, api

NewTenant = Callable[..., h.Tenant]
ADMIN = {"Authorization": f"Bearer {h.ADMIN_TOKEN}"}
LISTED_KEY_FIELDS = {
    "id",
    "type",
    "name",
    "role",
    "agent_id",
    "allowed_origins",
    "last4",
    "created_at",
    "last_used_at",
    "revoked_at",
    "created_by",
}


def _authorizer_rejects(secret: str) -> bool:
    try:
        h.run_authorizer(f"Bearer {secret}", "GET", "/v1/tenant")
    except Exception as exc:
        assert str(exc) == "Unauthorized"
        return True
    return False


def _forget_keys() -> None:
    """A new warm environment of the authorizer: its key cache starts empty."""
    from agenthub import environment

    environment.reset()


# ---------------------------------------------------------------------------- tenants


def test_platform_admin_creates_a_tenant_with_a_working_owner_key(aws, published):
    # When the platform admin creates a tenant
    response = api(IDENTITY, "POST", "/v1/tenants", {"name": "  Acme Dental  "}, headers=ADMIN)

    # Then it exists, with one owner key shown once
    assert response.status == 201, response
    tenant, key = response.json["tenant"], response.json["key"]
    assert tenant["name"] == "Acme Dental"  # trimmed
    assert tenant["plan"] == "free"
    assert key["role"] == "owner" and key["type"] == "secret"
    assert key["secret"].startswith("sk_") and key["secret"].endswith(key["last4"])
    assert "key_hash" not in key
    # And the key works: the authorizer accepts it and GET /v1/tenant names the tenant
    owner = h.authorize(key["secret"])
    assert owner.tenant_id == tenant["id"] and owner.role == "owner"
    got = api(IDENTITY, "GET", "/v1/tenant", caller=owner)
    assert got.status == 200 and got.json == tenant
    # And both facts are on the bus, done by the platform admin
    types = [e["detail-type"] for e in published.of(tenant["id"])]
    assert sorted(types) == ["ApiKeyCreated", "TenantCreated"]
    assert all(e["detail"]["actor"]["kind"] == "platform_admin" for e in published.of(tenant["id"]))


def test_the_tenant_supports_conditional_reads(tenant: NewTenant):
    acme = tenant()
    first = api(IDENTITY, "GET", "/v1/tenant", caller=acme.owner)
    etag = first.headers["ETag"]
    again = api(IDENTITY, "GET", "/v1/tenant", caller=acme.owner, headers={"If-None-Match": etag})
    assert (first.status, again.status, again.body) == (200, 304, "")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-token",
        f"Basic {h.ADMIN_TOKEN}",
        f"Bearer {h.ADMIN_TOKEN}x",
    ],
    ids=["missing", "empty", "no-token", "wrong", "basic-scheme", "longer"],
)
def test_tenant_creation_needs_the_platform_admin_token(aws, authorization):
    response = api(
        IDENTITY, "POST", "/v1/tenants", {"name": "Acme"}, headers={"Authorization": authorization}
    )
    assert response.status == 401, response
    assert response.error_code == "unauthorized"


def test_a_tenant_owner_key_is_not_the_platform_admin_token(tenant: NewTenant):
    acme = tenant()
    response = api(
        IDENTITY,
        "POST",
        "/v1/tenants",
        {"name": "Evil"},
        headers={"Authorization": acme.owner.authorization},
    )
    assert response.status == 401


def test_an_unauthenticated_caller_learns_nothing_from_body_validation(aws):
    # Given no admin token and an invalid body, the answer is about the token, not the body
    response = api(IDENTITY, "POST", "/v1/tenants", {"nme": 1}, headers={"Authorization": None})
    assert response.status == 401


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"name": ""}, 422),
        ({"name": "   "}, 422),
        ({"name": "x" * 101}, 422),
        ({"name": 42}, 422),
        ({"name": "Acme", "plan": "enterprise"}, 422),  # unknown field: no self-upgrade
        (["Acme"], 422),
    ],
    ids=["empty", "blank", "spaces", "too-long", "number", "unknown-field", "array"],
)
def test_tenant_body_is_validated(aws, body, status):
    response = api(IDENTITY, "POST", "/v1/tenants", body, headers=ADMIN)
    assert response.status == status, response
    assert response.error_code == "validation_failed"
    assert response.json["error"]["details"]


# ---------------------------------------------------------------------------- secret keys


@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer"])
def test_owner_creates_a_secret_key_of_each_role(tenant: NewTenant, published, role):
    acme = tenant()

    # When the owner creates a key of this role
    response = api(
        IDENTITY, "POST", "/v1/keys", {"name": f"{role} key", "role": role}, caller=acme.owner
    )

    # Then it is shown once, and the authorizer grants exactly that role in this tenant
    assert response.status == 201, response
    created = response.json
    assert created["role"] == role and created["created_by"] == acme.owner.key_id
    principal = h.authorize(created["secret"])
    assert (principal.tenant_id, principal.role, principal.key_type) == (acme.id, role, "secret")
    # And the creation is on the bus with who did it
    events = published.of(acme.id, "ApiKeyCreated")
    mine = [e for e in events if e["detail"]["subject"] == f"key/{created['id']}"]
    assert len(mine) == 1
    assert mine[0]["detail"]["actor"] == {
        "kind": "api_key",
        "key_id": acme.owner.key_id,
        "role": "owner",
    }
    assert mine[0]["detail"]["data"]["role"] == role


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x"},
        {"name": "x", "role": "superuser"},
        {"name": "", "role": "member"},
        {"name": "x" * 81, "role": "member"},
        {"name": "x", "role": "member", "tenant_id": "0" * 16},
    ],
    ids=["no-role", "bad-role", "blank-name", "long-name", "foreign-tenant-field"],
)
def test_secret_key_body_is_validated(tenant: NewTenant, body):
    acme = tenant()
    response = api(IDENTITY, "POST", "/v1/keys", body, caller=acme.owner)
    assert response.status == 422, response


def test_keys_are_listed_masked_with_last_use(tenant: NewTenant):
    # Given an owner key that the authorizer has seen, and a member key never used
    acme = tenant()
    created = api(
        IDENTITY, "POST", "/v1/keys", {"name": "unused", "role": "member"}, caller=acme.owner
    ).json

    # When the owner lists the keys
    response = api(IDENTITY, "GET", "/v1/keys", caller=acme.owner)

    # Then no secret and no hash leave the API, only the last four characters
    assert response.status == 200
    items = {item["id"]: item for item in response.json["items"]}
    assert set(items) == {acme.owner.key_id, created["id"]}
    for item in items.values():
        assert set(item) == LISTED_KEY_FIELDS
        assert item["type"] == "secret"
    assert acme.owner.secret not in response.body and created["secret"] not in response.body
    assert items[acme.owner.key_id]["last4"] == acme.owner.secret[-4:]
    # And the authorizer recorded the owner key's use, not the unused key's
    assert items[acme.owner.key_id]["last_used_at"] is not None
    assert items[created["id"]]["last_used_at"] is None
    # And publishable keys are listed on their own route
    assert api(IDENTITY, "GET", "/v1/publishable-keys", caller=acme.owner).json["items"] == []


def test_revoked_key_stops_working_once_the_authorizer_cache_forgets_it(
    tenant: NewTenant, published
):
    # Given a member key in use (the authorizer has it in its warm cache)
    acme = tenant()
    member = acme.key("member")

    # When the owner revokes it
    response = api(IDENTITY, "DELETE", f"/v1/keys/{member.key_id}", caller=acme.owner)

    # Then the answer shows the revocation and the key is listed as revoked
    assert response.status == 200, response
    assert response.json["revoked_at"] is not None and "secret" not in response.json
    listed = api(IDENTITY, "GET", "/v1/keys", caller=acme.owner).json["items"]
    assert next(k for k in listed if k["id"] == member.key_id)["revoked_at"]
    assert published.of(acme.id, "ApiKeyRevoked")[0]["detail"]["subject"] == f"key/{member.key_id}"
    # And the warm environment still accepts it within KEY_CACHE_TTL (the documented bound)
    assert not _authorizer_rejects(member.secret)
    # And an environment without it in cache (expired or new) rejects it
    _forget_keys()
    assert _authorizer_rejects(member.secret)


def test_revocation_takes_effect_when_the_key_cache_entry_expires(
    tenant: NewTenant, monkeypatch: pytest.MonkeyPatch
):
    from agenthub.cache import TTLCache
    from identity.handlers import authorizer

    # Given a warm authorizer whose clock we control, that has seen a member key
    now = [1000.0]
    cache: TTLCache[object] = TTLCache(h.KEY_CACHE_TTL, clock=lambda: now[0])
    monkeypatch.setattr(authorizer, "_key_cache", lambda ttl_seconds: cache)
    acme = tenant()
    member = acme.key("member")
    api(IDENTITY, "DELETE", f"/v1/keys/{member.key_id}", caller=acme.owner)

    # When less than KEY_CACHE_TTL passed, the stale verdict stands; after it, it does not
    now[0] += h.KEY_CACHE_TTL - 1
    assert not _authorizer_rejects(member.secret)
    now[0] += 2
    assert _authorizer_rejects(member.secret)


def test_a_revoked_key_never_used_in_this_environment_is_rejected_at_once(tenant: NewTenant):
    acme = tenant()
    created = api(
        IDENTITY, "POST", "/v1/keys", {"name": "ci", "role": "admin"}, caller=acme.owner
    ).json
    assert api(IDENTITY, "DELETE", f"/v1/keys/{created['id']}", caller=acme.owner).status == 200
    assert _authorizer_rejects(created["secret"])


def test_revoking_twice_or_an_unknown_key(tenant: NewTenant):
    acme = tenant()
    member = acme.key("member")
    assert api(IDENTITY, "DELETE", f"/v1/keys/{member.key_id}", caller=acme.owner).status == 200

    again = api(IDENTITY, "DELETE", f"/v1/keys/{member.key_id}", caller=acme.owner)
    unknown = api(IDENTITY, "DELETE", "/v1/keys/aaaaaaaaaaaa", caller=acme.owner)

    assert (again.status, again.error_code) == (409, "conflict")
    assert (unknown.status, unknown.error_code) == (404, "not_found")


def test_the_last_owner_key_cannot_be_revoked(tenant: NewTenant):
    # Given a tenant whose only owner key is the caller's
    acme = tenant()

    # When the owner revokes it, then it is refused: nobody could manage the tenant
    response = api(IDENTITY, "DELETE", f"/v1/keys/{acme.owner.key_id}", caller=acme.owner)
    assert response.status == 409, response
    assert not _authorizer_rejects(acme.owner.secret)

    # Given a second owner, then the first one can go
    second = acme.key("owner")
    response = api(IDENTITY, "DELETE", f"/v1/keys/{acme.owner.key_id}", caller=second)
    assert response.status == 200, response
    _forget_keys()
    assert _authorizer_rejects(acme.owner.secret)
    # And the second is now the last one
    last = api(IDENTITY, "DELETE", f"/v1/keys/{second.key_id}", caller=second)
    assert last.status == 409


def test_an_admin_cannot_mint_or_revoke_owner_keys(tenant: NewTenant):
    acme = tenant()
    admin = acme.key("admin")

    mint_owner = api(IDENTITY, "POST", "/v1/keys", {"name": "me", "role": "owner"}, caller=admin)
    revoke_owner = api(IDENTITY, "DELETE", f"/v1/keys/{acme.owner.key_id}", caller=admin)
    mint_admin = api(IDENTITY, "POST", "/v1/keys", {"name": "ok", "role": "admin"}, caller=admin)

    assert (mint_owner.status, mint_owner.error_code) == (403, "forbidden")
    assert (revoke_owner.status, revoke_owner.error_code) == (403, "forbidden")
    assert mint_admin.status == 201
    # And the owner key still works
    assert not _authorizer_rejects(acme.owner.secret)


def test_a_secret_key_id_cannot_be_revoked_as_a_publishable_key(tenant: NewTenant):
    acme = tenant()
    member = acme.key("member")
    response = api(IDENTITY, "DELETE", f"/v1/publishable-keys/{member.key_id}", caller=acme.owner)
    assert response.status == 404
    assert not _authorizer_rejects(member.secret)


# ---------------------------------------------------------------------------- publishable keys


def test_owner_creates_and_revokes_a_widget_key(tenant: NewTenant):
    acme = tenant()
    agent = acme.agent()

    # When the owner creates a widget key for the agent
    created = api(
        IDENTITY,
        "POST",
        "/v1/publishable-keys",
        {
            "agent_id": agent["id"],
            "allowed_origins": ["HTTPS://WWW.Acme.example/", h.ALLOWED_ORIGIN],
        },
        caller=acme.owner,
    )

    # Then it is a pk_ key for that agent, origins normalised (lower case, no slash, sorted)
    assert created.status == 201, created
    key = created.json
    assert key["type"] == "publishable" and key["secret"].startswith("pk_")
    assert key["agent_id"] == agent["id"] and key["role"] is None
    assert key["allowed_origins"] == sorted(["https://www.acme.example", h.ALLOWED_ORIGIN])
    listed = api(IDENTITY, "GET", "/v1/publishable-keys", caller=acme.owner).json["items"]
    assert [k["id"] for k in listed] == [key["id"]]
    assert "secret" not in listed[0] and "key_hash" not in listed[0]
    # And revoking it works once
    revoked = api(IDENTITY, "DELETE", f"/v1/publishable-keys/{key['id']}", caller=acme.owner)
    assert revoked.status == 200 and revoked.json["revoked_at"]
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        h.run_authorizer(
            f"Bearer {key['secret']}",
            "GET",
            f"/v1/public/agents/{agent['id']}/config",
            origin=h.ALLOWED_ORIGIN,
        )


def test_a_widget_key_for_an_unknown_or_foreign_agent_is_not_found(tenant: NewTenant):
    acme, globex = tenant("Acme"), tenant("Globex")
    foreign = globex.agent()
    for agent_id in (foreign["id"], "ag_0000000000000000"):
        response = api(
            IDENTITY,
            "POST",
            "/v1/publishable-keys",
            {"agent_id": agent_id, "allowed_origins": [h.ALLOWED_ORIGIN]},
            caller=acme.owner,
        )
        assert (response.status, response.error_code) == (404, "not_found"), agent_id


@pytest.mark.parametrize(
    "origin",
    [
        "www.acme.example",  # no scheme
        "ftp://acme.example",
        "https://acme.example/widget",  # a path is not an origin
        "https://acme.example?x=1",
        "https://user@acme.example",
        "https://acme example",
        "https://*.example",  # wildcard on a bare TLD
        "http://*.acme.example",  # wildcard needs https
        "https://*",
        "https://acme.example:99999",
        "*",
        "",
    ],
)
def test_malformed_widget_origins_are_refused(tenant: NewTenant, origin):
    acme = tenant()
    agent = acme.agent()
    response = api(
        IDENTITY,
        "POST",
        "/v1/publishable-keys",
        {"agent_id": agent["id"], "allowed_origins": [origin]},
        caller=acme.owner,
    )
    assert (response.status, response.error_code) == (422, "validation_failed"), response


@pytest.mark.parametrize(
    "origins",
    [[], [f"https://s{n}.acme.example" for n in range(21)]],
    ids=["none", "too-many"],
)
def test_a_widget_key_needs_one_to_twenty_origins(tenant: NewTenant, origins):
    acme = tenant()
    agent = acme.agent()
    response = api(
        IDENTITY,
        "POST",
        "/v1/publishable-keys",
        {"agent_id": agent["id"], "allowed_origins": origins},
        caller=acme.owner,
    )
    assert response.status == 422


def test_wildcard_and_local_origins_are_accepted(tenant: NewTenant):
    acme = tenant()
    agent = acme.agent()
    origins = ["https://*.acme.example", "http://localhost:5173", "https://acme.example:8443"]
    response = api(
        IDENTITY,
        "POST",
        "/v1/publishable-keys",
        {"agent_id": agent["id"], "allowed_origins": origins},
        caller=acme.owner,
    )
    assert response.status == 201, response
    assert response.json["allowed_origins"] == sorted(origins)


def test_two_concurrent_revocations_cannot_remove_the_last_owners(
    tenant: NewTenant, monkeypatch: pytest.MonkeyPatch
):
    from identity.dal import repository
    from identity.logic import service

    # Given two owner keys
    acme = tenant()
    second = acme.key("owner")
    read_key = repository.get_key

    # When the owner revokes the second key while, between the request's read of that key
    # and its write, a concurrent request revokes the first owner key
    def read_then_concurrent_revoke(tenant_id: str, key_id: str):
        found = read_key(tenant_id, key_id)
        monkeypatch.setattr(repository, "get_key", read_key)
        service.revoke_key(tenant_id, acme.owner.key_id, "secret", service.Actor(role="owner"))
        return found

    monkeypatch.setattr(repository, "get_key", read_then_concurrent_revoke)
    response = api(IDENTITY, "DELETE", f"/v1/keys/{second.key_id}", caller=acme.owner)
    monkeypatch.undo()

    # Then the second revocation is refused and one owner key is still active
    assert response.status == 409, response
    _forget_keys()
    active = [s for s in (acme.owner.secret, second.secret) if not _authorizer_rejects(s)]
    assert active == [second.secret], "exactly the second owner key must survive"
