"""The REQUEST authorizer with real keys from the identity API and the sample events."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.integration import harness as h
from tests.integration.harness import IDENTITY, api, run_authorizer

NewTenant = Callable[..., h.Tenant]
ARN_BASE = h.ARN_BASE


def _statement(policy: dict) -> dict:
    [statement] = policy["policyDocument"]["Statement"]
    return statement


def test_a_secret_key_is_allowed_on_the_whole_stage_with_its_context(tenant: NewTenant):
    acme = tenant()
    viewer = acme.key("viewer")

    policy = run_authorizer(viewer.authorization, "GET", "/v1/agents")

    assert policy["principalId"] == f"{acme.id}/{viewer.key_id}"
    assert _statement(policy) == {
        "Action": "execute-api:Invoke",
        "Effect": "Allow",
        "Resource": f"{ARN_BASE}/*/*",  # cached verdict serves every route of the stage
    }
    assert policy["context"] == {
        "tenantId": acme.id,
        "keyId": viewer.key_id,
        "keyType": "secret",
        "role": "viewer",
        "agentId": "",
        "allowedOrigins": "",
    }
    # API Gateway context values must be strings, numbers or booleans
    assert all(isinstance(v, str | int | bool) for v in policy["context"].values())


def test_the_bearer_scheme_is_case_insensitive_and_headers_any_case(tenant: NewTenant):
    acme = tenant()
    event = h.authorizer_event(None, "GET", "/v1/agents")
    event["headers"]["authorization"] = f"bearer {acme.owner.secret}"
    policy = h.invoke(h.AUTHORIZER, event)
    assert _statement(policy)["Effect"] == "Allow"


def _valid_looking_key(prefix: str, tenant_id: str, key_id: str) -> str:
    return f"{prefix}{tenant_id}{key_id}" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"


@pytest.mark.parametrize(
    "make_authorization",
    [
        pytest.param(lambda t: None, id="missing"),
        pytest.param(lambda t: "", id="empty"),
        pytest.param(lambda t: "Bearer", id="scheme-only"),
        pytest.param(lambda t: "Bearer    ", id="blank-token"),
        pytest.param(lambda t: "garbage", id="garbage"),
        pytest.param(lambda t: t.owner.secret, id="no-scheme"),
        pytest.param(lambda t: f"Basic {t.owner.secret}", id="basic-scheme"),
        pytest.param(lambda t: f"Bearer {t.owner.secret}x", id="one-char-too-long"),
        pytest.param(lambda t: f"Bearer {t.owner.secret[:-1]}", id="one-char-short"),
        pytest.param(lambda t: f"Bearer {t.owner.secret[:-1]}!", id="bad-character"),
        pytest.param(lambda t: f"Bearer {t.owner.secret.upper()}", id="upper-cased"),
        pytest.param(
            lambda t: "Bearer " + _valid_looking_key("sk_", t.id, "0" * 12), id="unknown-key-id"
        ),
        pytest.param(
            lambda t: "Bearer " + _valid_looking_key("sk_", "f" * 16, t.owner.key_id),
            id="unknown-tenant",
        ),
        pytest.param(
            lambda t: "Bearer " + _valid_looking_key("sk_", t.id, t.owner.key_id),
            id="right-ids-wrong-secret",
        ),
        pytest.param(
            lambda t: "Bearer pk_" + t.owner.secret[3:], id="secret-key-presented-as-publishable"
        ),
    ],
)
def test_anything_but_a_live_key_is_unauthorized(tenant: NewTenant, make_authorization):
    acme = tenant()
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        run_authorizer(make_authorization(acme), "GET", "/v1/agents")


def test_a_revoked_key_is_unauthorized(tenant: NewTenant):
    acme = tenant()
    created = api(IDENTITY, "POST", "/v1/keys", {"name": "x", "role": "member"}, caller=acme.owner)
    api(IDENTITY, "DELETE", f"/v1/keys/{created.json['id']}", caller=acme.owner)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        run_authorizer(f"Bearer {created.json['secret']}", "GET", "/v1/agents")


def test_unknown_keys_are_remembered_briefly_so_guessing_costs_one_read(
    tenant: NewTenant, aws_calls
):
    acme = tenant()
    forged = "Bearer " + _valid_looking_key("sk_", acme.id, "0" * 12)
    aws_calls.clear()
    for _ in range(3):
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            run_authorizer(forged, "GET", "/v1/agents")
    assert aws_calls.of("dynamodb") == ["GetItem"]


def test_a_known_key_costs_one_read_per_environment_and_records_its_use_once(
    tenant: NewTenant, aws_calls
):
    acme = tenant()
    member = api(IDENTITY, "POST", "/v1/keys", {"name": "m", "role": "member"}, caller=acme.owner)
    aws_calls.clear()
    for _ in range(3):
        run_authorizer(f"Bearer {member.json['secret']}", "GET", "/v1/agents")
    # one GetItem, one conditional UpdateItem of last_used_at, then the warm cache
    assert aws_calls.of("dynamodb") == ["GetItem", "UpdateItem"]


# ---------------------------------------------------------------------------- publishable keys


@pytest.fixture
def widget(tenant: NewTenant) -> tuple[h.Tenant, dict, h.Principal]:
    acme = tenant()
    agent = acme.agent()
    return acme, agent, acme.widget_key(agent["id"], [h.ALLOWED_ORIGIN, "https://*.example.com"])


def _public_path(agent: dict) -> str:
    return f"/v1/public/agents/{agent['id']}/config"


def test_a_publishable_key_from_an_allowed_origin_may_read_public_routes_only(widget):
    _, agent, key = widget

    policy = run_authorizer(key.authorization, "GET", _public_path(agent), origin=h.ALLOWED_ORIGIN)

    statement = _statement(policy)
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == [f"{ARN_BASE}/GET/v1/public/*", f"{ARN_BASE}/POST/v1/public/*"]
    assert policy["context"]["keyType"] == "publishable"
    assert policy["context"]["agentId"] == agent["id"]
    assert policy["context"]["role"] == ""
    assert policy["context"]["allowedOrigins"].split(" ") == sorted(
        [h.ALLOWED_ORIGIN, "https://*.example.com"]
    )
    # And the cached verdict does not open secret routes nor other methods
    assert h.policy_allows(policy, f"{ARN_BASE}/GET{_public_path(agent)}")
    assert not h.policy_allows(policy, f"{ARN_BASE}/GET/v1/agents")
    assert not h.policy_allows(policy, f"{ARN_BASE}/DELETE{_public_path(agent)}")
    # (the widget's conversation routes are POSTs under /v1/public/ too)
    conversations = f"/v1/public/agents/{agent['id']}/conversations"
    assert h.policy_allows(policy, f"{ARN_BASE}/POST{conversations}")
    assert not h.policy_allows(policy, f"{ARN_BASE}/POST/v1/agents/{agent['id']}/conversations")


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "",
        "https://evil.example.net",
        "http://www.acme-dental.example",  # scheme differs
        "https://www.acme-dental.example:8443",  # port differs
        "https://www.acme-dental.example.evil.net",
        "null",  # sandboxed iframes and file:// pages
    ],
)
def test_a_publishable_key_from_another_origin_is_denied(widget, origin):
    _, agent, key = widget
    policy = run_authorizer(key.authorization, "GET", _public_path(agent), origin=origin)
    assert _statement(policy)["Effect"] == "Deny"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/agents"), ("GET", "/v1/tenant"), ("GET", "/v1/audit-log"), ("POST", "/v1/keys")],
)
def test_a_publishable_key_on_a_secret_route_is_denied(widget, method, path):
    _, _, key = widget
    policy = run_authorizer(key.authorization, method, path, origin=h.ALLOWED_ORIGIN)
    assert _statement(policy)["Effect"] == "Deny"


@pytest.mark.parametrize(
    ("origin", "effect"),
    [
        ("https://a.example.com", "Allow"),
        ("https://a.b.example.com", "Allow"),
        ("https://A.Example.COM", "Allow"),
        ("https://example.com", "Deny"),
        ("http://a.example.com", "Deny"),
        ("https://a.example.com:444", "Deny"),
        ("https://aexample.com", "Deny"),
        ("https://a.example.com.evil.net", "Deny"),
        ("https://evil.net/a.example.com", "Deny"),
    ],
)
def test_a_wildcard_origin_matches_subdomains_only(widget, origin, effect):
    _, agent, key = widget
    policy = run_authorizer(key.authorization, "GET", _public_path(agent), origin=origin)
    assert _statement(policy)["Effect"] == effect


def test_a_secret_key_does_not_care_about_origin(tenant: NewTenant):
    acme = tenant()
    policy = run_authorizer(acme.owner.authorization, "GET", "/v1/agents", origin="https://x.y")
    assert _statement(policy)["Effect"] == "Allow"
