"""Audit behaviour: record domain events as entries, list them, archive the old ones."""

from __future__ import annotations

import json
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


def record_delivery(body: str, retention_days: int) -> str | None:
    """Record the domain event an SQS message carries; its type when newly written (None: a
    redelivery, ignored). A body that can never become an entry is a PoisonEvent."""
    try:
        event = json.loads(body)
    except ValueError:
        raise PoisonEvent("message body is not JSON") from None
    entry = entry_from_event(event)
    if record(entry, retention_days):
        return entry.type
    logger().info("duplicate delivery ignored", extra={"event_id": entry.event_id})
    return None


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
    rewrites the same objects, so a failure half way loses nothing.

    Streaming: the day is read page by page in tenant then time order, so each tenant's
    entries are consecutive and go to that tenant's object as they come (see
    ``repository.ArchiveWriter``); memory holds one page and one upload part, not a day."""
    archived: dict[str, int] = {}
    for day in days_to_archive(today, retention_days):
        if repository.marker_exists(ARCHIVE_JOB, day):
            continue
        count, tenants = _archive_day(day, bucket)
        repository.put_marker(
            ARCHIVE_JOB, day, utc_now_iso(), {"entries": count, "tenants": tenants}
        )
        archived[day] = count
    return {"archived_days": archived}


def _archive_day(day: str, bucket: str) -> tuple[int, int]:
    """(entries, tenants) of one day, written."""
    writer: repository.ArchiveWriter | None = None
    tenant_id: str | None = None
    count = tenants = 0
    try:
        for entry in repository.entries_of_day(day):
            if writer is None or entry.tenant_id != tenant_id:
                if writer is not None:
                    writer.close()
                tenant_id = entry.tenant_id
                writer = repository.ArchiveWriter(bucket, archive_key(tenant_id, day))
                tenants += 1
            writer.write(entry)
            count += 1
        if writer is not None:
            writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return count, tenants


def archive_key(tenant_id: str, day: str) -> str:
    return f"audit/tenant={tenant_id}/day={day}.jsonl"


def today_utc() -> date:
    return datetime.now(UTC).date()
