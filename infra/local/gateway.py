"""The API Gateway emulation: routes, proxy events, authorizers, CORS, gateway responses, gzip.

Routes, authorizers and CORS come from SAM CLI's ``ApiProvider``; paths are matched with
werkzeug's router configured exactly as ``LocalApigwService`` configures Flask; events come
from SAM's ``construct_v1_event`` and Lambda output is read by SAM's own parser. Around that
sits what API Gateway does and sam local does not: authorizer caching, gateway responses from
the template, compression, the integration timeout (the 10 MB body limit is in server.py).
Paths under ``/__local__/`` go to the runtime's control endpoints (see infra.local.control).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infra.local.api_events import EventRequest, build_event
from infra.local.authorizers import (
    AuthorizerCache,
    Invoke,
    authorize,
    identity_values,
    method_arn,
)
from infra.local.server import HttpRequest, HttpResponse
from infra.local.template import ApiSpec

LOG = logging.getLogger("infra.local")
CONTROL_PREFIX = "/__local__/"

# API Gateway's own responses: (status, message, x-amzn-ErrorType).
_GATEWAY_DEFAULTS: dict[str, tuple[int, str | None, str]] = {
    "UNAUTHORIZED": (401, "Unauthorized", "UnauthorizedException"),
    "ACCESS_DENIED": (
        403,
        "User is not authorized to access this resource",
        "AccessDeniedException",
    ),
    "MISSING_AUTHENTICATION_TOKEN": (
        403,
        "Missing Authentication Token",
        "MissingAuthenticationTokenException",
    ),
    "AUTHORIZER_FAILURE": (500, None, "AuthorizerFailureException"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, None, "AuthorizerConfigurationException"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out", "InternalServerErrorException"),
}
_DEFAULT_TEMPLATE = '{"message":$context.error.messageString}'
_CONTEXT_VAR = re.compile(r"\$context\.([A-Za-z][A-Za-z0-9.]*)")
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "date"})
# The worker serializes with json.dumps' defaults, so a top-level flag reads exactly like this.
_BASE64_FLAG = re.compile(r'"(?:is)?[bB]ase64Encoded": (?:true|"[tT]rue")')
_LAMBDA_FAILURE = b'{"message": "Internal server error"}'
_NO_INTEGRATION = b'{"message": "No function defined for resource method"}'


@dataclass(frozen=True)
class Prepared:
    """A request API Gateway will send on: its route and its proxy event."""

    route: Any  # samcli.lib.providers.provider.Route
    request: EventRequest
    event: dict[str, Any]
    cors_headers: dict[str, Any]


class ApiGateway:
    """Turns HTTP requests into Lambda invocations the way API Gateway (REST) does."""

    def __init__(
        self,
        spec: ApiSpec,
        invoke: Invoke,
        *,
        functions: set[str],
        authorizer_ttl: int | None = None,
        control: Callable[[HttpRequest], Awaitable[HttpResponse]] | None = None,
        access_log: bool = False,
    ) -> None:
        from samcli.local.apigw.local_apigw_service import CatchAllPathConverter
        from samcli.local.apigw.path_converter import PathConverter
        from werkzeug.routing import Map, Rule

        self.spec = spec
        self.api = spec.api
        self.invoke = invoke
        self.functions = functions
        self.authorizer_ttl = authorizer_ttl
        self.control = control
        self.access_log = access_log
        self.port = 3000
        self.cache = AuthorizerCache()
        self.binary_types = list(self.api.binary_media_types)
        self.routes: dict[tuple[str, str], Any] = {}
        rules = []
        for route in self.api.routes:
            if route.path == "$default":
                LOG.warning("the $default route (HTTP API) is not emulated")
                continue
            path = PathConverter.convert_path_to_flask(route.path)
            for method in route.methods:
                self.routes[(path, method)] = route
            rules.append(Rule(path, endpoint=path, methods=route.methods))
        # As LocalApigwService sets up Flask: catch-all {proxy+}, trailing slash optional.
        url_map = Map(
            rules,
            strict_slashes=False,
            merge_slashes=False,
            redirect_defaults=False,
            converters={"path": CatchAllPathConverter},
        )
        self._urls = url_map.bind("localhost")

    def ttl_for(self, authorizer_name: str) -> int:
        if self.authorizer_ttl is not None:
            return self.authorizer_ttl
        return self.spec.authorizer_ttls.get(authorizer_name, 300)

    def functions_for(self, method: str, path: str) -> list[str]:
        """The function (and authorizer function) that would serve ``method path``."""
        matched = self.match(method, path)
        if matched is None:
            return []
        route = matched[0]
        names = [route.function_name]
        if route.authorizer_object is not None:
            names.append(route.authorizer_object.lambda_name)
        return names

    # ------------------------------------------------------------------ entry point
    async def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer one HTTP request."""
        if self.control is not None and request.path.startswith(CONTROL_PREFIX):
            return await self.control(request)
        started = time.perf_counter()
        response = await self._handle_api(request)
        if self.access_log:
            elapsed = (time.perf_counter() - started) * 1000
            sys.stderr.write(
                f"{request.remote_addr} - - [{datetime.now(UTC):%d/%b/%Y %H:%M:%S}] "
                f'"{request.method} {request.target} {request.version}" {response.status} '
                f"{len(response.body)} {elapsed:.1f}ms\n"
            )
        return response

    def match(self, method: str, path: str) -> tuple[Any, Any, Any] | None:
        """The route serving ``method path`` (SAM's route, its endpoint, the path values)."""
        from werkzeug.exceptions import HTTPException
        from werkzeug.routing import RequestRedirect

        try:
            endpoint, view_args = self._urls.match(path, method)
        except (HTTPException, RequestRedirect):
            return None
        # None for HEAD on a GET route: werkzeug adds HEAD to GET rules, API Gateway does not.
        route = self.routes.get((endpoint, method))
        return (route, endpoint, view_args) if route is not None else None

    def _event(self, event_request: EventRequest, route: Any) -> dict[str, Any]:
        return build_event(
            event_request,
            port=self.port,
            binary_types=self.binary_types,
            stage_name=self.api.stage_name,
            stage_variables=self.api.stage_variables,
            operation_name=route.operation_name if route.event_type == "Api" else None,
            api_type=route.event_type,
        )

    def prepare(self, request: HttpRequest) -> Prepared | HttpResponse:
        """The route and the proxy event for ``request``, or the gateway's own answer (an
        unknown route, a CORS preflight)."""
        from samcli.lib.providers.provider import Cors

        matched = self.match(request.method, request.path)
        if matched is None:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", request)
        route, endpoint, view_args = matched
        cors = route.cors if route.cors is not None else self.api.cors
        cors_headers = Cors.cors_to_headers(cors, request.header("Origin"), route.event_type)
        if request.method == "OPTIONS" and cors:
            # The mock integration SAM generates for preflight: no authorizer, no function.
            return HttpResponse(200, _header_list(cors_headers, "application/json"), b"")
        event_request = EventRequest(request, endpoint, view_args, self.port)
        try:
            event = self._event(event_request, route)
        except UnicodeDecodeError:
            # A text payload that is not UTF-8: API Gateway hands it on as a UTF-8 string with
            # the invalid bytes replaced (sam local would fail with a 502 instead).
            text = request.body.decode("utf-8", errors="replace").encode()
            event_request = EventRequest(
                dataclasses.replace(request, body=text), endpoint, view_args, self.port
            )
            event = self._event(event_request, route)
        return Prepared(route, event_request, event, cors_headers)

    async def _handle_api(self, request: HttpRequest) -> HttpResponse:
        prepared = self.prepare(request)
        if isinstance(prepared, HttpResponse):
            return prepared
        route, event_request, event = prepared.route, prepared.request, prepared.event
        if route.authorizer_object is not None:
            denied = await self._authorize(route.authorizer_object, request, event_request, event)
            if denied is not None:
                return denied
        return await self._integrate(route, request, event_request, event, prepared.cors_headers)

    async def _integrate(
        self,
        route: Any,
        request: HttpRequest,
        event_request: EventRequest,
        event: dict[str, Any],
        cors_headers: dict[str, Any],
    ) -> HttpResponse:
        request_id = event["requestContext"]["requestId"]
        if route.function_name not in self.functions:
            return HttpResponse(502, [("Content-Type", "application/json")], _NO_INTEGRATION)
        result = await self.invoke(route.function_name, event)
        if result.timed_out:
            return self.gateway_response("INTEGRATION_TIMEOUT", request, request_id=request_id)
        if not result.ok:
            return _lambda_failure(request_id)
        return self._proxy_response(result.payload, event_request, route, cors_headers, request_id)

    async def _authorize(
        self, authorizer: Any, request: HttpRequest, event_request: EventRequest, event: dict
    ) -> HttpResponse | None:
        request_id = event["requestContext"]["requestId"]
        values = identity_values(authorizer, event_request, event)
        if values is None:
            return self.gateway_response("UNAUTHORIZED", request, request_id=request_id)
        arn = method_arn(self.api.stage_name, request.method, request.path)
        verdict = await authorize(
            authorizer,
            event,
            values,
            arn,
            ttl=self.ttl_for(authorizer.authorizer_name),
            cache=self.cache,
            invoke=self.invoke,
        )
        if verdict.response_type is not None:
            return self.gateway_response(
                verdict.response_type, request, message=verdict.message, request_id=request_id
            )
        event["requestContext"]["authorizer"] = verdict.context
        return None

    # ------------------------------------------------------------------ responses
    def _proxy_response(
        self,
        payload: str,
        event_request: EventRequest,
        route: Any,
        cors_headers: dict[str, Any],
        request_id: str,
    ) -> HttpResponse:
        from samcli.local.apigw.exceptions import LambdaResponseParseException
        from samcli.local.apigw.local_apigw_service import LocalApigwService

        event_request.may_be_base64 = _BASE64_FLAG.search(payload) is not None
        try:
            status, headers, body = LocalApigwService._parse_v1_payload_format_lambda_output(
                payload, self.binary_types, event_request, route.event_type
            )
        except LambdaResponseParseException as exc:
            LOG.error("%s returned an invalid proxy response: %s", route.function_name, exc)
            return _lambda_failure(request_id)
        # Framing is the gateway's business, whatever the function put in its headers.
        out = [(k, v) for k, v in headers.items() if k.lower() not in _FRAMING_HEADERS]
        present = {name.lower() for name, _ in out}
        # sam local overwrites the function's CORS headers with the API's; API Gateway adds
        # none to proxy responses. We only fill in what the function left out.
        out.extend((k, str(v)) for k, v in cors_headers.items() if k.lower() not in present)
        out.append(("x-amzn-RequestId", request_id))
        data = body if isinstance(body, bytes) else (body or "").encode()
        threshold = self.spec.minimum_compression_size
        if (
            threshold is not None
            and len(data) >= threshold
            and "content-encoding" not in present
            and "gzip" in (event_request.headers.get("Accept-Encoding") or "")
        ):
            data = gzip.compress(data, compresslevel=6, mtime=0)
            out.append(("Content-Encoding", "gzip"))
        return HttpResponse(status, out, data)

    def gateway_response(
        self,
        response_type: str,
        request: HttpRequest,
        *,
        message: str | None = None,
        request_id: str | None = None,
    ) -> HttpResponse:
        """An API Gateway-generated response, as the template's GatewayResponses shape it."""
        status, default_message, error_type = _GATEWAY_DEFAULTS[response_type]
        message = message or default_message
        responses = self.spec.gateway_responses
        family = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        configured = responses.get(response_type) or responses.get(family) or {}
        status = int(configured.get("StatusCode") or status)
        templates = configured.get("ResponseTemplates") or {}
        template = templates.get("application/json") or next(iter(templates.values()), None)
        values = {
            "error.messageString": json.dumps(message),
            "error.message": message or "",
            "error.responseType": response_type,
            "requestId": request_id or "",
            "path": request.path,
            "httpMethod": request.method,
        }
        body = _CONTEXT_VAR.sub(lambda m: values.get(m.group(1), ""), template or _DEFAULT_TEMPLATE)
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type)]
        for name, value in _response_headers(configured.get("ResponseParameters") or {}):
            text = str(value)
            if text.startswith("method.request.header."):
                text = request.header(text.split(".", 3)[3]) or ""
            if text:
                headers.append((name, text.strip("'")))
        if request_id:
            headers.append(("x-amzn-RequestId", request_id))
        return HttpResponse(status, headers, body.encode())


def _response_headers(parameters: dict[str, Any]) -> list[tuple[str, Any]]:
    """A gateway response's headers: SAM's ``Headers`` map, or CloudFormation's
    ``gatewayresponse.header.<name>`` keys. Values are quoted literals or request headers."""
    found = list((parameters.get("Headers") or {}).items())
    prefix = "gatewayresponse.header."
    found += [(k[len(prefix) :], v) for k, v in parameters.items() if k.startswith(prefix)]
    return found


def _lambda_failure(request_id: str) -> HttpResponse:
    headers = [("Content-Type", "application/json")]
    if request_id:
        headers.append(("x-amzn-RequestId", request_id))
    return HttpResponse(502, headers, _LAMBDA_FAILURE)


def _header_list(headers: dict[str, Any], content_type: str) -> list[tuple[str, str]]:
    return [("Content-Type", content_type), *((k, str(v)) for k, v in headers.items())]
