"""A thin HTTP client for the end-to-end tests: what a new user does with curl, in Python.

Every call goes through the local API Gateway (authorizer, routing, gateway responses,
compression) to the real handlers; nothing here touches a table or a function directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from infra.local.runtime import LocalRuntime

TIMEOUT = 30


@dataclass(frozen=True)
class Tenant:
    id: str
    owner_key: str
    owner_key_id: str


class Api:
    """Calls the local API as a client would; ``token`` is sent as ``Bearer``."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        self.base = runtime.api_url
        self.session = requests.Session()

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        return self.session.request(
            method, self.base + path, headers=sent, timeout=TIMEOUT, **kwargs
        )

    def ok(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        """The JSON of a call that must succeed (any 2xx)."""
        response = self.call(method, path, token, **kwargs)
        assert 200 <= response.status_code < 300, f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    def new_tenant(self, name: str) -> Tenant:
        created = self.ok("POST", "/v1/tenants", self.runtime.admin_token, json={"name": name})
        return Tenant(created["tenant"]["id"], created["key"]["secret"], created["key"]["id"])

    def new_key(self, tenant: Tenant, role: str, name: str | None = None) -> dict[str, Any]:
        body = {"name": name or f"{role} key", "role": role}
        return dict(self.ok("POST", "/v1/keys", tenant.owner_key, json=body))

    def new_agent(self, token: str, **fields: Any) -> dict[str, Any]:
        body = {"name": "Support", "instructions": "Be brief.", **fields}
        return dict(self.ok("POST", "/v1/agents", token, json=body))


def assert_error(response: requests.Response, status: int, code: str | None = None) -> dict:
    """The response is the one error envelope, with ``status`` (and ``code``)."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return dict(error)
