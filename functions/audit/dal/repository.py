"""Audit persistence: entries in a per-tenant audit partition, indexed by day on gsi1, and
archives in S3."""

from __future__ import annotations

import json
from collections.abc import Iterator
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


DAY_PAGE_SIZE = 500  # entries per Query page of a day (about 0.5 MB of items at most)


def entries_of_day(day: str, page_size: int = DAY_PAGE_SIZE) -> Iterator[AuditEntry]:
    """Every tenant's entries of one UTC day (gsi1), in tenant then time order, one Query page
    at a time: a day of any size is never held in memory."""
    for item in AuditItem.gsi1.query(keys.audit_day_gsi1pk(day), page_size=page_size):
        yield _model(item)


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


# S3 takes parts of 5 MiB or more (the last may be smaller), 10,000 parts per upload.
PART_BYTES = 8 * 1024 * 1024


class ArchiveWriter:
    """JSON lines to one S3 object, streamed: lines are buffered up to ``part_bytes``; an
    object that stays under that is one PutObject, a larger one becomes a multipart upload
    whose parts leave as they fill. A failure aborts the upload (no half object, no parts
    left billed). Memory: one part, whatever the object's size."""

    def __init__(self, bucket: str, key: str, *, part_bytes: int = PART_BYTES) -> None:
        self.bucket, self.key, self.part_bytes = bucket, key, part_bytes
        self.lines = 0
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def write(self, entry: AuditEntry) -> None:
        line = (json.dumps(entry.model_dump(), sort_keys=True) + "\n").encode()
        self._buffer.append(line)
        self._buffered += len(line)
        self.lines += 1
        if self._buffered >= self.part_bytes:
            self._flush_part()

    def close(self) -> None:
        if self._upload_id is None:
            client("s3").put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=b"".join(self._buffer),
                ContentType="application/x-ndjson",
                ServerSideEncryption="AES256",
            )
        else:
            if self._buffer:
                self._flush_part()
            client("s3").complete_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        self._buffer, self._buffered = [], 0

    def abort(self) -> None:
        if self._upload_id is not None:
            client("s3").abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id
            )
            self._upload_id = None

    @property
    def parts(self) -> int:
        return len(self._parts)

    def _flush_part(self) -> None:
        s3 = client("s3")
        if self._upload_id is None:
            self._upload_id = s3.create_multipart_upload(
                Bucket=self.bucket,
                Key=self.key,
                ContentType="application/x-ndjson",
                ServerSideEncryption="AES256",
            )["UploadId"]
        number = len(self._parts) + 1
        etag = s3.upload_part(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=b"".join(self._buffer),
        )["ETag"]
        self._parts.append({"ETag": etag, "PartNumber": number})
        self._buffer, self._buffered = [], 0
