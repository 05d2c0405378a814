import json

import pytest

from agenthub import environment
from agenthub.errors import NotFound
from agenthub.http import api_handler, json_response, make_resolver, select_fields


def event(method="GET", path="/v1/things", body=None, headers=None, query=None, b64=False):
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers or {},
        "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "body": body,
        "isBase64Encoded": b64,
        "requestContext": {"httpMethod": method, "resourcePath": path, "stage": "dev"},
    }


@pytest.fixture
def app():
    app = make_resolver()

    @app.get("/v1/things")
    def get_things():
        data = {"name": "a", "size": 2}
        return json_response(app, select_fields(app, data, ("name", "size")), conditional=True)

    @app.post("/v1/things")
    def post_things():
        return json_response(app, {"ok": True}, status=201)

    @app.get("/v1/missing")
    def missing():
        raise NotFound("thing not found")

    @app.get("/v1/broken")
    def broken():
        raise RuntimeError("secret internals /var/task/db.py")

    return app


@pytest.fixture
def resolve(monkeypatch):
    """The function's handler over a resolver, in an environment of its own."""
    settings = {
        "TABLE_NAME": "things",
        "EVENT_BUS_NAME": "bus",
        "SIGNING_SECRET_ARN": "arn:signing",
        "MAX_BODY_BYTES": "1024",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    environment.reset(cold=True)
    yield lambda app, event, context: api_handler(app)(event, context)
    environment.reset(cold=True)


def body_of(response):
    return json.loads(response["body"])


def test_oversized_body_is_413_before_anything_parses_it(app, resolve):
    response = resolve(app, event("POST", body="x" * 2000), None)
    assert response["statusCode"] == 413
    assert body_of(response)["error"]["code"] == "payload_too_large"


def test_non_json_body_is_415(app, resolve):
    headers = {"Content-Type": "text/plain"}
    response = resolve(app, event("POST", body="hi", headers=headers), None)
    assert response["statusCode"] == 415


def test_json_body_passes_the_guard(app, resolve):
    headers = {"Content-Type": "application/json; charset=utf-8"}
    response = resolve(app, event("POST", body="{}", headers=headers), None)
    assert response["statusCode"] == 201


def test_app_errors_use_the_envelope(app, resolve):
    response = resolve(app, event(path="/v1/missing"), None)
    assert response["statusCode"] == 404
    assert body_of(response) == {"error": {"code": "not_found", "message": "thing not found"}}


def test_unexpected_errors_leak_nothing(app, resolve):
    response = resolve(app, event(path="/v1/broken"), None)
    assert response["statusCode"] == 500
    assert body_of(response) == {"error": {"code": "internal_error", "message": "internal error"}}
    assert "var/task" not in response["body"]


def emf_documents(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]


def test_an_unexpected_error_is_counted_for_the_function_version(app, resolve, capsys, monkeypatch):
    # Given a function version (Lambda sets these) whose route fails unexpectedly
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "agenthub-dev-agents")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_VERSION", "7")
    # When it answers the 500 envelope
    resolve(app, event(path="/v1/broken"), None)
    # Then one embedded metric counts a server error of that version (the canary alarm's)
    documents = [d for d in emf_documents(capsys.readouterr().out) if "ServerErrors" in d]
    (document,) = documents
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["FunctionName", "ExecutedVersion"]]
    assert directive["Metrics"] == [{"Name": "ServerErrors", "Unit": "Count"}]
    assert (document["FunctionName"], document["ExecutedVersion"]) == ("agenthub-dev-agents", "7")
    assert document["ServerErrors"] == 1


def test_a_client_error_is_not_a_server_error(app, resolve, capsys):
    # Given a route that answers 404
    # When it is called
    resolve(app, event(path="/v1/missing"), None)
    # Then no server error is counted
    assert not any("ServerErrors" in d for d in emf_documents(capsys.readouterr().out))


def test_unknown_route_is_404_envelope(app, resolve):
    response = resolve(app, event(path="/v1/nope"), None)
    assert response["statusCode"] == 404
    assert body_of(response)["error"]["code"] == "not_found"


def test_fields_selection_and_unknown_field(app, resolve):
    ok = resolve(app, event(query={"fields": "name"}), None)
    bad = resolve(app, event(query={"fields": "name,password"}), None)
    assert body_of(ok) == {"name": "a"}
    assert bad["statusCode"] == 400
    assert body_of(bad)["error"]["details"] == {"unknown": ["password"]}


def test_if_none_match_gives_304_with_the_same_etag(app, resolve):
    first = resolve(app, event(), None)
    etag = first["multiValueHeaders"]["ETag"][0]
    second = resolve(app, event(headers={"If-None-Match": etag}), None)
    weak = resolve(app, event(headers={"If-None-Match": f"W/{etag}"}), None)
    other = resolve(app, event(headers={"If-None-Match": '"nope"'}), None)
    assert second["statusCode"] == 304
    assert second["body"] == ""
    assert weak["statusCode"] == 304
    assert other["statusCode"] == 200
