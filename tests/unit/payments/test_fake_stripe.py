"""The fake Stripe behaves like Stripe where our code depends on it: form encoding,
idempotency keys, signed webhooks the SDK verifies, held/reordered/replayed deliveries."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe

from infra.local.fakestripe import FakeStripe, forms

KEY = "rk_test_unit_0123456789"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with FakeStripe(retry_delays=(0.1,)) as running:
        yield running


def _client(fake: FakeStripe, key: str = KEY) -> Any:
    return stripe.StripeClient(key, base_addresses={"api": fake.url}, max_network_retries=0)


def _session_params(**extra: Any) -> dict[str, Any]:
    return {
        "mode": "payment",
        "success_url": "https://shop.example/ok",
        "line_items": [
            {
                "quantity": 2,
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 1250,
                    "product_data": {"name": "Cleaning"},
                },
            }
        ],
        "metadata": {"booking_id": "bk_1"},
        **extra,
    }


def test_forms_round_trip_nested_objects_and_lists() -> None:
    data = {"a": {"b": ["x", {"c": "1"}]}, "metadata": {"k": "v"}, "flag": "true"}
    assert forms.decode(forms.encode(data)) == data
    assert forms.decode("items[]=a&items[]=b") == {"items": ["a", "b"]}


def test_the_same_idempotency_key_and_params_replay_the_first_answer(fake: FakeStripe) -> None:
    sdk = _client(fake)
    first = sdk.v1.checkout.sessions.create(_session_params(), {"idempotency_key": "k1"})
    again = sdk.v1.checkout.sessions.create(_session_params(), {"idempotency_key": "k1"})
    assert first.id == again.id and first.amount_total == 2500
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    assert len(fake.store.account_for_key(KEY).of_type("checkout.session")) == 1


def test_the_same_key_with_other_params_is_a_400_idempotency_error(fake: FakeStripe) -> None:
    sdk = _client(fake)
    sdk.v1.checkout.sessions.create(_session_params(), {"idempotency_key": "k2"})
    with pytest.raises(stripe.IdempotencyError):
        sdk.v1.checkout.sessions.create(
            _session_params(metadata={"booking_id": "bk_2"}), {"idempotency_key": "k2"}
        )


def test_a_validation_error_is_not_stored_so_a_corrected_retry_may_reuse_the_key(
    fake: FakeStripe,
) -> None:
    sdk = _client(fake)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        sdk.v1.checkout.sessions.create(
            _session_params(expires_at=int(time.time()) + 60), {"idempotency_key": "k3"}
        )
    assert raised.value.param == "expires_at"
    created = sdk.v1.checkout.sessions.create(_session_params(), {"idempotency_key": "k3"})
    assert created.status == "open"


def test_keys_of_different_accounts_never_see_each_others_objects(fake: FakeStripe) -> None:
    created = _client(fake).v1.checkout.sessions.create(_session_params())
    with pytest.raises(stripe.InvalidRequestError):
        _client(fake, "rk_test_another_012345").v1.checkout.sessions.retrieve(created.id)


def test_only_an_open_session_can_be_expired(fake: FakeStripe) -> None:
    sdk = _client(fake)
    session = sdk.v1.checkout.sessions.create(_session_params())
    fake.complete_checkout(session.id)
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.checkout.sessions.expire(session.id)
    other = sdk.v1.checkout.sessions.create(_session_params())
    assert sdk.v1.checkout.sessions.expire(other.id).status == "expired"


class _Receiver:
    def __init__(self, statuses: list[int] | None = None) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.statuses = statuses or []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append((self.headers["Stripe-Signature"], body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def test_webhooks_are_signed_so_the_sdk_verifies_them_and_failures_are_retried(
    fake: FakeStripe,
) -> None:
    receiver = _Receiver(statuses=[500])
    sdk = _client(fake)
    endpoint = sdk.v1.webhook_endpoints.create(
        {"url": receiver.url, "enabled_events": ["checkout.session.completed"]}
    )
    fake.complete_checkout(sdk.v1.checkout.sessions.create(_session_params()).id)
    assert fake.webhooks.wait_idle(5)
    assert len(receiver.got) == 2  # a 500, then the retry
    for header, body in receiver.got:
        event = stripe.Webhook.construct_event(body.decode(), header, endpoint.secret)
        assert event.type == "checkout.session.completed"
    receiver.server.shutdown()


def test_held_deliveries_are_released_in_reverse_and_replays_repeat_the_same_event(
    fake: FakeStripe,
) -> None:
    receiver = _Receiver()
    sdk = _client(fake)
    sdk.v1.webhook_endpoints.create({"url": receiver.url})
    fake.webhooks.hold()
    session = sdk.v1.checkout.sessions.create(_session_params())
    fake.complete_checkout(session.id, outcome="async_pending")
    fake.settle_async_payment(session.id)
    sent = [p["type"] for p in fake.webhooks.pending()]
    fake.webhooks.release(order="reverse")
    assert fake.webhooks.wait_idle(5)
    received = [json.loads(body)["type"] for _, body in receiver.got]
    assert received == list(reversed(sent))
    completed = fake.events("checkout.session.completed")[0]
    fake.webhooks.replay(completed["id"], times=3)
    assert fake.webhooks.wait_idle(5)
    ids = [json.loads(body)["id"] for _, body in receiver.got[len(sent) :]]
    assert ids == [completed["id"]] * 3
    receiver.server.shutdown()
