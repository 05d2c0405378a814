"""The fake's state: accounts, their objects and events, idempotency records.

Every API key gets an account of its own the first time it is used (as if it had been
created in Stripe's dashboard); a secret or restricted key names one account, so two tenants'
keys never see each other's objects. A platform creates connected accounts
(``POST /v1/accounts``) and acts on them with the ``Stripe-Account`` header.
Objects are plain dicts, exactly what the API returns. One lock guards everything: the fake
serves a test or a developer, not a load test.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class IdempotencyRecord:
    fingerprint: str
    status: int
    body: bytes


@dataclass
class Account:
    id: str
    livemode: bool = False
    platform_id: str | None = None  # set on connected accounts
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    idempotency: dict[str, IdempotencyRecord] = field(default_factory=dict)

    def of_type(self, object_type: str) -> list[dict[str, Any]]:
        return [o for o in self.objects.values() if o.get("object") == object_type]


class Store:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.RLock()
        self.accounts: dict[str, Account] = {}
        self._by_key: dict[str, str] = {}
        self._clock = clock
        self.offset_seconds = 0  # tests move the fake's clock forward
        # Called with (account, event) for each new event (the webhook dispatcher).
        self.listeners: list[Callable[[Account, dict[str, Any]], None]] = []
        self.api_version = "2026-01-28.clover"

    def now(self) -> int:
        return int(self._clock()) + self.offset_seconds

    def account_for_key(self, api_key: str) -> Account:
        """The account an API key belongs to, created on first use."""
        with self.lock:
            account_id = self._by_key.get(api_key)
            if account_id is None:
                digest = hashlib.sha256(api_key.encode()).hexdigest()[:16]
                account_id = self._by_key[api_key] = f"acct_{digest}"
                self.accounts[account_id] = Account(account_id, livemode="_live_" in api_key)
            return self.accounts[account_id]

    def connect(self, platform: Account) -> Account:
        with self.lock:
            account = Account(
                "acct_" + secrets.token_hex(8), livemode=platform.livemode, platform_id=platform.id
            )
            self.accounts[account.id] = account
            return account

    def record_event(
        self,
        account: Account,
        event_type: str,
        obj: dict[str, Any],
        *,
        request_id: str | None = None,
        idempotency_key: str | None = None,
        previous_attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store an event about ``obj`` (a snapshot: later changes do not alter it) and hand
        it to the listeners."""
        import copy

        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous_attributes:
            data["previous_attributes"] = previous_attributes
        event = {
            "id": "evt_" + secrets.token_hex(12),
            "object": "event",
            "api_version": self.api_version,
            "created": self.now(),
            "data": data,
            "livemode": account.livemode,
            "pending_webhooks": 1,
            "request": {"id": request_id, "idempotency_key": idempotency_key},
            "type": event_type,
        }
        with self.lock:
            account.events.append(event)
        for listener in self.listeners:
            listener(account, event)
        return event

    def find(self, object_id: str) -> tuple[Account, dict[str, Any]] | None:
        """An object by id in any account (the fake's controls act on ids alone)."""
        with self.lock:
            for account in self.accounts.values():
                found = account.objects.get(object_id)
                if found is not None:
                    return account, found
        return None

    def find_event(self, event_id: str) -> tuple[Account, dict[str, Any]] | None:
        with self.lock:
            for account in self.accounts.values():
                for event in account.events:
                    if event["id"] == event_id:
                        return account, event
        return None

    def reset(self) -> None:
        with self.lock:
            self.accounts.clear()
            self._by_key.clear()
            self.offset_seconds = 0
