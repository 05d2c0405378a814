"""Audit persistence: entries in a per-tenant audit partition, indexed by day on gsi1, and
archives in S3."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from agenthub import keys
from agenthub.clients import client
from audit.dal.items import AuditItem, JobMarkerItem
from audit.models import AuditEntry

_CONDITION_FAILED = "ConditionalCheckFailedException"


def _model(item: AuditItem) -> AuditEntry:
    return AuditEntry(
        event_id=item.event_id,
        tenant_id=item.tenant_id,
        type=item.type,
        source=item.source,
        occurred_at=item.occurred_at,
        actor=dict(item.actor or {}),
        subject=item.subject,
        data=dict(item.data or {}),
    )


def put_entry(entry: AuditEntry, expires_at: datetime) -> bool:
    """Write an entry once. False when it was already there (a redelivered message)."""
    item = AuditItem(
        pk=keys.audit_pk(entry.tenant_id),
        sk=keys.audit_sk(entry.occurred_at, entry.event_id),
        gsi1pk=keys.audit_day_gsi1pk(entry.day),
        gsi1sk=keys.audit_day_gsi1sk(entry.tenant_id, entry.occurred_at, entry.event_id),
        expires_at=expires_at,
        **entry.model_dump(),
    )
    try:
        item.save(condition=AuditItem.pk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == _CONDITION_FAILED:
            return False
        raise
    return True


def list_page(
    tenant_id: str, limit: int, start_key: dict[str, Any] | None
) -> tuple[list[AuditEntry], dict[str, Any] | None]:
    """Newest first."""
    result = AuditItem.query(
        keys.audit_pk(tenant_id),
        scan_index_forward=False,
        limit=limit,
        page_size=limit,
        last_evaluated_key=start_key,
    )
    entries = [_model(item) for item in result]
    return entries, result.last_evaluated_key


def entries_of_day(day: str) -> list[AuditEntry]:
    """Every tenant's entries of one UTC day (gsi1), in tenant then time order."""
    return [_model(item) for item in AuditItem.gsi1.query(keys.audit_day_gsi1pk(day))]


def marker_exists(job: str, unit: str) -> bool:
    try:
        JobMarkerItem.get(keys.job_marker_pk(job), unit)
    except DoesNotExist:
        return False
    return True


def put_marker(job: str, unit: str, finished_at: str, detail: dict[str, Any]) -> None:
    JobMarkerItem(
        pk=keys.job_marker_pk(job), sk=unit, finished_at=finished_at, detail=detail
    ).save()


def write_archive(bucket: str, key: str, entries: list[AuditEntry]) -> None:
    body = "".join(json.dumps(e.model_dump(), sort_keys=True) + "\n" for e in entries)
    client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=body.encode(),
        ContentType="application/x-ndjson",
        ServerSideEncryption="AES256",
    )
