"""The REST API kernel: one resolver factory and handler entry, the caller's identity and
roles, the error envelope, body limits, ETag / If-None-Match, ``fields=`` selection, cursor
pages and JSON responses.

Handlers stay thin: a route declares its roles and body with ``@endpoint``, calls one logic
function and returns ``json_response(...)``. Every error, whoever raises it, leaves through
``_error_response``.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import BaseModel, ValidationError

from agenthub.errors import (
    AppError,
    BadRequest,
    DependencyUnavailable,
    Forbidden,
    NotFound,
    OriginNotAllowed,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    is_transient,
)
from agenthub.models import ID_PATTERN
from agenthub.observability import logger, record_server_error
from agenthub.origins import origin_allowed
from agenthub.pagination import CursorCodec, codec_from_secret
from agenthub.roles import ALL_ROLES, MANAGERS, WRITERS  # noqa: F401 - routes take them from here
from agenthub.runtime import entry
from agenthub.settings import ApiSettings, load_settings

JSON = "application/json"
# Where routes are declared: a function's resolver, or a router it includes.
Routes = APIGatewayRestResolver | Router

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
PUBLIC_PREFIX = "/v1/public/"
_PATH_ID = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the authorizer established it (see identity.handlers.authorizer)."""

    tenant_id: str
    key_id: str
    key_type: str  # "secret" | "publishable"
    role: str | None = None
    agent_id: str | None = None
    allowed_origins: tuple[str, ...] = field(default_factory=tuple)

    @property
    def actor(self) -> dict[str, Any]:
        kind = "api_key" if self.key_type == "secret" else "publishable_key"
        return {"kind": kind, "key_id": self.key_id, "role": self.role}


def make_resolver() -> APIGatewayRestResolver:
    """A REST (payload 1.0) resolver with our error envelope. Functions enter it through
    ``api_handler()``, which guards body size and type first.

    Powertools' own validation middleware is off on purpose: it costs ~90 ms of cold start
    (the OpenAPI machinery) and validates the body before anything else, so a viewer's
    malformed request would get a 422 instead of its 403. Routes declare their roles and body
    model with ``@endpoint`` instead; the docs function reads those declarations."""
    app = APIGatewayRestResolver()

    @app.exception_handler(AppError)
    def _app_error(exc: AppError) -> Response:
        if exc.status >= 500:
            # Details of a server-side failure go to the log, never to the client.
            logger().exception(
                "request failed", extra={"error_code": exc.code, "details": exc.details}
            )
            if exc.status == 500:
                record_server_error()
                return _error_response(app, AppError("internal error"))
            stripped = copy.copy(exc)
            stripped.details = None
            return _error_response(app, stripped)
        return _error_response(app, exc)

    @app.not_found
    def _not_found(exc: NotFoundError) -> Response:
        return _error_response(app, NotFound("no such route"))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # Never leak internals: the envelope says nothing, the log has the traceback.
        logger().exception("unhandled error")
        if is_transient(exc):
            return _error_response(
                app, DependencyUnavailable("a service we depend on is busy; retry shortly")
            )
        record_server_error()
        return _error_response(app, AppError("internal error"))

    return app


def _clean(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validation details a client can act on: where and what, never the raw input."""
    return [
        {
            "loc": ["body", *(str(part) for part in e.get("loc", ()))],
            "type": e.get("type"),
            "msg": e.get("msg"),
        }
        for e in errors
    ]


def _error_response(app: APIGatewayRestResolver, exc: AppError) -> Response:
    headers = {"Cache-Control": "no-store", **exc.headers}
    if app.current_event.path.startswith(PUBLIC_PREFIX):
        # The widget must be able to read why it was refused (no data is in an error).
        headers.update(public_cors(app))
    return Response(
        status_code=exc.status,
        content_type=JSON,
        body=json.dumps(exc.envelope(), separators=(",", ":")),
        headers=headers,
    )


def api_handler(
    app: APIGatewayRestResolver,
    settings: type[ApiSettings] = ApiSettings,
    *,
    too_large_hint: str = "",
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler of a REST function (``handler = api_handler(app, Settings)``): the
    function's entry (settings, log context, metrics), then oversized (413, with
    ``too_large_hint`` saying what to do instead) and non-JSON (415) bodies are refused before
    anything parses them, then the route runs. A misconfigured deployment answers the 500
    envelope (counted as a server error), not a Lambda error."""

    @entry(settings, misconfigured=_misconfigured)
    def handler(event: dict[str, Any], context: Any, loaded: ApiSettings) -> dict[str, Any]:
        refused = _check_body(event, loaded.max_body_bytes, too_large_hint)
        if refused is not None:
            return _raw_error(refused)
        return app.resolve(event, context)

    return handler


def _misconfigured() -> dict[str, Any]:
    record_server_error()
    return _raw_error(AppError("internal error"))


def _raw_error(exc: AppError) -> dict[str, Any]:
    return {
        "statusCode": exc.status,
        "headers": {"Content-Type": JSON, "Cache-Control": "no-store"},
        "body": json.dumps(exc.envelope(), separators=(",", ":")),
        "isBase64Encoded": False,
    }


def _check_body(event: Mapping[str, Any], max_body_bytes: int, hint: str = "") -> AppError | None:
    if event.get("httpMethod") not in BODY_METHODS:
        return None
    raw = event.get("body") or ""
    size = len(raw) * 3 // 4 if event.get("isBase64Encoded") else len(raw.encode())
    if size > max_body_bytes:
        return PayloadTooLarge(
            f"request body exceeds {max_body_bytes} bytes" + (f"; {hint}" if hint else ""),
            details={"limit_bytes": max_body_bytes},
        )
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    content_type = (headers.get("content-type") or "").split(";")[0].strip().lower()
    if raw and content_type and content_type != JSON:
        return UnsupportedMediaType("send application/json")
    return None


@dataclass(frozen=True)
class EndpointSpec:
    """What a route declares: who may call it and the body it accepts (read by the docs)."""

    roles: frozenset[str]
    body: type[BaseModel] | None


def endpoint(
    app: Routes,
    *,
    roles: frozenset[str],
    body: type[BaseModel] | None = None,
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Declare a secret-key route's roles and body model. The caller is checked first (401,
    then 403), then the body is parsed (400, 422), then the route runs as
    ``func(who, [body,] **path_params)``."""

    def decorate(func: Callable[..., Response]) -> Callable[..., Response]:
        def wrapper(**path_params: str) -> Response:
            who = caller(app, roles)
            check_path_ids(path_params)
            if body is None:
                return func(who, **path_params)
            return func(who, parse_body(app, body), **path_params)

        # Keep the route's public face (name, doc, path parameters) for Powertools' OpenAPI.
        signature = inspect.signature(func)
        wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p for p in signature.parameters.values() if p.name not in ("who", "body")]
        )
        wrapper.__name__ = func.__name__
        wrapper.__qualname__ = func.__qualname__
        wrapper.__doc__ = func.__doc__
        wrapper.__module__ = func.__module__
        wrapper.endpoint_spec = EndpointSpec(roles=roles, body=body)  # type: ignore[attr-defined]
        return wrapper

    return decorate


def accepts(
    body: type[BaseModel],
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Document the body of a route that authenticates by other means (the admin route)."""

    def decorate(func: Callable[..., Response]) -> Callable[..., Response]:
        func.endpoint_spec = EndpointSpec(roles=frozenset(), body=body)  # type: ignore[attr-defined]
        return func

    return decorate


def check_path_ids(path_params: Mapping[str, str]) -> None:
    """An id that cannot be one of ours is simply not found (and never reaches DynamoDB)."""
    for value in path_params.values():
        if not _PATH_ID.match(value):
            raise NotFound("not found")


def parse_body[M: BaseModel](app: Routes, model: type[M], *, required: bool = True) -> M:
    """The JSON body as ``model``: 400 when missing (unless not ``required``: then an empty
    object) or not JSON, 422 when invalid."""
    event = app.current_event
    raw = event.decoded_body if event.is_base64_encoded else event.body
    if not raw:
        if not required:
            return model()
        raise BadRequest("a JSON body is required")
    try:
        json.loads(raw)  # 400s: not JSON at all, or nested past the parser's stack
    except ValueError:
        raise BadRequest("request body is not valid JSON") from None
    except RecursionError:
        # json's C decoder recurses per nesting level (thousands deep exhaust the stack).
        raise BadRequest("request body is nested too deeply") from None
    try:
        # JSON mode: strict types still read dates, times and enums from their JSON strings
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ValidationFailed("request is invalid", details=_clean(exc.errors())) from None


def caller(app: Routes, roles: frozenset[str] | None = None) -> Caller:
    """The authenticated secret-key caller, with its role checked against ``roles``."""
    found = _caller_from_context(app)
    if found.key_type != "secret":
        raise Forbidden("this route needs a secret key")
    if roles is not None and found.role not in roles:
        raise Forbidden(f"role '{found.role}' may not do this", details={"allowed": sorted(roles)})
    return found


def publishable_caller(app: Routes, agent_id: str) -> Caller:
    """A widget caller: a publishable key for ``agent_id`` used from one of its origins.

    The authorizer checks the Origin too, but its result is cached per key, so the origin is
    checked again here on every request. Another agent's id is a 404, like another tenant's.
    """
    found = _caller_from_context(app)
    if found.key_type != "publishable":
        raise Forbidden("this route needs a publishable key")
    check_path_ids({"agentId": agent_id})
    if found.agent_id != agent_id:
        raise NotFound("agent not found")
    origin = app.current_event.headers.get("origin")
    if not origin or not origin_allowed(origin, found.allowed_origins):
        raise OriginNotAllowed("this origin may not use this key")
    return found


def _proxy_event(app: Routes) -> APIGatewayProxyEvent:
    event: APIGatewayProxyEvent = app.current_event  # type: ignore[assignment]
    return event


def _caller_from_context(app: Routes) -> Caller:
    context = _proxy_event(app).request_context.authorizer.raw_event or {}
    tenant_id = context.get("tenantId")
    key_id = context.get("keyId")
    if not tenant_id or not key_id:
        raise Unauthorized("missing or invalid API key")
    origins = tuple(o for o in (context.get("allowedOrigins") or "").split(" ") if o)
    return Caller(
        tenant_id=tenant_id,
        key_id=key_id,
        key_type=context.get("keyType", "secret"),
        role=context.get("role") or None,
        agent_id=context.get("agentId") or None,
        allowed_origins=origins,
    )


def client_address(app: Routes) -> str | None:
    """The visitor's address: through the widget's CloudFront distribution, the viewer's
    (``CloudFront-Viewer-Address``, "ip:port"; API Gateway's ``sourceIp`` would be the edge
    server's), else the address API Gateway saw (``sourceIp``)."""
    viewer = _proxy_event(app).headers.get("cloudfront-viewer-address")
    if viewer:
        return viewer.rsplit(":", 1)[0].strip("[]")
    return _proxy_event(app).request_context.identity.source_ip or None


def public_cors(app: Routes) -> dict[str, str]:
    """CORS headers of a public (widget) route: the caller's Origin may read the answer. The
    origin was checked against the key's allowed origins before any data was read."""
    origin = app.current_event.headers.get("origin")
    if not origin:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "Retry-After",
        "Vary": "Origin",
    }


def etag_for(body: str) -> str:
    return '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


def json_response(
    app: Routes,
    data: Any,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    conditional: bool = False,
    etag: str | None = None,
) -> Response:
    """Serialize ``data``; with ``conditional`` add an ETag (``etag``, or a hash of the body)
    and answer 304 Not Modified when If-None-Match names it."""
    body = json.dumps(data, separators=(",", ":"), default=str)
    out = {"Cache-Control": "no-store", **(headers or {})}
    if conditional:
        tag = etag or etag_for(body)
        out["ETag"] = tag
        if tag in _if_none_match(app):
            return Response(status_code=304, body="", headers=out)
    return Response(status_code=status, content_type=JSON, body=body, headers=out)


def _if_none_match(app: Routes) -> set[str]:
    raw = app.current_event.headers.get("if-none-match") or ""
    return {part.strip().removeprefix("W/") for part in raw.split(",") if part.strip()}


def no_content() -> Response:
    return Response(status_code=204, body="", headers={"Cache-Control": "no-store"})


def select_fields(app: Routes, data: dict[str, Any], allowed: Iterable[str]) -> dict[str, Any]:
    """Apply ``?fields=a,b`` (top-level names); an unknown name is a 400 naming it."""
    raw = app.current_event.get_query_string_value("fields")
    if not raw:
        return data
    wanted = [name.strip() for name in raw.split(",") if name.strip()]
    allowed_set = set(allowed)
    unknown = sorted(set(wanted) - allowed_set)
    if unknown:
        raise BadRequest("unknown fields requested", details={"unknown": unknown})
    return {name: data[name] for name in wanted if name in data}


def paginated[T](
    app: Routes,
    who: Caller,
    load: Callable[[int, dict[str, Any] | None], tuple[Sequence[T], dict[str, Any] | None]],
    *,
    view: Callable[[T], dict[str, Any]],
    limit: int = 20,
    max_limit: int = 100,
    fields: Iterable[str] | None = None,
    query: BaseModel | None = None,
) -> Response:
    """One page of a list: ``?limit=`` (1 to ``max_limit``), ``?cursor=`` and, with
    ``fields``, ``?fields=``. ``load(limit, start_key)`` returns the items and DynamoDB's last
    evaluated key. Cursors are signed and bound to the route, its path ids, the caller's
    tenant and ``query`` (the list's filters): any other use is a 400."""
    size = query_int(app, "limit", limit, low=1, high=max_limit)
    if fields is not None:
        select_fields(app, {}, fields)  # an unknown field is a 400 even when nothing is listed
    event = _proxy_event(app)
    scope = json.dumps(
        [
            event.resource,
            sorted((event.path_parameters or {}).items()),
            who.tenant_id,
            query.model_dump(mode="json") if query is not None else None,
        ],
        separators=(",", ":"),
    )
    cursor = event.get_query_string_value("cursor")
    start = _cursors().decode(cursor, scope=scope, tenant_id=who.tenant_id) if cursor else None
    items, last_key = load(size, start)
    shown = [view(item) for item in items]
    if fields is not None:
        shown = [select_fields(app, item, fields) for item in shown]
    next_cursor = _cursors().encode(last_key, scope=scope) if last_key else None
    return json_response(app, {"items": shown, "next_cursor": next_cursor})


def _cursors() -> CursorCodec:
    return codec_from_secret(load_settings(ApiSettings).signing_secret_arn)


def query_int(app: Routes, name: str, default: int, *, low: int, high: int) -> int:
    raw = app.current_event.get_query_string_value(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"'{name}' must be between {low} and {high}")
    return value
