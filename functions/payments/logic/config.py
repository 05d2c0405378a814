"""What the payments logic needs to know about the deployment (built by the handlers from
their settings: logic never reads the environment)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from payments.dal import repository
from payments.logic.stripe_api import Credentials, PaymentsNotConfigured
from payments.models import Connection


@dataclass(frozen=True)
class StripeConfig:
    api_base: str  # https://api.stripe.com, or the local fake
    platform_secret_arn: str  # {"api_key", "connect_webhook_secret"}: the platform's own
    tenant_secret_prefix: str  # + tenant id = the tenant's secret (key, webhook secret)

    def tenant_secret_name(self, tenant_id: str) -> str:
        return f"{self.tenant_secret_prefix}{tenant_id}"


def platform_credentials(config: StripeConfig, account: str | None = None) -> Credentials:
    key = str(repository.platform_secret(config.platform_secret_arn).get("api_key") or "")
    if not key:
        raise PaymentsNotConfigured("the platform's Stripe key is not configured")
    return Credentials(key, account, config.api_base)


def credentials(config: StripeConfig, connection: Connection) -> Credentials:
    """The key a tenant's Stripe calls use: the platform's on the tenant's connected account,
    or the tenant's own restricted key."""
    if connection.mode == "connect":
        return platform_credentials(config, connection.account_id)
    secret = repository.tenant_secret(config.tenant_secret_name(connection.tenant_id))
    return Credentials(str(secret["api_key"]), None, config.api_base)


def webhook_secrets(config: StripeConfig, tenant_id: str | None) -> list[str]:
    """The signing secrets a webhook may carry: the platform's Connect endpoint's, or the
    tenant's own endpoint's (with the previous one while it is being rolled)."""
    if tenant_id is None:
        found = repository.platform_secret(config.platform_secret_arn)
        names = ("connect_webhook_secret", "previous_connect_webhook_secret")
    else:
        found = repository.tenant_secret(config.tenant_secret_name(tenant_id))
        names = ("webhook_secret", "previous_webhook_secret")
    return [str(found[name]) for name in names if found.get(name)]


def derived_id(prefix: str, *parts: str) -> str:
    """A stable id from what a thing is for (one payment per booking, per link session)."""
    return prefix + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]
