"""The API's documentation: one OpenAPI 3.1 document merged from every domain's resolver, and
Swagger UI (assets bundled with Powertools, so it works offline). Public, no key needed.

This is the one module allowed to import other domains' handlers: it only reads their route
tables to describe them, it never calls them.
"""

from __future__ import annotations

import importlib
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.models import (
    APIKey,
    APIKeyIn,
    Server,
)

from agenthub.http import AnswerSpec, api_handler, make_resolver
from docs.handlers import described
from docs.handlers.described import ERROR_SCHEMA
from scheduling.logic import BookingOffer

app = make_resolver()

TITLE = "AgentHub API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Serverless platform for website AI agents. Authenticate with `Authorization: Bearer sk_...`"
    " (secret key, server side) or `Bearer pk_...` (publishable key, widget, from an allowed"
    ' Origin). Errors are `{"error": {"code", "message", "details"}}`.'
)


# The modules of a domain's handlers/ that hold a route table (``app``): its API, and the
# webhooks it receives from third parties (a function of their own, kept light).
ROUTE_MODULES = ("api", "webhook")


def _domain_resolvers() -> list[APIGatewayRestResolver]:
    """The route table (``app``) of every other domain's ``handlers/api.py`` and
    ``handlers/webhook.py``, found on disk: every function ships the whole functions/ folder."""
    root = Path(__file__).resolve().parents[2]
    own = __name__.split(".")[0]
    found = sorted(
        (p.parent.parent.name, p.stem)
        for name in ROUTE_MODULES
        for p in root.glob(f"*/handlers/{name}.py")
    )
    return [
        importlib.import_module(f"{domain}.handlers.{name}").app
        for domain, name in found
        if domain != own
    ]


@cache
def openapi_json(base_path: str) -> str:
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

    merge = OpenAPIMerge(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        servers=[Server(url=base_path or "/")],
        security_schemes={
            "bearer": APIKey(name="Authorization", in_=APIKeyIn.header),
        },
        security=[{"bearer": []}],
        on_conflict="error",
    )
    answers: dict[tuple[str, str], AnswerSpec] = {}
    for resolver in _domain_resolvers():
        answers.update(_declared_answers(resolver))
        schema = resolver.get_openapi_schema(title=TITLE, version=VERSION)
        merge.add_schema(
            _with_declared_bodies(resolver, schema.model_dump(by_alias=True, exclude_none=True))
        )
    document = json.loads(merge.get_openapi_json_schema())
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    offer = BookingOffer.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(offer.pop("$defs", {}))
    components["BookingOffer"] = offer
    for path, item in document["paths"].items():
        for method, operation in item.items():
            answer = answers.get((method.upper(), path))
            has_body = "requestBody" in operation
            described.describe(method.upper(), path, operation, has_body, answer, components)
    return json.dumps(document)


def _declared_answers(resolver: APIGatewayRestResolver) -> dict[tuple[str, str], AnswerSpec]:
    """Each route's ``@answers`` declaration, by method and OpenAPI path."""
    return {
        (route.method.upper(), route.openapi_path): route.func.answer_spec
        for route in resolver._static_routes + resolver._dynamic_routes
        if hasattr(route.func, "answer_spec")
    }


def _with_declared_bodies(
    resolver: APIGatewayRestResolver, schema: dict[str, Any]
) -> dict[str, Any]:
    """Add each route's request body from its ``@endpoint``/``@accepts`` declaration (routes
    parse bodies themselves, so Powertools does not see them in the signature)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for route in resolver._static_routes + resolver._dynamic_routes:
        spec = getattr(route.func, "endpoint_spec", None)
        if spec is None or spec.body is None:
            continue
        body_schema = spec.body.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(body_schema.pop("$defs", {}))
        components[spec.body.__name__] = body_schema
        operation = schema["paths"][route.openapi_path][route.method.lower()]
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{spec.body.__name__}"}
                }
            },
        }
        if spec.roles:
            roles = ", ".join(sorted(spec.roles))
            operation["description"] = f"Roles: {roles}. " + (operation.get("description") or "")
    return schema


def _base_path() -> str:
    stage = app.current_event.request_context.stage
    host = app.current_event.headers.get("host") or ""
    # Behind API Gateway's default domain the stage is part of the path; locally it is not.
    return f"/{stage}" if stage and "execute-api" in host else ""


@app.get("/v1/openapi.json", summary="OpenAPI document", tags=["docs"])
def get_openapi():
    return Response(
        status_code=200,
        content_type="application/json",
        body=openapi_json(_base_path()),
        headers={"Cache-Control": "public, max-age=300"},
    )


@app.get("/v1/docs", summary="Swagger UI", tags=["docs"])
def get_swagger_ui():
    from aws_lambda_powertools.event_handler.openapi import swagger_ui
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    assets = Path(swagger_ui.__file__).parent
    html = generate_swagger_html(
        spec=openapi_json(_base_path()).replace("</", "<\\/"),
        swagger_js=(assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        swagger_css=(assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        swagger_base_url="",
        oauth2_config=None,
    )
    return Response(
        status_code=200,
        content_type="text/html",
        body=html,
        headers={"Cache-Control": "public, max-age=300"},
    )


@app.get("/v1/health", summary="Health", tags=["docs"])
def get_health():
    """What a deployment's smoke test asks first: the function answers through API Gateway,
    and which version of it did (``$LATEST`` outside Lambda)."""
    return Response(
        status_code=200,
        content_type="application/json",
        body=json.dumps(
            {
                "status": "ok",
                "stage": os.environ.get("STAGE", "dev"),
                "version": os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            }
        ),
        headers={"Cache-Control": "no-store"},
    )


handler = api_handler(app)
