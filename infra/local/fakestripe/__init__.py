"""A fake Stripe for offline development and tests: a real HTTP server speaking Stripe's
form-encoded v1 API to the real ``stripe`` SDK (pointed at it with ``base_addresses``).

Why our own and not localstripe (PyPI): localstripe was read first (1.15.10). It answers 404
for Prices, Checkout Sessions, Payment Links and billing meters, ignores idempotency keys,
keeps one module-global store that it pickles to the fixed path /tmp/localstripe.pickle on
every write (two test runs on one machine would share and clobber it), sends each webhook once
after a fixed one-second sleep (no retries, no way to hold, reorder or replay), and would need
aiohttp and a second process. Fronting it would have split one payment across two servers
(a session here, its payment intent and refunds there) kept consistent over HTTP. The part it
would have served (payment intents, refunds) is small next to what we must write anyway, so
this is one fake, structured so more resources (billing meters) plug in as modules:

- ``forms``: Stripe's bracket form encoding (``a[b][0][c]=v``) both ways.
- ``store``: accounts (one per API key; connected accounts under a platform), objects,
  events, idempotency records.
- ``api``: the route table (``@route``), errors in Stripe's shape, the request context.
- ``payments``: products, prices, checkout sessions, payment links, payment intents,
  refunds, events, webhook endpoints, accounts. ``billing`` resources go in a module beside
  it that registers its own routes.
- ``webhooks``: signed deliveries with retries, and the controls tests need: hold, release
  in another order, delay, replay.
- ``server``: the HTTP server, auth, ``Idempotency-Key``, fault injection, ``/_fake/``
  controls and a minimal hosted-checkout page.

Start it with ``FakeStripe().start()`` (tests, the local runtime) or
``python -m infra.local.fakestripe --port 12111``.
"""

from infra.local.fakestripe.server import FakeStripe

__all__ = ["FakeStripe"]
