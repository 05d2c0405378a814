"""Audit behaviour: record domain events as entries, list them, archive the old ones."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from agenthub.events import utc_now_iso
from agenthub.observability import logger
from audit.dal import repository
from audit.models import AuditEntry

ARCHIVE_JOB = "audit-archive"
# Entries live this long past the retention period, so the daily archive job has a week of
# chances (and retries) to copy them to S3 before DynamoDB's TTL removes them.
TTL_GRACE_DAYS = 7


class PoisonEvent(ValueError):
    """An event that can never become an audit entry; redelivery will not help."""


def entry_from_event(event: dict[str, Any]) -> AuditEntry:
    """An EventBridge event (as delivered through SQS) → an audit entry."""
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise PoisonEvent("event has no detail object")
    try:
        return AuditEntry.model_validate(
            {
                **detail,
                "type": detail.get("type") or event.get("detail-type"),
                "source": event.get("source"),
            }
        )
    except ValidationError as exc:
        raise PoisonEvent(
            f"event is not an AgentHub domain event: {exc.error_count()} errors"
        ) from exc


def record_delivery(body: str, retention_days: int) -> bool:
    """Record the domain event an SQS message carries; True when newly written (False: a
    redelivery, ignored). A body that can never become an entry is a PoisonEvent."""
    try:
        event = json.loads(body)
    except ValueError:
        raise PoisonEvent("message body is not JSON") from None
    entry = entry_from_event(event)
    written = record(entry, retention_days)
    if not written:
        logger().info("duplicate delivery ignored", extra={"event_id": entry.event_id})
    return written


def record(entry: AuditEntry, retention_days: int) -> bool:
    """Store the entry once (idempotent on event id). True when newly written."""
    occurred = datetime.fromisoformat(entry.occurred_at.replace("Z", "+00:00"))
    expires = occurred + timedelta(days=retention_days + TTL_GRACE_DAYS)
    return repository.put_entry(entry, expires)


def list_entries(
    tenant_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[AuditEntry], dict[str, Any] | None]:
    return repository.list_page(tenant_id, limit, start_key)


def days_to_archive(today: date, retention_days: int) -> list[str]:
    """Days whose entries are past retention but still before TTL removes them."""
    newest = today - timedelta(days=retention_days + 1)
    return [(newest - timedelta(days=n)).isoformat() for n in range(TTL_GRACE_DAYS)]


def archive(today: date, retention_days: int, bucket: str) -> dict[str, Any]:
    """Copy each not-yet-archived day past retention to S3 as JSON lines, one object per
    tenant and day (``audit/tenant=<id>/day=<day>.jsonl``), then mark the day done. Re-running
    rewrites the same objects, so a failure half way loses nothing."""
    archived: dict[str, int] = {}
    for day in days_to_archive(today, retention_days):
        if repository.marker_exists(ARCHIVE_JOB, day):
            continue
        by_tenant: dict[str, list[AuditEntry]] = defaultdict(list)
        for entry in repository.entries_of_day(day):
            by_tenant[entry.tenant_id].append(entry)
        for tenant_id, entries in by_tenant.items():
            repository.write_archive(bucket, archive_key(tenant_id, day), entries)
        count = sum(len(entries) for entries in by_tenant.values())
        repository.put_marker(
            ARCHIVE_JOB, day, utc_now_iso(), {"entries": count, "tenants": len(by_tenant)}
        )
        archived[day] = count
    return {"archived_days": archived}


def archive_key(tenant_id: str, day: str) -> str:
    return f"audit/tenant={tenant_id}/day={day}.jsonl"


def today_utc() -> date:
    return datetime.now(UTC).date()
