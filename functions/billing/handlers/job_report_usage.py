"""Scheduled job (EventBridge Scheduler, hourly): report unreported usage to Stripe Billing
Meters. The event may carry ``{"days": ["YYYY-MM-DD", ...]}`` (backfill, tests); the
scheduler's own event means yesterday and today (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from agenthub.observability import logger
from agenthub.runtime import entry
from agenthub.settings import BaseSettings
from billing.logic import reporting
from payments.logic import StripeConfig


class ReportSettings(BaseSettings):
    stripe_api_base: str = Field(min_length=8)
    stripe_platform_secret_arn: str = Field(min_length=1)
    stripe_tenant_secret_prefix: str = Field(min_length=1)
    usage_meter_event_name: str = Field(min_length=1, max_length=100)


def meter_config(settings: ReportSettings) -> reporting.MeterConfig:
    stripe = StripeConfig(
        api_base=settings.stripe_api_base,
        platform_secret_arn=settings.stripe_platform_secret_arn,
        tenant_secret_prefix=settings.stripe_tenant_secret_prefix,
    )
    return reporting.MeterConfig(stripe=stripe, event_name=settings.usage_meter_event_name)


def days_of(event: dict[str, Any] | None, default_count: int) -> list[str]:
    days = (event or {}).get("days")
    if days:
        return [str(day) for day in days]
    return reporting.recent_days(datetime.now(UTC).date(), default_count)


@entry(ReportSettings)
def handler(event: dict[str, Any] | None, context: Any, settings: ReportSettings) -> dict[str, Any]:
    result = reporting.report_usage(meter_config(settings), days_of(event, 2))
    logger().info("usage report finished", extra=result)
    return result
