"""Payment resources of the fake: accounts, webhook endpoints, events, products, prices,
Checkout Sessions, Payment Links, Payment Intents (read), charges and refunds.

Objects carry the fields Stripe documents for them that a client of ours reads; parameters
Stripe validates and our code sends are validated here the same way (required params,
``expires_at`` within 30 minutes to 24 hours, amounts, refundable balance, expiring only open
sessions). The customer's side of Checkout (paying, an asynchronous method settling later)
is driven by :func:`complete_session` and :func:`settle_async_payment`, which the server
exposes as ``/_fake/`` controls and as a minimal hosted page.
"""

from __future__ import annotations

import secrets
from typing import Any

from infra.local.fakestripe.api import (
    Call,
    StripeError,
    invalid,
    missing,
    new_id,
    not_found,
    route,
)
from infra.local.fakestripe.store import Account, Store

SESSION_MIN_SECONDS = 30 * 60
SESSION_MAX_SECONDS = 24 * 60 * 60
SESSION_DEFAULT_SECONDS = 24 * 60 * 60
# Stripe's minimum charge is about 0.50 in the major unit of most currencies.
MINIMUM_AMOUNT = 50
ZERO_DECIMAL = frozenset({"jpy", "krw", "vnd", "clp", "pyg", "xaf", "xof", "ugx", "isk"})
EVENT_TYPES_ALL = "*"


def _list(url: str, items: list[dict[str, Any]], limit: Any = 10) -> dict[str, Any]:
    count = max(1, min(100, int(limit or 10)))
    ordered = sorted(items, key=lambda o: o.get("created", 0), reverse=True)
    return {"object": "list", "url": url, "data": ordered[:count], "has_more": len(items) > count}


def _get(call: Call, object_type: str, kind: str) -> dict[str, Any]:
    object_id = call.path_params["id"]
    found = call.account.objects.get(object_id)
    if found is None or found.get("object") != object_type:
        raise not_found(kind, object_id)
    return found


def _metadata(call: Call, name: str = "metadata") -> dict[str, str]:
    value = call.params.get(name) or {}
    if not isinstance(value, dict):
        raise invalid("Invalid object", name)
    if len(value) > 50 or any(len(k) > 40 or len(str(v)) > 500 for k, v in value.items()):
        raise invalid("Metadata can have up to 50 keys of 40 characters and values of 500", name)
    return {k: str(v) for k, v in value.items() if v != ""}


def _currency(value: Any, param: str) -> str:
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise invalid(f"Invalid currency: {value}", param)
    return value.lower()


def _store(call: Call, obj: dict[str, Any]) -> dict[str, Any]:
    call.account.objects[obj["id"]] = obj
    return obj


def _event(call: Call, event_type: str, obj: dict[str, Any], **extra: Any) -> None:
    call.store.record_event(
        call.account,
        event_type,
        obj,
        request_id=call.request_id,
        idempotency_key=call.idempotency_key,
        **extra,
    )


# ---------------------------------------------------------------------------- accounts


@route("GET", "/v1/account")
def retrieve_own_account(call: Call) -> dict[str, Any]:
    return _account_object(call.account)


@route("POST", "/v1/accounts")
def create_account(call: Call) -> dict[str, Any]:
    """A platform creates a connected account (Connect)."""
    if call.account.platform_id:
        raise StripeError(400, "A connected account cannot create accounts")
    return _account_object(call.store.connect(call.account))


@route("GET", "/v1/accounts/{id}")
def retrieve_account(call: Call) -> dict[str, Any]:
    account = call.store.accounts.get(call.path_params["id"])
    own = account is not None and account.id == call.account.id
    connected = account is not None and account.platform_id == call.account.id
    if account is None or not (own or connected):
        raise StripeError(
            403,
            f"The provided key does not have access to account '{call.path_params['id']}' "
            "(or that account does not exist). Application access may have been revoked.",
            type="invalid_request_error",
            code="account_invalid",
        )
    return _account_object(account)


def _account_object(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "object": "account",
        "charges_enabled": True,
        "payouts_enabled": True,
        "details_submitted": True,
        "livemode": account.livemode,
        "type": "standard",
    }


# ---------------------------------------------------------------------------- webhook endpoints


@route("POST", "/v1/webhook_endpoints")
def create_webhook_endpoint(call: Call) -> dict[str, Any]:
    url = call.require("url")
    if not str(url).startswith(("http://", "https://")):
        raise invalid("Invalid URL", "url")
    events = call.params.get("enabled_events") or [EVENT_TYPES_ALL]
    if not isinstance(events, list):
        raise invalid("enabled_events must be a list", "enabled_events")
    connect = str(call.params.get("connect", "false")).lower() == "true"
    endpoint = {
        "id": new_id("we"),
        "object": "webhook_endpoint",
        "url": url,
        "enabled_events": events,
        "status": "enabled",
        "application": "ca_fake" if connect else None,
        "description": call.params.get("description"),
        "metadata": _metadata(call),
        "created": call.now,
        "livemode": call.account.livemode,
        "secret": "whsec_" + secrets.token_urlsafe(24),
    }
    _store(call, endpoint)
    return endpoint  # the secret is returned on creation only


@route("GET", "/v1/webhook_endpoints/{id}")
def retrieve_webhook_endpoint(call: Call) -> dict[str, Any]:
    found = _get(call, "webhook_endpoint", "webhook endpoint")
    return {k: v for k, v in found.items() if k != "secret"}


@route("DELETE", "/v1/webhook_endpoints/{id}")
def delete_webhook_endpoint(call: Call) -> dict[str, Any]:
    found = _get(call, "webhook_endpoint", "webhook endpoint")
    del call.account.objects[found["id"]]
    return {"id": found["id"], "object": "webhook_endpoint", "deleted": True}


# ---------------------------------------------------------------------------- events


@route("GET", "/v1/events/{id}")
def retrieve_event(call: Call) -> dict[str, Any]:
    for event in call.account.events:
        if event["id"] == call.path_params["id"]:
            return event
    raise not_found("event", call.path_params["id"])


@route("GET", "/v1/events")
def list_events(call: Call) -> dict[str, Any]:
    wanted = call.params.get("type")
    events = [e for e in call.account.events if not wanted or e["type"] == wanted]
    return _list("/v1/events", events, call.params.get("limit"))


# ---------------------------------------------------------------------------- products, prices


@route("POST", "/v1/products")
def create_product(call: Call) -> dict[str, Any]:
    return _store(call, _product(call, call.require("name"), _metadata(call)))


def _product(call: Call, name: Any, metadata: dict[str, str]) -> dict[str, Any]:
    if not isinstance(name, str) or not name.strip():
        raise missing("name")
    return {
        "id": new_id("prod"),
        "object": "product",
        "name": name,
        "active": True,
        "metadata": metadata,
        "created": call.now,
        "livemode": call.account.livemode,
    }


@route("GET", "/v1/products/{id}")
def retrieve_product(call: Call) -> dict[str, Any]:
    return _get(call, "product", "product")


@route("POST", "/v1/prices")
def create_price(call: Call) -> dict[str, Any]:
    currency = _currency(call.require("currency"), "currency")
    amount = call.integer("unit_amount", call.require("unit_amount"))
    product_id = call.params.get("product")
    if product_id:
        product = call.account.objects.get(product_id)
        if product is None or product.get("object") != "product":
            raise not_found("product", product_id, "product")
    else:
        data = call.params.get("product_data")
        if not isinstance(data, dict):
            raise missing("product")
        product = _store(call, _product(call, data.get("name"), {}))
    price = {
        "id": new_id("price"),
        "object": "price",
        "active": True,
        "currency": currency,
        "unit_amount": amount,
        "product": product["id"],
        "type": "one_time",
        "metadata": _metadata(call),
        "created": call.now,
        "livemode": call.account.livemode,
    }
    return _store(call, price)


@route("GET", "/v1/prices/{id}")
def retrieve_price(call: Call) -> dict[str, Any]:
    return _get(call, "price", "price")


def _line_items(call: Call, *, inline_prices: bool) -> tuple[int, str, list[dict[str, Any]]]:
    """Validate ``line_items``; return (amount total, currency, normalized items)."""
    items = call.params.get("line_items")
    if not isinstance(items, list) or not items:
        raise missing("line_items")
    total, currency, normalized = 0, None, []
    for index, item in enumerate(items):
        param = f"line_items[{index}]"
        quantity = call.integer(f"{param}[quantity]", item.get("quantity", "1"), minimum=1)
        if item.get("price"):
            price = call.account.objects.get(item["price"])
            if price is None or price.get("object") != "price":
                raise not_found("price", item["price"], f"{param}[price]")
            unit, item_currency, name = price["unit_amount"], price["currency"], price["product"]
        elif inline_prices and isinstance(item.get("price_data"), dict):
            data = item["price_data"]
            item_currency = _currency(data.get("currency"), f"{param}[price_data][currency]")
            unit = call.integer(f"{param}[price_data][unit_amount]", data.get("unit_amount"))
            name = (data.get("product_data") or {}).get("name") or data.get("product")
            if not name:
                raise missing(f"{param}[price_data][product_data][name]")
        else:
            raise missing(f"{param}[price]")
        if currency is not None and item_currency != currency:
            raise invalid("All line items must use the same currency", f"{param}[price]")
        currency = item_currency
        total += unit * quantity
        normalized.append({"unit_amount": unit, "quantity": quantity, "description": name})
    assert currency is not None
    if total < MINIMUM_AMOUNT and currency not in ZERO_DECIMAL:
        raise invalid(
            "The Checkout Session's total amount due must add up to at least 0.50",
            "line_items",
        )
    return total, currency, normalized


# ---------------------------------------------------------------------------- checkout sessions


@route("POST", "/v1/checkout/sessions")
def create_checkout_session(call: Call) -> dict[str, Any]:
    if call.params.get("mode") != "payment":
        raise invalid("The fake supports mode=payment only", "mode")
    if not call.params.get("success_url") and call.params.get("ui_mode", "hosted") == "hosted":
        raise missing("success_url")
    expires_at = call.params.get("expires_at")
    if expires_at is None:
        expires = call.now + SESSION_DEFAULT_SECONDS
    else:
        expires = call.integer("expires_at", expires_at)
        if not SESSION_MIN_SECONDS <= expires - call.now <= SESSION_MAX_SECONDS:
            raise invalid(
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                "Checkout Session creation.",
                "expires_at",
            )
    total, currency, items = _line_items(call, inline_prices=True)
    intent_data = call.params.get("payment_intent_data") or {}
    return _store(call, _session(call, total, currency, items, expires, intent_data, None))


def _session(
    call: Call,
    total: int,
    currency: str,
    items: list[dict[str, Any]],
    expires: int,
    intent_data: dict[str, Any],
    payment_link: str | None,
) -> dict[str, Any]:
    session_id = new_id("cs_test")
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "status": "open",
        "payment_status": "unpaid",
        "amount_subtotal": total,
        "amount_total": total,
        "currency": currency,
        "metadata": _metadata(call),
        "client_reference_id": call.params.get("client_reference_id"),
        "customer_email": call.params.get("customer_email"),
        "customer_details": None,
        "success_url": call.params.get("success_url"),
        "cancel_url": call.params.get("cancel_url"),
        "url": f"{call.base_url}/c/pay/{session_id}",
        "expires_at": expires,
        "created": call.now,
        "livemode": call.account.livemode,
        "payment_intent": None,
        "payment_link": payment_link,
        "_line_items": items,
        "_intent_metadata": dict(intent_data.get("metadata") or {}),
    }


def public(obj: dict[str, Any]) -> dict[str, Any]:
    """What the API shows of an object (private bookkeeping fields start with _)."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


@route("GET", "/v1/checkout/sessions/{id}")
def retrieve_checkout_session(call: Call) -> dict[str, Any]:
    return public(_get(call, "checkout.session", "checkout.session"))


@route("GET", "/v1/checkout/sessions")
def list_checkout_sessions(call: Call) -> dict[str, Any]:
    sessions = [public(s) for s in call.account.of_type("checkout.session")]
    if call.params.get("payment_intent"):
        sessions = [s for s in sessions if s["payment_intent"] == call.params["payment_intent"]]
    return _list("/v1/checkout/sessions", sessions, call.params.get("limit"))


@route("POST", "/v1/checkout/sessions/{id}/expire")
def expire_checkout_session(call: Call) -> dict[str, Any]:
    session = _get(call, "checkout.session", "checkout.session")
    if session["status"] != "open":
        raise StripeError(
            400,
            f'Only Checkout Sessions with a status in ["open"] can be expired. This '
            f'Checkout Session has a status of "{session["status"]}".',
            code="checkout_session_not_open",  # the fake's code; Stripe sends none
        )
    _expire(call.store, call.account, session, request_id=call.request_id)
    return public(session)


def _expire(store: Store, account: Account, session: dict[str, Any], **extra: Any) -> None:
    session["status"] = "expired"
    session["url"] = None
    store.record_event(account, "checkout.session.expired", public(session), **extra)


def expire_due_sessions(store: Store) -> None:
    """Stripe expires an open session at its ``expires_at``; the server calls this first."""
    now = store.now()
    with store.lock:
        due = [
            (account, s)
            for account in store.accounts.values()
            for s in account.of_type("checkout.session")
            if s["status"] == "open" and s["expires_at"] <= now
        ]
    for account, session in due:
        _expire(store, account, session)


# The customer's side: hosted checkout completed, an asynchronous method settling.
OUTCOMES = ("paid", "async_pending")


def complete_session(
    store: Store, session_id: str, outcome: str = "paid", email: str = "visitor@example.com"
) -> dict[str, Any]:
    """The customer pays on the hosted page: ``paid`` (a card) or ``async_pending`` (a bank
    debit that settles later). Emits what Stripe emits; returns the session."""
    if outcome not in OUTCOMES:
        raise invalid(f"outcome must be one of {OUTCOMES}", "outcome")
    expire_due_sessions(store)
    found = store.find(session_id)
    if found is None or found[1].get("object") != "checkout.session":
        raise not_found("checkout.session", session_id)
    account, session = found
    if session["status"] != "open":
        raise StripeError(409, f"the session is {session['status']}, it cannot be paid")
    intent = {
        "id": new_id("pi"),
        "object": "payment_intent",
        "amount": session["amount_total"],
        "amount_received": 0,
        "currency": session["currency"],
        "status": "processing",
        "metadata": dict(session["_intent_metadata"]),
        "latest_charge": None,
        "created": store.now(),
        "livemode": account.livemode,
    }
    account.objects[intent["id"]] = intent
    session.update(
        status="complete",
        url=None,
        payment_intent=intent["id"],
        customer_details={"email": session.get("customer_email") or email},
    )
    if outcome == "paid":
        _succeed(store, account, intent)
        session["payment_status"] = "paid"
    store.record_event(account, "checkout.session.completed", public(session))
    return public(session)


def settle_async_payment(store: Store, session_id: str, succeeded: bool) -> dict[str, Any]:
    """The asynchronous payment of a completed session succeeds or fails."""
    found = store.find(session_id)
    if found is None or found[1].get("object") != "checkout.session":
        raise not_found("checkout.session", session_id)
    account, session = found
    intent = account.objects.get(session.get("payment_intent") or "")
    if session["status"] != "complete" or intent is None or intent["status"] != "processing":
        raise StripeError(409, "the session has no payment waiting to settle")
    if succeeded:
        _succeed(store, account, intent)
        session["payment_status"] = "paid"
        store.record_event(account, "checkout.session.async_payment_succeeded", public(session))
    else:
        intent.update(
            status="requires_payment_method",
            last_payment_error={"code": "payment_method_not_available", "type": "card_error"},
        )
        store.record_event(account, "payment_intent.payment_failed", intent)
        store.record_event(account, "checkout.session.async_payment_failed", public(session))
    return public(session)


def _succeed(store: Store, account: Account, intent: dict[str, Any]) -> None:
    charge = {
        "id": new_id("ch"),
        "object": "charge",
        "amount": intent["amount"],
        "amount_refunded": 0,
        "currency": intent["currency"],
        "payment_intent": intent["id"],
        "paid": True,
        "refunded": False,
        "status": "succeeded",
        "created": store.now(),
        "livemode": account.livemode,
    }
    account.objects[charge["id"]] = charge
    intent.update(status="succeeded", amount_received=intent["amount"], latest_charge=charge["id"])
    store.record_event(account, "payment_intent.succeeded", intent)
    store.record_event(account, "charge.succeeded", charge)


# ---------------------------------------------------------------------------- payment links


@route("POST", "/v1/payment_links")
def create_payment_link(call: Call) -> dict[str, Any]:
    total, currency, items = _line_items(call, inline_prices=False)
    intent_data = call.params.get("payment_intent_data") or {}
    link_id = new_id("plink")
    link = {
        "id": link_id,
        "object": "payment_link",
        "active": True,
        "url": f"{call.base_url}/c/link/{link_id}",
        "metadata": _metadata(call),
        "currency": currency,
        "after_completion": call.params.get("after_completion") or {"type": "hosted_confirmation"},
        "created": call.now,
        "livemode": call.account.livemode,
        "_amount_total": total,
        "_line_items": items,
        "_intent_metadata": dict(intent_data.get("metadata") or {}),
    }
    _store(call, link)
    return public(link)


@route("GET", "/v1/payment_links/{id}")
def retrieve_payment_link(call: Call) -> dict[str, Any]:
    return public(_get(call, "payment_link", "payment link"))


@route("POST", "/v1/payment_links/{id}")
def update_payment_link(call: Call) -> dict[str, Any]:
    link = _get(call, "payment_link", "payment link")
    if "active" in call.params:
        link["active"] = str(call.params["active"]).lower() == "true"
    if "metadata" in call.params:
        link["metadata"] = {**link["metadata"], **_metadata(call)}
    return public(link)


def pay_payment_link(
    store: Store, link_id: str, outcome: str = "paid", email: str = "visitor@example.com"
) -> dict[str, Any]:
    """A customer opens the link and pays: a session of the link (its metadata copied, as
    Stripe copies a link's metadata to its sessions), completed with ``outcome``."""
    found = store.find(link_id)
    if found is None or found[1].get("object") != "payment_link":
        raise not_found("payment link", link_id)
    account, link = found
    if not link["active"]:
        raise StripeError(409, "this payment link is no longer active")
    session_id = new_id("cs_test")
    session = {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "status": "open",
        "payment_status": "unpaid",
        "amount_subtotal": link["_amount_total"],
        "amount_total": link["_amount_total"],
        "currency": link["currency"],
        "metadata": dict(link["metadata"]),
        "client_reference_id": None,
        "customer_email": email,
        "customer_details": None,
        "success_url": None,
        "cancel_url": None,
        "url": None,
        "expires_at": store.now() + SESSION_DEFAULT_SECONDS,
        "created": store.now(),
        "livemode": account.livemode,
        "payment_intent": None,
        "payment_link": link_id,
        "_line_items": link["_line_items"],
        "_intent_metadata": dict(link["_intent_metadata"]),
    }
    account.objects[session_id] = session
    return complete_session(store, session_id, outcome, email)


# ---------------------------------------------------------------------------- intents, refunds


@route("GET", "/v1/payment_intents/{id}")
def retrieve_payment_intent(call: Call) -> dict[str, Any]:
    return _get(call, "payment_intent", "payment_intent")


@route("GET", "/v1/charges/{id}")
def retrieve_charge(call: Call) -> dict[str, Any]:
    return _get(call, "charge", "charge")


@route("POST", "/v1/refunds")
def create_refund(call: Call) -> dict[str, Any]:
    intent_id = call.params.get("payment_intent")
    charge_id = call.params.get("charge")
    if intent_id:
        intent = call.account.objects.get(intent_id)
        if intent is None or intent.get("object") != "payment_intent":
            raise not_found("payment_intent", intent_id, "payment_intent")
        charge_id = intent.get("latest_charge")
        if intent["status"] != "succeeded" or not charge_id:
            raise invalid(
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                "payment_intent",
            )
    elif not charge_id:
        raise missing("payment_intent")
    charge = call.account.objects.get(charge_id)
    if charge is None or charge.get("object") != "charge":
        raise not_found("charge", str(charge_id), "charge")
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining <= 0:
        raise StripeError(
            400, f"Charge {charge_id} has already been refunded.", code="charge_already_refunded"
        )
    amount = call.integer("amount", call.params.get("amount", remaining), minimum=1)
    if amount > remaining:
        raise StripeError(
            400,
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
            code="amount_too_large",
            param="amount",
        )
    refund = {
        "id": new_id("re"),
        "object": "refund",
        "amount": amount,
        "currency": charge["currency"],
        "charge": charge_id,
        "payment_intent": charge["payment_intent"],
        "reason": call.params.get("reason"),
        "status": "succeeded",
        "metadata": _metadata(call),
        "created": call.now,
    }
    _store(call, refund)
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    _event(call, "refund.created", refund)
    _event(call, "charge.refunded", charge)
    return refund


@route("GET", "/v1/refunds/{id}")
def retrieve_refund(call: Call) -> dict[str, Any]:
    return _get(call, "refund", "refund")


@route("GET", "/v1/refunds")
def list_refunds(call: Call) -> dict[str, Any]:
    refunds = call.account.of_type("refund")
    if call.params.get("payment_intent"):
        refunds = [r for r in refunds if r["payment_intent"] == call.params["payment_intent"]]
    return _list("/v1/refunds", refunds, call.params.get("limit"))
