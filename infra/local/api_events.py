"""REST (payload 1.0) events, built by SAM CLI's own ``construct_v1_event``.

SAM's constructor reads a Flask request; :class:`EventRequest` gives it one made from our
parsed HTTP request. Where sam local departs from API Gateway we follow API Gateway, and say so
in docs/local-runtime.md:

- repeated headers stay separate in ``multiValueHeaders`` (werkzeug joins them with commas),
  and ``headers`` holds the last value; header names keep the client's spelling;
- every request gets its own ``requestId`` and time (SAM computes them once, at import);
- ``requestContext.identity.userAgent`` is the caller's User-Agent.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl

from infra.local.server import HttpRequest


class _Headers:
    """The slice of werkzeug's Headers SAM's constructor and identity sources use."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        self._names: dict[str, str] = {}
        for name, value in pairs:
            lowered = name.lower()
            if lowered not in self._names:
                self._names[lowered] = name
                self._values[lowered] = []
            self._values[lowered].append(value)

    def keys(self) -> list[str]:
        return list(self._names.values())

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self._values.get(name.lower())
        return values[-1] if values else default

    def getlist(self, name: str) -> list[str]:
        return list(self._values.get(name.lower(), ()))

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._values


class _Args:
    def __init__(self, query: str) -> None:
        self._lists: dict[str, list[str]] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            self._lists.setdefault(key, []).append(value)

    def lists(self) -> list[tuple[str, list[str]]]:
        return list(self._lists.items())


class EventRequest:
    """A Flask-request look-alike for ``samcli.local.apigw.event_constructor``."""

    scheme = "http"

    def __init__(
        self, request: HttpRequest, endpoint: str, view_args: dict[str, str], port: int
    ) -> None:
        self.request = request
        self.endpoint = endpoint
        self.view_args = view_args
        self.method = request.method
        self.path = request.path
        self.remote_addr = request.remote_addr
        self.environ = {"SERVER_PROTOCOL": request.version}
        self.headers = _Headers(request.headers)
        self.host = self.headers.get("Host") or f"127.0.0.1:{port}"
        self.args = _Args(request.query)
        self.query_string = request.query.encode("latin-1")
        content_type = self.headers.get("Content-Type") or ""
        self.mimetype = content_type.split(";", 1)[0].strip().lower()

    def get_data(self) -> bytes:
        return self.request.body

    # Set by the gateway before SAM's response parser runs: that parser matches the Accept
    # header for every response, but the match only matters for a base64 body.
    may_be_base64 = True

    @cached_property
    def accept_mimetypes(self) -> Any:
        if not self.may_be_base64:
            return _NO_MATCH
        from werkzeug.datastructures import MIMEAccept
        from werkzeug.http import parse_accept_header

        return parse_accept_header(self.headers.get("Accept"), MIMEAccept)


class _NoMatch:
    @staticmethod
    def best_match(matches: Any, default: Any = None) -> Any:
        return default


_NO_MATCH = _NoMatch()


def build_event(
    request: EventRequest,
    *,
    port: int,
    binary_types: list[str],
    stage_name: str | None,
    stage_variables: dict[str, str] | None,
    operation_name: str | None,
    api_type: str,
) -> dict[str, Any]:
    """The proxy event sam local would send, with the fixes listed in the module docstring."""
    from samcli.local.apigw.event_constructor import construct_v1_event

    event = construct_v1_event(
        request,
        port,
        binary_types,
        stage_name=stage_name,
        stage_variables=stage_variables,
        operation_name=operation_name,
        api_type=api_type,
    )
    context = event["requestContext"]
    now = time.time()
    context["requestId"] = str(uuid.uuid4())
    context["requestTimeEpoch"] = int(now * 1000)
    context["requestTime"] = datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    context["identity"]["userAgent"] = request.headers.get("User-Agent")
    return event
