"""The local runtime's Stripe: the fake (infra/local/fakestripe) started beside moto, and the
wiring that points the template's payments functions at it.

Wiring by convention, like AWS_ENDPOINT_URL for moto: a function whose template environment
has ``STRIPE_API_BASE`` gets the fake's URL there, and the secret that
``STRIPE_PLATFORM_SECRET_ARN`` names gets the fake platform's key and the signing secret of a
Connect webhook endpoint the runtime registers at ``<api>/v1/webhooks/stripe`` (what an
operator does in Stripe's dashboard after a deploy). The seeded demo tenant connects with a
restricted key of its own fake account, through the API.
"""

from __future__ import annotations

import json
from typing import Any

from infra.local.fakestripe import FakeStripe
from infra.local.resources import boto_client

API_BASE_VARIABLE = "STRIPE_API_BASE"
PLATFORM_SECRET_VARIABLE = "STRIPE_PLATFORM_SECRET_ARN"
PLATFORM_KEY = "sk_test_agenthub_local_platform"
DEMO_TENANT_KEY = "rk_test_agenthub_local_demo_tenant"
CONNECT_WEBHOOK_PATH = "/v1/webhooks/stripe"


def uses_stripe(environments: dict[str, dict[str, Any]]) -> bool:
    """Whether any function of the template talks to Stripe."""
    return any(API_BASE_VARIABLE in env for env in environments.values())


def wire(env: dict[str, str], fake: FakeStripe) -> None:
    """Point one function's environment at the fake (only if it talks to Stripe)."""
    if API_BASE_VARIABLE in env:
        env[API_BASE_VARIABLE] = fake.url


def configure_platform(
    fake: FakeStripe, moto_url: str, api_url: str, environments: list[dict[str, str]]
) -> None:
    """Give the platform secret(s) the fake platform's key and Connect endpoint secret."""
    arns = {
        env[PLATFORM_SECRET_VARIABLE] for env in environments if PLATFORM_SECRET_VARIABLE in env
    }
    if not arns:
        return
    secret = fake.add_webhook_endpoint(PLATFORM_KEY, api_url + CONNECT_WEBHOOK_PATH, connect=True)
    value = json.dumps({"api_key": PLATFORM_KEY, "connect_webhook_secret": secret})
    secrets = boto_client("secretsmanager", moto_url)
    for arn in arns:
        secrets.put_secret_value(SecretId=arn, SecretString=value)
