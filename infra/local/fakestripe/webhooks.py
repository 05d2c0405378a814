"""Signed webhook deliveries, as Stripe sends them, with the controls tests need.

Each event goes to every enabled endpoint of its account whose ``enabled_events`` match, and
an event of a connected account also to its platform's Connect endpoints (with ``account``
set). A delivery is a POST of the event's JSON with
``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``, signed when
sent (a replay carries a fresh timestamp, as Stripe's retries do). A non-2xx answer or a
connection error is retried after ``retry_delays`` (Stripe retries for three days; locally
seconds), then given up and logged.

Controls: ``hold()`` keeps deliveries back until ``release(order=...)`` sends them in their
order, reversed, or shuffled; ``delay_seconds`` postpones every new delivery; ``replay()``
sends an event again (the same event id: a duplicate, as Stripe may send). ``log`` records
every attempt; ``wait_idle()`` blocks until nothing is pending.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from infra.local.fakestripe.store import Account, Store


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` header for ``payload``, as Stripe computes it."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class Delivery:
    event: dict[str, Any]
    url: str
    secret: str
    endpoint_id: str
    not_before: float = 0.0
    attempts: int = 0
    sequence: int = 0


@dataclass
class Attempt:
    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    attempt: int
    status: int | None  # None: connection failed
    at: float = field(default_factory=time.time)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _matches(endpoint: dict[str, Any], event_type: str) -> bool:
    enabled = endpoint.get("enabled_events") or ["*"]
    return "*" in enabled or event_type in enabled


class Webhooks:
    def __init__(
        self,
        store: Store,
        *,
        retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0),
        timeout: float = 10.0,
    ) -> None:
        self.store = store
        self.retry_delays = retry_delays
        self.timeout = timeout
        self.delay_seconds = 0.0
        self.log: list[Attempt] = []
        self._pending: list[Delivery] = []
        self._held = False
        self._sequence = 0
        self._busy = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- producing
    def emit(self, account: Account, event: dict[str, Any]) -> None:
        """Queue ``event`` (already stored in ``account``) for every matching endpoint."""
        targets = [
            (e, event)
            for e in account.of_type("webhook_endpoint")
            if not e.get("application") and _matches(e, event["type"]) and e["status"] == "enabled"
        ]
        if account.platform_id:
            platform = self.store.accounts[account.platform_id]
            connect_event = {**event, "account": account.id}
            targets += [
                (e, connect_event)
                for e in platform.of_type("webhook_endpoint")
                if e.get("application") and _matches(e, event["type"]) and e["status"] == "enabled"
            ]
        for endpoint, body in targets:
            self._queue(Delivery(body, endpoint["url"], endpoint["secret"], endpoint["id"]))

    def _queue(self, delivery: Delivery) -> None:
        with self._cond:
            self._sequence += 1
            delivery.sequence = self._sequence
            delivery.not_before = time.monotonic() + self.delay_seconds
            self._pending.append(delivery)
            self._cond.notify_all()

    # ---------------------------------------------------------------- controls
    def hold(self) -> None:
        with self._cond:
            self._held = True

    def release(self, order: str = "sent", seed: int | None = None) -> int:
        """Send what was held: in ``order`` "sent", "reverse" or "shuffle"; returns how many."""
        with self._cond:
            self._pending.sort(key=lambda d: d.sequence)
            if order == "reverse":
                self._pending.reverse()
            elif order == "shuffle":
                random.Random(seed).shuffle(self._pending)
            elif order != "sent":
                raise ValueError("order is sent, reverse or shuffle")
            for index, delivery in enumerate(self._pending):
                delivery.sequence = index  # the dispatcher sends the lowest first
                delivery.not_before = 0.0
            self._held = False
            self._cond.notify_all()
            return len(self._pending)

    def replay(self, event_id: str, times: int = 1) -> int:
        """Send a stored event again ``times`` times to each endpoint that would get it."""
        found = self.store.find_event(event_id)
        if found is None:
            raise KeyError(event_id)
        account, event = found
        for _ in range(times):
            self.emit(account, event)
        return times

    def pending(self) -> list[dict[str, Any]]:
        with self._cond:
            return [
                {"event_id": d.event["id"], "type": d.event["type"], "url": d.url}
                for d in sorted(self._pending, key=lambda d: d.sequence)
            ]

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no delivery is pending or in flight (held ones count as pending)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def clear(self) -> None:
        with self._cond:
            self._pending.clear()
            self.log.clear()
            self._held = False
            self.delay_seconds = 0.0

    # ---------------------------------------------------------------- dispatching
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fakestripe-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(2)

    def _next(self) -> Delivery | None:
        with self._cond:
            while not self._stop.is_set():
                now = time.monotonic()
                ready = [] if self._held else [d for d in self._pending if d.not_before <= now]
                if ready:
                    chosen = min(ready, key=lambda d: d.sequence)
                    self._pending.remove(chosen)
                    self._busy += 1
                    return chosen
                self._cond.wait(0.05)
        return None

    def _run(self) -> None:
        while True:
            delivery = self._next()
            if delivery is None:
                return
            try:
                self._attempt(delivery)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _attempt(self, delivery: Delivery) -> None:
        payload = json.dumps(delivery.event, indent=2).encode()
        header = sign(payload, delivery.secret, self.store.now())
        delivery.attempts += 1
        status = _post(delivery.url, payload, header, self.timeout)
        self.log.append(
            Attempt(
                delivery.event["id"],
                delivery.event["type"],
                delivery.endpoint_id,
                delivery.url,
                delivery.attempts,
                status,
            )
        )
        if status is not None and 200 <= status < 300:
            return
        if delivery.attempts <= len(self.retry_delays):
            with self._cond:
                delivery.not_before = time.monotonic() + self.retry_delays[delivery.attempts - 1]
                self._pending.append(delivery)


def _post(url: str, payload: bytes, signature: str, timeout: float) -> int | None:
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": signature,
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }
    try:
        connection.request("POST", path or "/", body=payload, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        connection.close()
