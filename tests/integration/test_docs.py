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


def test_health_says_ok_and_which_version_answered(aws, monkeypatch):
    # Given the version Lambda runs (the alias's current one during a canary)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "12")
    # When the deployment's smoke test asks
    response = api(DOCS, "GET", "/v1/health")
    # Then it is ok, uncached, and names the version
    assert response.status == 200
    assert response.json == {"status": "ok", "stage": os.environ["STAGE"], "version": "12"}
    assert response.headers["Cache-Control"] == "no-store"
