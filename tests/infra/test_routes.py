"""API Gateway and the functions agree on the routes, and every route is authorized the way
it must be.

A route only in the template reaches the function and ends in its 404; a route only in the
resolver can never be called through API Gateway. Both are bugs nobody sees in unit tests.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from tests.infra.helpers import handler_module, project_template

Route = tuple[str, str]  # (METHOD, /path/{param})

API_RESOURCE = "Api"
DEFAULT_AUTHORIZER = "KeyAuthorizer"
# Every route that does NOT use the default (secret or publishable key) authorizer, and why.
# Adding a route here is a security decision: review it like one.
NON_DEFAULT_AUTH: dict[Route, str] = {
    # tenant bootstrap: guarded by the platform admin token, checked in the handler
    ("POST", "/v1/tenants"): "NONE",
    # the API's documentation is public
    ("GET", "/v1/docs"): "NONE",
    ("GET", "/v1/openapi.json"): "NONE",
    # Stripe's webhooks: no key; the Stripe-Signature HMAC over the raw body authenticates
    # them (checked by the function before anything is queued)
    ("POST", "/v1/webhooks/stripe"): "NONE",
    ("POST", "/v1/webhooks/stripe/{tenantId}"): "NONE",
    # a visitor's payment status, from the widget (key-and-Origin verdicts)
    ("GET", "/v1/public/agents/{agentId}/payments/{paymentId}"): "PublicKeyAuthorizer",
    # the pay step of a held booking, from the widget (key-and-Origin verdicts)
    ("POST", "/v1/public/agents/{agentId}/bookings/{bookingId}/checkout"): "PublicKeyAuthorizer",
    # the deployment smoke test's first question; says only "ok", the stage and the version
    ("GET", "/v1/health"): "NONE",
    # the widget's public config: verdicts cached per key AND Origin, so one refused origin
    # cannot poison the cached verdict of an allowed one
    ("GET", "/v1/public/agents/{agentId}/config"): "PublicKeyAuthorizer",
    # the widget's conversations: the same key-and-Origin verdicts; each call also carries
    # the visitor token of its conversation, checked by the function
    ("POST", "/v1/public/agents/{agentId}/conversations"): "PublicKeyAuthorizer",
    ("GET", "/v1/public/agents/{agentId}/conversations/{conversationId}"): "PublicKeyAuthorizer",
    (
        "POST",
        "/v1/public/agents/{agentId}/conversations/{conversationId}/messages",
    ): "PublicKeyAuthorizer",
    (
        "POST",
        "/v1/public/agents/{agentId}/conversations/{conversationId}/messages/{messageId}/feedback",
    ): "PublicKeyAuthorizer",
    (
        "POST",
        "/v1/public/agents/{agentId}/conversations/{conversationId}/lead",
    ): "PublicKeyAuthorizer",
    (
        "POST",
        "/v1/public/agents/{agentId}/conversations/{conversationId}/handoff",
    ): "PublicKeyAuthorizer",
    # scheduling, the widget: slots and bookings with the key-and-Origin verdicts
    ("GET", "/v1/public/agents/{agentId}/event-types"): "PublicKeyAuthorizer",
    ("GET", "/v1/public/agents/{agentId}/event-types/{eventTypeId}/slots"): "PublicKeyAuthorizer",
    ("POST", "/v1/public/agents/{agentId}/bookings"): "PublicKeyAuthorizer",
    # a visitor's manage links (in emails): the signed single-use token in the request is
    # the credential, checked by the function; a bad token is a 404
    ("GET", "/v1/public/bookings/manage"): "NONE",
    ("POST", "/v1/public/bookings/cancel"): "NONE",
    ("POST", "/v1/public/bookings/reschedule"): "NONE",
    # a resource's ICS feed for calendar apps, which send no headers: its secret token
    # (stored hashed) in the URL is the credential
    ("GET", "/v1/public/calendars/{tenantId}/{resourceId}"): "NONE",
}


def _api_events(properties: dict[str, Any]) -> dict[str, dict[str, Any]]:
    events = properties.get("Events") or {}
    return {name: e.get("Properties", {}) for name, e in events.items() if e["Type"] == "Api"}


def _template_routes(properties: dict[str, Any]) -> set[Route]:
    return {(e["Method"].upper(), e["Path"]) for e in _api_events(properties).values()}


def _resolver_routes(app: APIGatewayRestResolver) -> set[Route]:
    """The resolver's routes with Powertools' ``<param>`` written as API Gateway's ``{param}``."""
    routes = app._static_routes + app._dynamic_routes
    return {(route.method.upper(), re.sub(r"<([^>]+)>", r"{\1}", route.path)) for route in routes}


API_FUNCTIONS = {
    name: properties
    for name, properties in project_template().serverless().items()
    if _api_events(properties)
}


def test_template_has_api_functions() -> None:
    # Given the template, Then some functions serve the REST API (else the tests below vanish)
    assert API_FUNCTIONS, "no AWS::Serverless::Function has Api events"


@pytest.mark.parametrize("function", sorted(API_FUNCTIONS))
def test_resolver_serves_exactly_the_template_routes(function: str) -> None:
    # Given a function with Api events in the template
    properties = API_FUNCTIONS[function]
    declared = _template_routes(properties)
    module_name = handler_module(properties["Handler"])
    entry_point = properties["Handler"].rsplit(".", 1)[1]
    # When its handler module is imported
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        pytest.fail(
            f"{function}: handler module {module_name!r} cannot be imported ({exc!r}); the "
            f"template routes {sorted(declared)} to it"
        )
    # Then it exposes a Powertools REST resolver `app` and the entry point
    app = getattr(module, "app", None)
    assert isinstance(app, APIGatewayRestResolver), (
        f"{module_name}.app is {type(app).__name__}, not an APIGatewayRestResolver"
    )
    assert callable(getattr(module, entry_point, None)), f"{module_name}.{entry_point} missing"
    # And the resolver serves exactly the routes API Gateway sends it
    served = _resolver_routes(app)
    only_template = sorted(declared - served)
    only_resolver = sorted(served - declared)
    assert not only_template and not only_resolver, (
        f"{function} ({module_name}):\n"
        f"  in template.yaml but not served (the function answers 404): {only_template}\n"
        f"  served but not in template.yaml (unreachable via API Gateway): {only_resolver}"
    )


def test_no_route_is_declared_twice() -> None:
    # Given every Api event of every function
    seen: dict[Route, str] = {}
    duplicates = []
    for function, properties in API_FUNCTIONS.items():
        for event, route_properties in _api_events(properties).items():
            route = (route_properties["Method"].upper(), route_properties["Path"])
            # Then no (method, path) belongs to two events
            if route in seen:
                duplicates.append(f"{route} in {seen[route]} and {function}.{event}")
            seen[route] = f"{function}.{event}"
    assert not duplicates, duplicates


def test_every_route_belongs_to_the_one_rest_api() -> None:
    # Given every Api event
    # Then it names the project's API; without RestApiId SAM makes an implicit API with no
    # authorizer, throttling or access log
    strays = [
        f"{function}.{event}"
        for function, properties in API_FUNCTIONS.items()
        for event, route_properties in _api_events(properties).items()
        if route_properties.get("RestApiId") != {"Ref": API_RESOURCE}
    ]
    assert not strays, f"Api events without RestApiId: !Ref {API_RESOURCE}: {strays}"


def test_default_authorizer_is_the_key_authorizer(template: dict[str, Any]) -> None:
    # Given the REST API's auth settings
    auth = template["Resources"][API_RESOURCE]["Properties"]["Auth"]
    authorizers = auth["Authorizers"]
    # Then the default is the key authorizer, and every authorizer is a REQUEST Lambda
    # authorizer keyed on the Authorization header (the cache key must include the secret)
    assert auth["DefaultAuthorizer"] == DEFAULT_AUTHORIZER
    for name, authorizer in authorizers.items():
        assert authorizer["FunctionPayloadType"] == "REQUEST", name
        assert "Authorization" in authorizer["Identity"]["Headers"], name
    used = set(NON_DEFAULT_AUTH.values()) - {"NONE"}
    assert used <= set(authorizers), (
        f"allowlist names undefined authorizers {used - set(authorizers)}"
    )


def _deployed_authorization(translated: dict[str, Any]) -> dict[Route, str]:
    """Per route, the authorizer in the OpenAPI body SAM generates for API Gateway."""
    body = translated["Resources"][API_RESOURCE]["Properties"]["Body"]
    found: dict[Route, str] = {}
    for path, operations in body["paths"].items():
        for method, operation in operations.items():
            if method == "options":  # CORS preflight: browsers send it without credentials
                continue
            security = operation.get("security") or [{"NONE": []}]
            found[(method.upper(), path)] = next(iter(security[0]), "NONE")
    return found


def test_every_route_uses_the_default_authorizer_unless_allowlisted(
    translated_template: dict[str, Any],
) -> None:
    # Given the API as SAM deploys it (the template's Auth merged into the OpenAPI body)
    deployed = _deployed_authorization(translated_template)
    # When each route's authorizer is compared with the default and the allowlist
    wrong = {
        route: authorizer
        for route, authorizer in deployed.items()
        if authorizer != NON_DEFAULT_AUTH.get(route, DEFAULT_AUTHORIZER)
    }
    stale = sorted(set(NON_DEFAULT_AUTH) - set(deployed))
    # Then every route is authorized as expected, and the allowlist names only real routes
    assert not wrong, (
        f"routes authorized differently than expected (route: actual): {wrong}; expected "
        f"{DEFAULT_AUTHORIZER} except {NON_DEFAULT_AUTH}"
    )
    assert not stale, f"NON_DEFAULT_AUTH lists routes the API does not have: {stale}"
