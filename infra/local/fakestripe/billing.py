"""Billing resources of the fake: customers, billing meters, meter events and their
summaries (the usage-based billing surface that replaced usage records).

- A meter event names a meter by ``event_name`` and a customer by the meter's customer
  payload key (default ``stripe_customer_id``); its value (payload key ``value``) is a whole
  number string. ``identifier`` is unique per account: Stripe enforces it for at least 24 h;
  the fake keeps identifiers forever, and a second event with a known identifier is answered
  with the first and not counted again.
- Timestamps must be within the past 35 days and at most 5 minutes ahead, as Stripe checks.
- Event summaries (``GET /v1/billing/meters/{id}/event_summaries``) sum a customer's values in
  ``[start_time, end_time)``, as one summary or per ``value_grouping_window`` (``day`` or
  ``hour``, UTC). Stripe aggregates asynchronously; the fake at once.
"""

from __future__ import annotations

from typing import Any

from infra.local.fakestripe.api import Call, invalid, missing, new_id, not_found, route

MAX_PAST_SECONDS = 35 * 86400
MAX_FUTURE_SECONDS = 300
WINDOWS = {"day": 86400, "hour": 3600}


def _list(url: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "url": url, "data": items, "has_more": False}


@route("POST", "/v1/customers")
def create_customer(call: Call) -> dict[str, Any]:
    metadata = call.params.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise invalid("Invalid object", "metadata")
    customer = {
        "id": new_id("cus"),
        "object": "customer",
        "name": call.params.get("name"),
        "email": call.params.get("email"),
        "metadata": {k: str(v) for k, v in metadata.items()},
        "created": call.now,
        "livemode": call.account.livemode,
    }
    call.account.objects[str(customer["id"])] = customer
    return customer


@route("GET", "/v1/customers/{id}")
def retrieve_customer(call: Call) -> dict[str, Any]:
    found = call.account.objects.get(call.path_params["id"])
    if found is None or found.get("object") != "customer":
        raise not_found("customer", call.path_params["id"])
    return found


@route("POST", "/v1/billing/meters")
def create_meter(call: Call) -> dict[str, Any]:
    event_name = call.require("event_name")
    if any(m["event_name"] == event_name for m in call.account.of_type("billing.meter")):
        raise invalid(f"A meter with event_name {event_name} already exists", "event_name")
    aggregation = call.params.get("default_aggregation") or {}
    if not isinstance(aggregation, dict) or aggregation.get("formula") not in ("sum", "count"):
        raise missing("default_aggregation[formula]")
    mapping = call.params.get("customer_mapping") or {}
    value_settings = call.params.get("value_settings") or {}
    meter = {
        "id": new_id("mtr"),
        "object": "billing.meter",
        "display_name": call.require("display_name"),
        "event_name": event_name,
        "default_aggregation": {"formula": aggregation["formula"]},
        "customer_mapping": {
            "type": "by_id",
            "event_payload_key": mapping.get("event_payload_key") or "stripe_customer_id",
        },
        "value_settings": {"event_payload_key": value_settings.get("event_payload_key") or "value"},
        "status": "active",
        "created": call.now,
        "livemode": call.account.livemode,
    }
    call.account.objects[meter["id"]] = meter
    return meter


@route("GET", "/v1/billing/meters")
def list_meters(call: Call) -> dict[str, Any]:
    return _list("/v1/billing/meters", call.account.of_type("billing.meter"))


@route("GET", "/v1/billing/meters/{id}")
def retrieve_meter(call: Call) -> dict[str, Any]:
    return _meter(call, call.path_params["id"])


def _meter(call: Call, meter_id: str) -> dict[str, Any]:
    found = call.account.objects.get(meter_id)
    if found is None or found.get("object") != "billing.meter":
        raise not_found("billing.meter", meter_id)
    return found


def _events(call: Call) -> dict[str, dict[str, Any]]:
    """The account's meter events by identifier (kept beside its objects)."""
    return call.account.objects.setdefault("_meter_events", {})


@route("POST", "/v1/billing/meter_events")
def create_meter_event(call: Call) -> dict[str, Any]:
    event_name = call.require("event_name")
    meter = next(
        (m for m in call.account.of_type("billing.meter") if m["event_name"] == event_name), None
    )
    if meter is None:
        raise invalid(f"No active meter found for event_name {event_name}", "event_name")
    payload = call.params.get("payload")
    if not isinstance(payload, dict):
        raise missing("payload")
    customer_key = meter["customer_mapping"]["event_payload_key"]
    value_key = meter["value_settings"]["event_payload_key"]
    customer = payload.get(customer_key)
    if not customer:
        raise missing(f"payload[{customer_key}]")
    if call.account.objects.get(customer, {}).get("object") != "customer":
        raise not_found("customer", customer, f"payload[{customer_key}]")
    value = call.integer(f"payload[{value_key}]", payload.get(value_key, "1"))
    timestamp = call.integer("timestamp", call.params.get("timestamp") or call.now)
    if not call.now - MAX_PAST_SECONDS <= timestamp <= call.now + MAX_FUTURE_SECONDS:
        raise invalid(
            "timestamp must be within the past 35 calendar days or up to 5 minutes in the future",
            "timestamp",
        )
    identifier = str(call.params.get("identifier") or new_id("mev"))
    known = _events(call)
    if identifier in known:
        return known[identifier]
    event = {
        "object": "billing.meter_event",
        "created": call.now,
        "event_name": event_name,
        "identifier": identifier,
        "livemode": call.account.livemode,
        "payload": {k: str(v) for k, v in payload.items()},
        "timestamp": timestamp,
        "_value": value,
        "_customer": customer,
    }
    known[identifier] = event
    return {k: v for k, v in event.items() if not k.startswith("_")}


@route("GET", "/v1/billing/meters/{id}/event_summaries")
def event_summaries(call: Call) -> dict[str, Any]:
    meter = _meter(call, call.path_params["id"])
    customer = call.require("customer")
    start = call.integer("start_time", call.require("start_time"))
    end = call.integer("end_time", call.require("end_time"))
    if end <= start:
        raise invalid("end_time must be after start_time", "end_time")
    window = call.params.get("value_grouping_window")
    if window is not None and window not in WINDOWS:
        raise invalid(f"Invalid value_grouping_window: {window}", "value_grouping_window")
    size = WINDOWS[window] if window else end - start
    if window and (start % size or end % size):
        raise invalid("start_time and end_time must align with value_grouping_window", "start_time")
    buckets: dict[int, int] = {}
    for event in _events(call).values():
        if event["event_name"] != meter["event_name"] or event["_customer"] != customer:
            continue
        if start <= event["timestamp"] < end:
            bucket = start + (event["timestamp"] - start) // size * size
            buckets[bucket] = buckets.get(bucket, 0) + event["_value"]
    summaries = [
        {
            "id": new_id("mtrusg"),
            "object": "billing.meter_event_summary",
            "aggregated_value": buckets[bucket],
            "start_time": bucket,
            "end_time": bucket + size,
            "livemode": call.account.livemode,
            "meter": meter["id"],
        }
        for bucket in sorted(buckets)
    ]
    return _list(f"/v1/billing/meters/{meter['id']}/event_summaries", summaries)
