"""The fake's HTTP server: Stripe's v1 API surface, idempotency keys, fault injection, the
``/_fake/`` controls and a minimal hosted Checkout page.

Requests: ``Authorization: Bearer <sk_|rk_ key>`` (or Basic, as the SDK can send) names the
account; ``Stripe-Account: acct_…`` acts on a connected account of that platform. POST bodies
are form-encoded; GET parameters are in the query. Responses are JSON with ``Request-Id``.

Idempotency, as Stripe documents it: a POST with ``Idempotency-Key`` that succeeded (or failed
with a 5xx or 402) is stored per account; the same key with the same parameters answers the
stored response again with ``Idempotent-Replayed: true``; with other parameters it is a 400
``idempotency_error``; while the first is still running, a 409. Validation errors (other
4xx) are not stored, so a corrected retry may reuse the key.

Faults (``add_fault``): the next N requests matching a method and path prefix get a status
(503, 500, 429), a delay, or a dropped connection (the SDK's ``APIConnectionError``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from infra.local.fakestripe import billing, forms, payments  # noqa: F401 - billing registers routes
from infra.local.fakestripe.api import Call, StripeError, find_route
from infra.local.fakestripe.store import IdempotencyRecord, Store
from infra.local.fakestripe.webhooks import Webhooks

STORED_ERROR_STATUSES = frozenset({402}) | frozenset(range(500, 600))
KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")


@dataclass
class Fault:
    status: int | None = None  # answer this status (Stripe's api_error body)
    drop: bool = False  # close the connection without answering
    delay_seconds: float = 0.0  # answer late (a slow Stripe)
    times: int | None = 1  # None = until cleared
    method: str | None = None
    path_prefix: str = "/v1/"

    def matches(self, method: str, path: str) -> bool:
        return (self.method in (None, method)) and path.startswith(self.path_prefix)


class FakeStripe:
    """Start with :meth:`start`; ``url`` is the SDK's base address."""

    def __init__(self, *, retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)) -> None:
        self.store = Store()
        self.webhooks = Webhooks(self.store, retry_delays=retry_delays)
        self.store.listeners.append(self.webhooks.emit)
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) of /v1 calls
        self._in_flight: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # ---------------------------------------------------------------- lifecycle
    def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeStripe:
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fakestripe", daemon=True
        )
        self._thread.start()
        self.webhooks.start()
        return self

    def stop(self) -> None:
        self.webhooks.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every account, object, event, delivery and fault."""
        self.webhooks.clear()
        self.store.reset()
        with self._lock:
            self.faults.clear()
            self.requests.clear()

    # ---------------------------------------------------------------- controls (also over HTTP)
    def add_fault(self, **fields: Any) -> Fault:
        fault = Fault(**fields)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def add_webhook_endpoint(self, api_key: str, url: str, *, connect: bool = False) -> str:
        """Register a webhook endpoint of ``api_key``'s account (as in Stripe's dashboard);
        returns its signing secret. ``connect``: the platform's endpoint for events of its
        connected accounts."""
        params = {"url": url, "connect": "true" if connect else "false"}
        account = self.store.account_for_key(api_key)
        call = Call(self.store, account, params, {}, self.url)
        with self.store.lock:
            return str(payments.create_webhook_endpoint(call)["secret"])

    def complete_checkout(self, session_id: str, outcome: str = "paid") -> dict[str, Any]:
        return payments.complete_session(self.store, session_id, outcome)

    def settle_async_payment(self, session_id: str, succeeded: bool = True) -> dict[str, Any]:
        return payments.settle_async_payment(self.store, session_id, succeeded)

    def pay_payment_link(self, link_id: str, outcome: str = "paid") -> dict[str, Any]:
        return payments.pay_payment_link(self.store, link_id, outcome)

    def advance_clock(self, seconds: int) -> None:
        """Move the fake's clock forward (sessions reach their expires_at)."""
        self.store.offset_seconds += seconds
        payments.expire_due_sessions(self.store)

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        with self.store.lock:
            found = [e for a in self.store.accounts.values() for e in a.events]
        return sorted(
            (e for e in found if event_type in (None, e["type"])), key=lambda e: e["created"]
        )

    def count_requests(self, method: str, path_prefix: str) -> int:
        with self._lock:
            return sum(1 for m, p, _ in self.requests if m == method and p.startswith(path_prefix))

    # ---------------------------------------------------------------- the API
    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def call_api(
        self, method: str, path: str, headers: dict[str, str], params: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Run one API request; returns (status, body, extra headers)."""
        api_key = _api_key(headers.get("authorization", ""))
        if api_key is None:
            raise StripeError(
                401,
                "Invalid API Key provided. Use a secret (sk_) or restricted (rk_) key.",
                type="invalid_request_error",
            )
        account = self.store.account_for_key(api_key)
        connected = headers.get("stripe-account")
        if connected:
            target = self.store.accounts.get(connected)
            if target is None or target.platform_id != account.id:
                raise StripeError(
                    403,
                    f"The provided key does not have access to account '{connected}' (or that "
                    "account does not exist). Application access may have been revoked.",
                    type="invalid_request_error",
                    code="account_invalid",
                )
            account = target
        found = find_route(method, path)
        if found is None:
            raise StripeError(404, f"Unrecognized request URL ({method}: {path}).")
        handler, path_params = found
        key = headers.get("idempotency-key") if method == "POST" else None
        call = Call(self.store, account, params, path_params, self.url, idempotency_key=key)
        if key is None:
            return 200, self._run(handler, call), {}
        fingerprint = hashlib.sha256(
            json.dumps([method, path, params], sort_keys=True).encode()
        ).hexdigest()
        slot = (account.id, key)
        with self._lock:
            record = account.idempotency.get(key)
            if record is None and slot in self._in_flight:
                raise StripeError(
                    409,
                    "There is currently another in-progress request using this Stripe "
                    "Idempotency-Key. Please try again later.",
                    type="idempotency_error",
                )
            if record is None:
                self._in_flight.add(slot)
        if record is not None:
            if record.fingerprint != fingerprint:
                raise StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    f"they were first used with. Try using a key other than '{key}' if you "
                    "meant to execute a different request.",
                    type="idempotency_error",
                )
            return record.status, json.loads(record.body), {"Idempotent-Replayed": "true"}
        try:
            try:
                status, body = 200, self._run(handler, call)
            except StripeError as exc:
                status, body = exc.status, exc.body
                if status not in STORED_ERROR_STATUSES:
                    raise
            account.idempotency[key] = IdempotencyRecord(
                fingerprint, status, json.dumps(body).encode()
            )
            return status, body, {}
        finally:
            with self._lock:
                self._in_flight.discard(slot)

    def _run(self, handler: Any, call: Call) -> dict[str, Any]:
        payments.expire_due_sessions(self.store)
        with self.store.lock:
            return handler(call)


def _api_key(authorization: str) -> str | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "basic":
        try:
            value = base64.b64decode(value).decode().split(":", 1)[0]
        except ValueError:
            return None
    elif scheme.lower() != "bearer":
        return None
    value = value.strip()
    return value if value.startswith(KEY_PREFIXES) and len(value) > 12 else None


class _Handler(BaseHTTPRequestHandler):
    owner: FakeStripe
    protocol_version = "HTTP/1.1"
    server_version = "FakeStripe/1"

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in two writes; without this, Nagle's algorithm holds the body
        # until the client's delayed ACK (~40 ms a request on loopback).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the test or the runtime reports what matters

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ---------------------------------------------------------------- plumbing
    def _body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode() if length else ""

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any, extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data, indent=2).encode(), "application/json", extra or {})

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parts.query
        try:
            raw = self._body()
            if path.startswith("/_fake/"):
                self._control(method, path, raw)
            elif path.startswith(("/c/pay/", "/c/link/")):
                self._hosted_page(method, path, raw)
            elif path.startswith("/v1/"):
                self._api(method, path, query, raw)
            else:
                self._json(404, {"error": {"type": "invalid_request_error", "message": "no"}})
        except StripeError as exc:
            self._json(exc.status, exc.body)
        except (ValueError, KeyError) as exc:
            self._json(400, {"error": {"type": "invalid_request_error", "message": str(exc)}})

    def _api(self, method: str, path: str, query: str, raw: str) -> None:
        owner = self.owner
        fault = owner.take_fault(method, path)
        if fault is not None:
            if fault.delay_seconds:
                time.sleep(fault.delay_seconds)
            if fault.drop:
                self.close_connection = True
                self.connection.close()
                return
            if fault.status:
                owner.requests.append((method, path, fault.status))
                self._json(
                    fault.status,
                    {"error": {"type": "api_error", "message": "Fake Stripe fault injected."}},
                )
                return
        params = forms.decode(raw if method == "POST" else query)
        params.pop("expand", None)
        headers = {k.lower(): v for k, v in self.headers.items()}
        request_id = "req_" + hashlib.sha256(f"{time.time_ns()}".encode()).hexdigest()[:14]
        try:
            status, body, extra = owner.call_api(method, path, headers, params)
        except StripeError as exc:
            status, body, extra = exc.status, exc.body, {}
        with owner._lock:
            owner.requests.append((method, path, status))
        extra = {"Request-Id": request_id, "Stripe-Version": owner.store.api_version, **extra}
        self._json(status, body, extra)

    # ---------------------------------------------------------------- /_fake/ controls
    def _control(self, method: str, path: str, raw: str) -> None:
        data = json.loads(raw) if raw.strip() else {}
        for (verb, pattern), action in _CONTROLS.items():
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                self._json(200, action(self.owner, data, *match.groups()))
                return
        raise StripeError(404, f"no control {method} {path}")

    # ---------------------------------------------------------------- hosted pages
    def _hosted_page(self, method: str, path: str, raw: str) -> None:
        """A stand-in for checkout.stripe.com: shows the amount and a Pay button. Paying
        completes the session and redirects to its success_url, as hosted Checkout does."""
        kind, object_id = path.split("/")[2], path.split("/")[3]
        owner = self.owner
        if method == "POST":
            outcome = forms.decode(raw).get("outcome", "paid")
            if kind == "pay":
                session = owner.complete_checkout(object_id, outcome)
            else:
                session = owner.pay_payment_link(object_id, outcome)
            target = (session.get("success_url") or "").replace(
                "{CHECKOUT_SESSION_ID}", session["id"]
            )
            if target:
                self._send(303, b"", "text/plain", {"Location": target})
            else:
                page = "<!doctype html><title>Paid</title><h1>Thanks for your payment</h1>"
                self._send(200, page.encode(), "text/html; charset=utf-8", {})
            return
        payments.expire_due_sessions(owner.store)
        found = owner.store.find(object_id)
        if found is None:
            self._send(404, b"<h1>Not found</h1>", "text/html", {})
            return
        obj = found[1]
        amount = obj.get("amount_total", obj.get("_amount_total", 0))
        status = obj.get("status", "open" if obj.get("active") else "inactive")
        label = f"{amount / 100:.2f} {str(obj.get('currency', '')).upper()}"
        button = (
            f'<form method="post"><input type="hidden" name="outcome" value="paid">'
            f'<button id="pay" type="submit">Pay {html.escape(label)}</button></form>'
            if status == "open"
            else f"<p id='status'>This checkout is {html.escape(status)}.</p>"
        )
        page = (
            "<!doctype html><meta charset='utf-8'><title>Fake Stripe Checkout</title>"
            f"<h1>Fake Stripe Checkout</h1><p id='amount'>{html.escape(label)}</p>{button}"
        )
        self._send(200, page.encode(), "text/html; charset=utf-8", {})


def _release(fake: FakeStripe, data: dict[str, Any]) -> dict[str, Any]:
    return {"released": fake.webhooks.release(data.get("order", "sent"), data.get("seed"))}


def _replay(fake: FakeStripe, data: dict[str, Any]) -> dict[str, Any]:
    return {"replayed": fake.webhooks.replay(data["event_id"], int(data.get("times", 1)))}


def _delay(fake: FakeStripe, data: dict[str, Any]) -> dict[str, Any]:
    fake.webhooks.delay_seconds = float(data.get("seconds", 0))
    return {"delay_seconds": fake.webhooks.delay_seconds}


def _deliveries(fake: FakeStripe, data: dict[str, Any]) -> dict[str, Any]:
    attempts = [a.as_json() for a in fake.webhooks.log]
    return {"pending": fake.webhooks.pending(), "attempts": attempts}


def _fault(fake: FakeStripe, data: dict[str, Any]) -> dict[str, Any]:
    fake.add_fault(**data)
    return {"faults": len(fake.faults)}


def _clock(fake: FakeStripe, data: dict[str, Any]) -> dict[str, Any]:
    fake.advance_clock(int(data.get("advance_seconds", 0)))
    return {"offset_seconds": fake.store.offset_seconds}


# /_fake/ controls over HTTP, for the local runtime and tests in another process.
_CONTROLS: dict[tuple[str, str], Any] = {
    ("GET", "/_fake/health"): lambda fake, data: {"status": "ok"},
    ("POST", "/_fake/reset"): lambda fake, data: fake.reset() or {"reset": True},
    ("POST", r"/_fake/checkout/sessions/([\w-]+)/complete"): (
        lambda fake, data, sid: fake.complete_checkout(sid, data.get("outcome", "paid"))
    ),
    ("POST", r"/_fake/checkout/sessions/([\w-]+)/settle"): (
        lambda fake, data, sid: fake.settle_async_payment(sid, bool(data.get("succeeded", True)))
    ),
    ("POST", r"/_fake/payment_links/([\w-]+)/pay"): (
        lambda fake, data, lid: fake.pay_payment_link(lid, data.get("outcome", "paid"))
    ),
    ("POST", "/_fake/webhooks/hold"): lambda fake, data: fake.webhooks.hold() or {"held": True},
    ("POST", "/_fake/webhooks/release"): _release,
    ("POST", "/_fake/webhooks/delay"): _delay,
    ("POST", "/_fake/webhooks/replay"): _replay,
    ("POST", "/_fake/webhooks/wait"): (
        lambda fake, data: {"idle": fake.webhooks.wait_idle(float(data.get("timeout", 10)))}
    ),
    ("GET", "/_fake/webhooks/deliveries"): _deliveries,
    ("GET", "/_fake/events"): lambda fake, data: {"data": fake.events()},
    ("POST", "/_fake/faults"): _fault,
    ("DELETE", "/_fake/faults"): lambda fake, data: fake.clear_faults() or {"faults": 0},
    ("POST", "/_fake/clock"): _clock,
}
