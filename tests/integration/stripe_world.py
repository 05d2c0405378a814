"""The fake Stripe for integration tests: a capturing stand-in for our API's public address,
and helpers that hand webhooks to the receiver and queued messages to the consumer."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from infra.local.fakestripe import FakeStripe
from tests.integration import harness

PAYMENTS = "payments.handlers.api"
WEBHOOK = "payments.handlers.webhook"
CONSUMER = "payments.handlers.on_stripe_event"
PLATFORM_KEY = "sk_test_platform_0123456789abcdef"
CONNECT_SECRET = "whsec_connect_0123456789abcdef0123"
TENANT_KEY = "rk_test_tenant_0123456789abcdef"


@dataclass
class Capture:
    """Stands in for our API's public address: records what Stripe POSTs."""

    deliveries: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def take(self) -> list[tuple[str, dict[str, str], str]]:
        with self.lock:
            taken, self.deliveries[:] = list(self.deliveries), []
        return taken


def _capture_server(capture: Capture) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            with capture.lock:
                capture.deliveries.append((self.path, dict(self.headers.items()), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    capture.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server


@dataclass
class Stripe:
    fake: FakeStripe
    capture: Capture
    queue_url: str

    def deliver(self) -> list[harness.HttpResponse]:
        """Hand every webhook the fake sent to the receiver, then the queued messages to the
        consumer; returns the receiver's responses."""
        assert self.fake.webhooks.wait_idle(10)
        responses = []
        for path, headers, body in self.capture.take():
            wanted = {k: v for k, v in headers.items() if k.lower() == "stripe-signature"}
            responses.append(harness.api(WEBHOOK, "POST", path, raw_body=body, headers=wanted))
        self.consume()
        return responses

    def consume(self) -> list[dict[str, Any]]:
        """Run the consumer over the queue until it is empty; its batch responses."""
        results = []
        while messages := harness.take_messages(self.queue_url):
            event = harness.sqs_event_from_messages(messages)
            results.append(harness.invoke(CONSUMER, event))
        return results


@pytest.fixture(scope="package")
def stripe(aws: harness.World) -> Iterator[Stripe]:
    capture = Capture()
    server = _capture_server(capture)
    fake = FakeStripe(retry_delays=(0.2,)).start()
    queue_url = str(aws.ref("StripeEventsQueue"))
    harness.aws_client("secretsmanager").put_secret_value(
        SecretId=aws.ref("StripePlatformSecret"),
        SecretString=json.dumps(
            {"api_key": PLATFORM_KEY, "connect_webhook_secret": CONNECT_SECRET}
        ),
    )
    with pytest.MonkeyPatch.context() as env:
        # The template's Stripe address and public URL point at the fake and the capture.
        env.setenv("STRIPE_API_BASE", fake.url)
        env.setenv("PUBLIC_API_URL", capture.url)
        yield Stripe(fake, capture, queue_url)
    fake.stop()
    server.shutdown()


@pytest.fixture
def clean_stripe(stripe: Stripe) -> Iterator[None]:
    from agenthub import environment

    yield
    _STAGED.clear()
    stripe.fake.reset()
    stripe.capture.take()
    harness.take_messages(stripe.queue_url)
    environment.reset(cold=True)


def connected(stripe: Stripe, key: str = TENANT_KEY) -> harness.Tenant:
    """A new tenant whose Stripe account is connected with a restricted key."""
    tenant = harness.create_tenant()
    response = harness.api(
        PAYMENTS, "PUT", "/v1/payments/stripe", {"restricted_key": key}, caller=tenant.owner
    )
    assert response.status == 200, response
    return tenant


def tenant_secret_id(tenant_id: str) -> str:
    """The name of the secret holding a connected tenant's Stripe key."""
    return harness.world().environment["STRIPE_TENANT_SECRET_PREFIX"] + tenant_id


def payment(tenant: harness.Tenant, payment_id: str) -> dict[str, Any]:
    response = harness.api(PAYMENTS, "GET", f"/v1/payments/{payment_id}", caller=tenant.owner)
    assert response.status == 200, response
    result: dict[str, Any] = response.json
    return result


_STAGED: list[dict[str, Any]] = []  # outbox images read so far in this test


def outbox(aws: harness.World, detail_type: str) -> list[dict[str, Any]]:
    """The domain events of that type staged in the outbox during this test (the stream is
    read incrementally, so what was read before is kept)."""
    _STAGED.extend(r["dynamodb"]["NewImage"] for r in harness.outbox_records(aws.table_name))
    return [json.loads(i["detail"]["S"]) for i in _STAGED if i["detail_type"]["S"] == detail_type]
