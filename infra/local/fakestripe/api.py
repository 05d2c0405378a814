"""The fake's route table, request context and errors in Stripe's shape.

A resource module registers handlers with ``@route(method, path)``; a path names its
parameters like ``/v1/refunds/{id}``. A handler gets the :class:`Call` (who is calling, on
which account, with which parameters) and returns the object to send back (a dict) or raises
:class:`StripeError`. Importing a module registers its routes; ``server`` imports them all.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.local.fakestripe.store import Account, Store

Handler = Callable[["Call"], dict[str, Any]]


class StripeError(Exception):
    """An API error: ``{"error": {"type", "message", "code", "param"}}`` with a status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": {"type": type, "message": message}}
        if code:
            self.body["error"]["code"] = code
        if param:
            self.body["error"]["param"] = param


def not_found(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def invalid(message: str, param: str | None = None) -> StripeError:
    return StripeError(400, message, code="parameter_invalid" if param else None, param=param)


def missing(param: str) -> StripeError:
    message = f"Missing required param: {param}."
    return StripeError(400, message, code="parameter_missing", param=param)


@dataclass
class Call:
    store: Store
    account: Account  # the account the request acts on (a connected one with Stripe-Account)
    params: dict[str, Any]
    path_params: dict[str, str]
    base_url: str
    request_id: str = field(default_factory=lambda: "req_" + secrets.token_hex(7))
    idempotency_key: str | None = None

    @property
    def now(self) -> int:
        return self.store.now()

    def require(self, name: str) -> Any:
        value = self.params.get(name)
        if value in (None, ""):
            raise missing(name)
        return value

    def integer(self, name: str, value: Any, *, minimum: int = 0) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise invalid(f"Invalid integer: {value}", name) from None
        if number < minimum:
            raise invalid(f"{name} must be at least {minimum}", name)
        return number


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


ROUTES: list[Route] = []


def route(method: str, path: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``method path`` (``{name}`` matches one path segment)."""
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")

    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method.upper(), regex, handler))
        return handler

    return register


def find_route(method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
    for candidate in ROUTES:
        if candidate.method != method:
            continue
        match = candidate.pattern.match(path)
        if match:
            return candidate.handler, match.groupdict()
    return None


def new_id(prefix: str) -> str:
    """A Stripe-looking id: ``cs_test_…``, ``pi_…``, ``evt_…``."""
    return f"{prefix}_{secrets.token_hex(12)}"
