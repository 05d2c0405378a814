"""Demo data, created through the real HTTP API (so the authorizer, validation and events all
run), never by writing items directly: a tenant, its owner key, an agent and a widget key."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

DEMO_ORIGINS = ["http://127.0.0.1:8080", "http://localhost:8080"]
DEMO_AGENT = {
    "name": "Demo agent",
    "instructions": "Answer visitors' questions from the Demo Co knowledge base, with citations.",
    "allowed_origins": DEMO_ORIGINS,
}


# The routes seeding calls, so the runtime can start their environments (and authorizers')
# together instead of paying three cold starts one after the other.
SEED_ROUTES = [
    ("POST", "/v1/tenants"),
    ("POST", "/v1/agents"),
    ("POST", "/v1/publishable-keys"),
    ("PUT", "/v1/payments/stripe"),
]


class SeedError(RuntimeError):
    """A seeding call failed; the message names the call and the API's answer."""


def _post(
    api_url: str, path: str, body: dict[str, Any], token: str, method: str = "POST"
) -> dict[str, Any]:
    request = urllib.request.Request(
        api_url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise SeedError(f"{method} {path} answered {exc.code}: {detail}") from None
    except (urllib.error.URLError, ValueError) as exc:
        raise SeedError(f"{method} {path} failed: {exc}") from None


def seed_demo(api_url: str, admin_token: str) -> dict[str, Any]:
    """Create the demo tenant, agent and publishable key; return their ids and keys."""
    created = _post(api_url, "/v1/tenants", {"name": "Demo Co"}, admin_token)
    tenant_id = created["tenant"]["id"]
    owner_key = created["key"]["secret"]
    agent = _post(api_url, "/v1/agents", DEMO_AGENT, owner_key)
    widget = _post(
        api_url,
        "/v1/publishable-keys",
        {"agent_id": agent["id"], "allowed_origins": DEMO_ORIGINS},
        owner_key,
    )
    publishable = widget["key"] if isinstance(widget.get("key"), str) else widget["secret"]
    return {
        "tenant_id": tenant_id,
        "owner_key": owner_key,
        "agent_id": agent["id"],
        "publishable_key": publishable,
        "allowed_origins": DEMO_ORIGINS,
    }


def connect_demo_stripe(api_url: str, owner_key: str, restricted_key: str) -> dict[str, Any]:
    """Connect the demo tenant to its account in the fake Stripe, through the API."""
    body = {"restricted_key": restricted_key}
    return _post(api_url, "/v1/payments/stripe", body, owner_key, method="PUT")
