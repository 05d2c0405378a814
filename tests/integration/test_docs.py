"""The docs function: one OpenAPI document of every route, and Swagger UI, without a key."""

from __future__ import annotations

import os

import pytest

from tests.integration import harness as h
from tests.integration.harness import DOCS, api

DOCS_OWN = {("GET", "/v1/openapi.json"), ("GET", "/v1/docs"), ("GET", "/v1/health")}


def _document(host: str | None = None) -> dict:
    headers = {"Host": host} if host else None
    response = api(DOCS, "GET", "/v1/openapi.json", headers=headers)
    assert response.status == 200, response
    assert response.headers["Content-Type"].startswith("application/json")
    document: dict = response.json
    return document


def _operations(document: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }


def test_the_document_lists_every_route_of_the_covered_functions(aws):
    document = _document()
    assert document["openapi"].startswith("3.")
    expected = {(r.method, r.path) for r in h.covered_routes()} - DOCS_OWN
    assert expected <= _operations(document)


def test_the_document_lists_every_route_of_the_template(aws):
    expected = {(r.method, r.path) for r in h.routes()} - DOCS_OWN
    assert expected <= _operations(_document())


def test_the_document_lists_no_route_the_gateway_does_not_have(aws):
    template_routes = {(r.method, r.path) for r in h.routes()}
    assert _operations(_document()) <= template_routes


def test_bodies_and_security_are_described(aws):
    document = _document()
    create = document["paths"]["/v1/agents"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert "name" in schema["properties"] and "name" in schema.get("required", [])
    assert "bearer" in document["components"]["securitySchemes"]
    assert "Roles:" in create.get("description", "")
    params = document["paths"]["/v1/agents/{agentId}"]["get"].get("parameters", [])
    assert any(p["name"] == "agentId" and p["in"] == "path" for p in params)


@pytest.mark.parametrize(
    ("host", "server"),
    [("abc123defg.execute-api.us-east-1.amazonaws.com", "/dev"), ("127.0.0.1:3000", "/")],
)
def test_the_server_url_matches_where_it_is_served(aws, host, server):
    assert _document(host)["servers"][0]["url"] == server


def test_swagger_ui_is_served_as_html_without_network(aws):
    response = api(DOCS, "GET", "/v1/docs")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "swagger" in response.body.lower()
    assert "AgentHub API" in response.body
    assert "unpkg.com" not in response.body and "cdn.jsdelivr" not in response.body
    assert "public" in response.headers["Cache-Control"]


def test_docs_need_no_key_through_the_gateway(aws):
    for path in ("/v1/openapi.json", "/v1/docs", "/v1/health"):
        assert h.gateway("GET", path).status == 200


def test_the_document_describes_statuses_parameters_and_the_error_envelope(aws):
    document = _document()
    patch = document["paths"]["/v1/agents/{agentId}"]["patch"]
    assert {"200", "400", "401", "403", "404", "409", "422", "428", "429"} <= set(
        patch["responses"]
    )
    assert any(p["name"] == "If-Match" and p["in"] == "header" for p in patch["parameters"])
    listed = document["paths"]["/v1/conversations"]["get"]
    names = {p["name"] for p in listed["parameters"] if p["in"] == "query"}
    assert {"limit", "cursor", "fields", "agent_id", "from", "to", "handoff"} <= names
    widget_read = document["paths"]["/v1/public/agents/{agentId}/conversations/{conversationId}"]
    token = next(p for p in widget_read["get"]["parameters"] if p["name"] == "visitor_token")
    assert token["required"] is True
    assert "201" in document["paths"]["/v1/agents"]["post"]["responses"]
    assert "204" in document["paths"]["/v1/agents/{agentId}"]["delete"]["responses"]
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]


def test_fields_a_patch_refuses_as_null_are_not_documented_as_nullable(aws):
    update = _document()["components"]["schemas"]["AgentUpdate"]["properties"]
    for name, prop in update.items():
        options = prop.get("anyOf", [prop])
        assert all(o.get("type") != "null" for o in options), name


def test_every_documented_success_status_is_what_the_route_answers(aws, tenant):
    # (the statuses of the routes an owner can call without other state)
    acme = tenant("Docs Ltd")
    document = _document()
    created = api(h.AGENTS, "POST", "/v1/agents", {"name": "Desk"}, caller=acme.owner)
    deleted = api(h.AGENTS, "DELETE", f"/v1/agents/{created.json['id']}", caller=acme.owner)
    for method, path, answer in (
        ("post", "/v1/agents", created),
        ("delete", "/v1/agents/{agentId}", deleted),
    ):
        success = [s for s in document["paths"][path][method]["responses"] if s < "300"]
        assert success == [str(answer.status)], (method, path)


def test_health_says_ok_and_which_version_answered(aws, monkeypatch):
    # Given the version Lambda runs (the alias's current one during a canary)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "12")
    # When the deployment's smoke test asks
    response = api(DOCS, "GET", "/v1/health")
    # Then it is ok, uncached, and names the version
    assert response.status == 200
    assert response.json == {"status": "ok", "stage": os.environ["STAGE"], "version": "12"}
    assert response.headers["Cache-Control"] == "no-store"


def test_success_answers_are_documented_with_the_schema_of_their_model(aws):
    document = _document()
    agent = document["paths"]["/v1/agents/{agentId}"]["patch"]["responses"]["200"]
    schema = agent["content"]["application/json"]["schema"]
    assert {"id", "name", "version"} <= set(schema["properties"])
    assert "tenant_id" not in schema["properties"] and "name" in schema["required"]
    booking = document["paths"]["/v1/bookings"]["post"]["responses"]
    assert {"200", "201"} <= set(booking)  # a replayed Idempotency-Key answers 200
    page = booking["201"]["content"]["application/json"]["schema"]
    assert "manage_nonce" not in page["properties"]
    feed = document["paths"]["/v1/public/calendars/{tenantId}/{resourceId}"]["get"]
    assert set(feed["responses"]["200"]["content"]) == {"text/calendar"}


def test_every_json_success_answer_documents_its_fields(aws):
    # A bare {"type": "object"} tells a client nothing; every route names its answer's model.
    document = _document()
    bare = [
        f"{method.upper()} {path} {status}"
        for path, item in document["paths"].items()
        for method, operation in item.items()
        for status, response in operation["responses"].items()
        if status.startswith("2")
        for media, content in (response.get("content") or {}).items()
        if media == "application/json" and content["schema"] == {"type": "object"}
    ]
    assert bare == []


def test_an_answer_unlike_its_declaration_fails_the_contract_check():
    from tests.integration import contract

    path = "/v1/agents/{agentId}"
    good = '{"id": "ag_1", "name": "Desk", "version": 1}'
    with pytest.raises(AssertionError, match="answered 201"):
        contract.check("PATCH", path, 201, "application/json", good)
    with pytest.raises(AssertionError, match="not as documented"):
        contract.check("PATCH", path, 200, "application/json", '{"id": "ag_1", "version": "1"}')
    with pytest.raises(AssertionError, match="as text/csv"):
        contract.check("PATCH", path, 200, "text/csv", "id,name")
    with pytest.raises(AssertionError, match="with a body"):
        contract.check("DELETE", path, 204, None, good)
