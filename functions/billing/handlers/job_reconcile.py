"""Scheduled job (EventBridge Scheduler, nightly): compare the ledger with what Stripe's
meters hold for the last three days and correct what Stripe lacks. The event may carry
``{"days": [...]}``."""

from __future__ import annotations

from typing import Any

from agenthub.observability import logger
from agenthub.runtime import entry
from billing.handlers.job_report_usage import ReportSettings, days_of, meter_config
from billing.logic import reporting


@entry(ReportSettings)
def handler(event: dict[str, Any] | None, context: Any, settings: ReportSettings) -> dict[str, Any]:
    result = reporting.reconcile(meter_config(settings), days_of(event, 3))
    logger().info("usage reconciliation finished", extra=result)
    return result
