"""Bad input on every route, and failures of our own: always the one JSON error envelope, the
right status, and never a trace of internals."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration import harness as h
from tests.integration.harness import AGENTS, IDENTITY, api

NewTenant = Callable[..., h.Tenant]
LEAKS = ("Traceback", 'File "', ".py", "botocore", "pynamodb", "Exception", "agenthub-itest")


def assert_error(response: h.HttpResponse, status: int, code: str | None = None) -> None:
    """The envelope ``{"error": {"code", "message"[, "details"]}}`` and nothing else."""
    assert response.status == status, response
    assert response.headers["Content-Type"].startswith("application/json")
    assert "no-store" in response.headers["Cache-Control"]
    body = response.json
    assert set(body) == {"error"}
    assert set(body["error"]) <= {"code", "message", "details"}
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    if code is not None:
        assert body["error"]["code"] == code
    for leak in LEAKS:
        assert leak not in response.body, leak


@dataclass
class BodyRoute:
    method: str
    path: str
    valid: dict[str, Any]
    wrong_types: dict[str, Any]
    headers: dict[str, str]
    caller: h.Principal | None


@pytest.fixture(scope="module")
def org(aws: h.World) -> Iterator[tuple[h.Tenant, dict]]:
    tenant = h.create_tenant("Bad Input Ltd")
    agent = tenant.agent()
    h.keep_tenant(aws, tenant.id)
    yield tenant, agent
    h.forget_tenant(tenant.id)


BODY_ROUTES = ["create-tenant", "create-key", "create-widget-key", "create-agent", "update-agent"]


def _body_route(name: str, org: tuple[h.Tenant, dict]) -> BodyRoute:
    tenant, agent = org
    admin = {"Authorization": f"Bearer {h.ADMIN_TOKEN}"}
    return {
        "create-tenant": BodyRoute(
            "POST", "/v1/tenants", {"name": "x"}, {"name": ["x"]}, admin, None
        ),
        "create-key": BodyRoute(
            "POST",
            "/v1/keys",
            {"name": "x", "role": "member"},
            {"name": "x", "role": 1},
            {},
            tenant.owner,
        ),
        "create-widget-key": BodyRoute(
            "POST",
            "/v1/publishable-keys",
            {"agent_id": agent["id"], "allowed_origins": [h.ALLOWED_ORIGIN]},
            {"agent_id": agent["id"], "allowed_origins": h.ALLOWED_ORIGIN},
            {},
            tenant.owner,
        ),
        "create-agent": BodyRoute(
            "POST",
            "/v1/agents",
            {"name": "x"},
            {"name": "x", "temperature": [0.2]},
            {},
            tenant.owner,
        ),
        "update-agent": BodyRoute(
            "PATCH",
            f"/v1/agents/{agent['id']}",
            {"greeting": "x"},
            {"greeting": {"text": "x"}},
            {"If-Match": '"v1"'},
            tenant.owner,
        ),
    }[name]


def _send(route: BodyRoute, **kwargs: Any) -> h.HttpResponse:
    headers = {**route.headers, **kwargs.pop("headers", {})}
    module = h.route_for(route.method, route.path)[0].handler_module
    return api(module, route.method, route.path, caller=route.caller, headers=headers, **kwargs)


@pytest.mark.parametrize("name", BODY_ROUTES)
def test_the_valid_body_is_accepted(org, name):
    # (so that each refusal below is about what the test changed)
    route = _body_route(name, org)
    assert _send(route, body=route.valid).status in (200, 201)


@pytest.mark.parametrize("name", BODY_ROUTES)
@pytest.mark.parametrize(
    "raw", ['{"name": "x"', "{'name': 'x'}", "name=x", "\ufeff{}", "{}}"], ids=repr
)
def test_malformed_json_is_a_bad_request(org, name, raw):
    response = _send(_body_route(name, org), raw_body=raw)
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize("name", BODY_ROUTES)
def test_a_missing_body_is_a_bad_request(org, name):
    response = _send(_body_route(name, org), raw_body="")
    assert_error(response, 400, "bad_request")


@pytest.mark.parametrize("name", BODY_ROUTES)
@pytest.mark.parametrize("kind", ["wrong-types", "unknown-field", "array", "string", "null"])
def test_an_invalid_body_is_unprocessable(org, name, kind):
    route = _body_route(name, org)
    body = {
        "wrong-types": route.wrong_types,
        "unknown-field": {**route.valid, "is_admin": True},
        "array": [route.valid],
        "string": "x",
        "null": None,
    }[kind]
    response = _send(route, raw_body=json.dumps(body))
    assert_error(response, 422, "validation_failed")
    for detail in response.json["error"]["details"]:
        assert set(detail) == {"loc", "type", "msg"}
        assert "input" not in detail  # the raw input is never echoed


@pytest.mark.parametrize("name", BODY_ROUTES)
def test_an_oversized_body_is_refused_before_it_is_parsed(org, name):
    route = _body_route(name, org)
    big = json.dumps({**route.valid, "padding": "x" * (64 * 1024)})

    response = _send(route, raw_body=big)

    assert_error(response, 413, "payload_too_large")
    assert response.json["error"]["details"] == {"limit_bytes": 64 * 1024}


def test_the_size_limit_is_64_kib_of_utf8(org):
    route = _body_route("create-agent", org)
    head = '{"name": "x", "description": "'
    tail = '"}'
    exactly = head + "d" * (64 * 1024 - len(head) - len(tail)) + tail
    multibyte = head + "é" * ((64 * 1024 - len(head) - len(tail)) // 2 + 1) + tail
    assert len(exactly.encode()) == 64 * 1024

    assert _send(route, raw_body=exactly).status == 422  # parsed: description too long
    assert _send(route, raw_body=multibyte).status == 413  # fewer characters, more bytes


def test_a_base64_body_counts_its_decoded_size_and_is_parsed(org):
    route = _body_route("create-agent", org)
    small = base64.b64encode(json.dumps({"name": "b64"}).encode()).decode()
    event = h.api_event(route.method, route.path, raw_body=small, caller=route.caller)
    event["isBase64Encoded"] = True
    created = h.response_of(h.invoke(AGENTS, event))
    assert created.status == 201 and created.json["name"] == "b64"

    big = base64.b64encode(json.dumps({"name": "x", "p": "x" * 70_000}).encode()).decode()
    event = h.api_event(route.method, route.path, raw_body=big, caller=route.caller)
    event["isBase64Encoded"] = True
    assert_error(h.response_of(h.invoke(AGENTS, event)), 413, "payload_too_large")


@pytest.mark.parametrize("name", BODY_ROUTES)
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ],
)
def test_a_body_that_is_not_json_is_an_unsupported_media_type(org, name, content_type):
    route = _body_route(name, org)
    response = _send(route, body=route.valid, headers={"Content-Type": content_type})
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", None]
)
def test_json_with_parameters_or_no_content_type_is_accepted(org, content_type):
    route = _body_route("create-agent", org)
    response = _send(route, body=route.valid, headers={"Content-Type": content_type})
    assert response.status == 201, response


# ---------------------------------------------------------------------------- authentication


def _authenticated_routes(org: tuple[h.Tenant, dict]) -> list[tuple[str, str]]:
    _, agent = org
    paths = []
    for route in h.covered_routes():
        if route.authorizer is None:
            continue
        path = (
            route.path.replace("{agentId}", agent["id"])
            .replace("{keyId}", "abcdefabcdef")
            .replace("{documentId}", "doc_0123456789abcdef")
        )
        paths.append((route.method, path))
    return paths


def _each_authenticated_route(org, context: dict[str, Any] | None) -> Iterator[h.HttpResponse]:
    for method, path in _authenticated_routes(org):
        module = h.route_for(method, path)[0].handler_module
        body = {"name": "x"} if method in ("POST", "PATCH") else None
        yield api(module, method, path, body, caller=context, headers={"Origin": h.ALLOWED_ORIGIN})


@pytest.mark.parametrize(
    "context",
    [
        None,
        {},
        {"tenantId": "", "keyId": "", "keyType": "secret", "role": "owner"},
        {"keyId": "abcdefabcdef", "keyType": "secret", "role": "owner"},
        {"tenantId": "0123456789abcdef", "keyType": "secret", "role": "owner"},
    ],
    ids=["no-authorizer", "empty", "blank-ids", "no-tenant", "no-key-id"],
)
def test_without_an_authorizer_context_every_route_is_unauthorized(org, context):
    responses = list(_each_authenticated_route(org, context))
    assert len(responses) == 71  # 38, scheduling's 22, billing's 6 and analytics' 5
    for response in responses:
        assert_error(response, 401, "unauthorized")


def test_a_forged_unknown_role_is_forbidden_everywhere_secret(org):
    tenant, _ = org
    forged = {**tenant.owner.context, "role": "superuser"}
    for (method, path), response in zip(
        _authenticated_routes(org), _each_authenticated_route(org, forged), strict=True
    ):
        if "/public/" in path:
            assert_error(response, 403, "forbidden")
        else:
            assert_error(response, 403, "forbidden"), (method, path)


def test_an_unknown_route_of_a_function_is_a_json_404(org):
    tenant, _ = org
    event = h.api_event("GET", "/v1/agents", caller=tenant.owner)
    event["path"] = event["resource"] = "/v1/agentz"
    assert_error(h.response_of(h.invoke(AGENTS, event)), 404, "not_found")
    event["httpMethod"] = "PUT"
    event["path"] = "/v1/agents"
    assert_error(h.response_of(h.invoke(AGENTS, event)), 404, "not_found")


@pytest.fixture
def dynamodb_key_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB refuses any request whose sort key exceeds 1024 bytes (ValidationException);
    moto checks that on PutItem only, so the harness adds it for the other item calls."""
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    def limited(client: Any, operation_name: str, params: Any) -> Any:
        key = params.get("Key") if isinstance(params, dict) else None
        if client.meta.service_model.service_name == "dynamodb" and key:
            sort_key = key.get("sk", {}).get("S", "")
            if len(sort_key.encode()) > 1024:
                message = "Aggregated size of all range keys has exceeded the size limit"
                raise ClientError(
                    {"Error": {"Code": "ValidationException", "Message": message}}, operation_name
                )
        return original(client, operation_name, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", limited)


@pytest.mark.parametrize(
    "length",
    [
        65,
        1100,
    ],
)
def test_a_very_long_id_is_a_client_error(org, dynamodb_key_limits, length):
    tenant, _ = org
    long_id = "a" * length
    for module, method, path in [
        (AGENTS, "GET", f"/v1/agents/{long_id}"),
        (AGENTS, "DELETE", f"/v1/agents/{long_id}"),
        (IDENTITY, "DELETE", f"/v1/keys/{long_id}"),
    ]:
        response = api(module, method, path, caller=tenant.owner)
        assert response.status in (400, 404, 422), (path[:30], response)
        assert_error(response, response.status)


# ---------------------------------------------------------------------------- our failures


@pytest.mark.parametrize(
    ("module", "method", "path", "body"),
    [
        (AGENTS, "GET", "/v1/agents", None),
        (AGENTS, "POST", "/v1/agents", {"name": "x"}),
        (IDENTITY, "GET", "/v1/keys", None),
        (IDENTITY, "GET", "/v1/tenant", None),
    ],
)
def test_a_fault_of_ours_is_a_bare_500(tenant: NewTenant, reconfigure, module, method, path, body):
    # Given a deployment whose table does not exist (a fault of ours, not the client's)
    acme = tenant()
    reconfigure(TABLE_NAME="agenthub-itest-missing-table")

    # When a client calls
    response = api(module, method, path, body, caller=acme.owner)

    # Then it gets the plain internal error, naming nothing of ours
    assert_error(response, 500, "internal_error")
    assert response.json == {"error": {"code": "internal_error", "message": "internal error"}}
    assert "missing-table" not in response.body and "ResourceNotFound" not in response.body


@pytest.mark.parametrize("module", [AGENTS, IDENTITY, h.AUDIT])
def test_a_missing_setting_is_a_bare_500(tenant: NewTenant, reconfigure, monkeypatch, module):
    acme = tenant()
    monkeypatch.delenv("SIGNING_SECRET_ARN")
    reconfigure()
    path = {AGENTS: "/v1/agents", IDENTITY: "/v1/keys", h.AUDIT: "/v1/audit-log"}[module]
    response = api(module, "GET", path, caller=acme.owner)
    assert_error(response, 500, "internal_error")
    assert "SIGNING_SECRET_ARN" not in response.body and "signing" not in response.body


@pytest.fixture
def dynamodb_fails(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], None]:
    """Make one DynamoDB operation fail the way an overloaded or unavailable table does."""
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    def arm(operation: str, code: str) -> None:
        def failing(client: Any, operation_name: str, params: Any) -> Any:
            if client.meta.service_model.service_name == "dynamodb" and operation_name == operation:
                raise ClientError({"Error": {"Code": code, "Message": "slow down"}}, operation_name)
            return original(client, operation_name, params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", failing)

    return arm


UNAVAILABLE = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "InternalServerError",
]


@pytest.mark.parametrize("code", UNAVAILABLE)
def test_a_throttled_read_is_503_with_retry_after(tenant: NewTenant, dynamodb_fails, code):
    acme = tenant()
    agent = acme.agent()
    from agents.logic.service import agent_cache

    agent_cache().clear()
    dynamodb_fails("GetItem", code)
    response = api(AGENTS, "GET", f"/v1/agents/{agent['id']}", caller=acme.owner)
    assert_error(response, 503)
    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    ("operation", "module", "method", "path_of", "body", "headers"),
    [
        ("TransactWriteItems", AGENTS, "POST", lambda a, k: "/v1/agents", {"name": "x"}, {}),
        (
            "TransactWriteItems",
            AGENTS,
            "PATCH",
            lambda a, k: f"/v1/agents/{a}",
            {"name": "y"},
            {"If-Match": '"v1"'},
        ),
        ("TransactWriteItems", IDENTITY, "DELETE", lambda a, k: f"/v1/keys/{k}", None, {}),
        (
            "TransactWriteItems",
            IDENTITY,
            "POST",
            lambda a, k: "/v1/keys",
            {"name": "k", "role": "viewer"},
            {},
        ),
    ],
    ids=["create-agent", "update-agent", "revoke-key", "create-key"],
)
def test_a_throttled_write_is_503_not_a_conflict(
    tenant: NewTenant, dynamodb_fails, operation, module, method, path_of, body, headers
):
    acme = tenant()
    agent = acme.agent()
    member = acme.key("member")
    dynamodb_fails(operation, "ProvisionedThroughputExceededException")
    response = api(
        module,
        method,
        path_of(agent["id"], member.key_id),
        body,
        caller=acme.owner,
        headers=headers,
    )
    assert_error(response, 503)
    assert "Retry-After" in response.headers


def test_a_throttled_tenant_creation_is_not_a_conflict(aws, dynamodb_fails):
    dynamodb_fails("TransactWriteItems", "ThrottlingException")
    response = api(
        IDENTITY,
        "POST",
        "/v1/tenants",
        {"name": "x"},
        headers={"Authorization": f"Bearer {h.ADMIN_TOKEN}"},
    )
    # "tenant already exists" (409) is false: the tenant id was just generated
    assert_error(response, 503)
