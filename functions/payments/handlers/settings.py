"""Settings of the payments functions (read once per environment, never at import)."""

from __future__ import annotations

from pydantic import Field

from agenthub.public_limits import PublicLimitSettings
from agenthub.settings import ApiSettings, BaseSettings
from payments.logic.config import StripeConfig


class StripeSettings(BaseSettings):
    stripe_api_base: str = Field(pattern=r"^https?://")
    stripe_platform_secret_arn: str = Field(min_length=1)
    stripe_tenant_secret_prefix: str = Field(min_length=1)

    def stripe(self) -> StripeConfig:
        return StripeConfig(
            api_base=self.stripe_api_base.rstrip("/"),
            platform_secret_arn=self.stripe_platform_secret_arn,
            tenant_secret_prefix=self.stripe_tenant_secret_prefix,
        )


class PaymentsApiSettings(PublicLimitSettings, StripeSettings, ApiSettings):
    # Where Stripe reaches our webhook route; empty = the address the tenant called us at.
    public_api_url: str = ""


class WebhookSettings(StripeSettings, ApiSettings):
    stripe_events_queue_url: str = Field(min_length=1)
    max_body_bytes: int = Field(default=512 * 1024, ge=1024)
