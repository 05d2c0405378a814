"""Housekeeping of the documents bucket (the daily job): each agent keeps its last two index
versions, a build in flight and young objects are never touched, and chunk artifacts no
document points at any more are removed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration import harness as h
from tests.support.events import load_event

JOB = "knowledge.handlers.job_housekeeping"


@pytest.fixture(autouse=True)
def _table_bound(aws: h.World) -> None:
    """As the job's own cold start does (the tests call its logic directly)."""
    from agenthub.runtime import init_function
    from agenthub.settings import BaseSettings

    init_function(BaseSettings)


def _put(bucket: str, key: str) -> None:
    h.aws_client("s3").put_object(Bucket=bucket, Key=key, Body=b"x")


def _keys(bucket: str, prefix: str) -> set[str]:
    pages = (
        h.aws_client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )
    return {obj["Key"] for page in pages for obj in page.get("Contents", [])}


def _agent_with_history(aws: h.World, tenant_id: str, agent_id: str) -> dict[str, Any]:
    """Index versions 1-5 in S3 with version 4 live (5: a build that has not swapped yet);
    chunk artifacts: document A's current and replaced ones, a deleted document's."""
    from knowledge.dal import repository
    from knowledge.logic import storage
    from knowledge.models import Document, IndexPointer

    bucket = aws.documents_bucket
    for version in range(1, 6):
        prefix = storage.index_prefix(tenant_id, agent_id, version)
        for name in ("index.bin", "manifest.json"):
            _put(bucket, prefix + name)
    assert repository.swap_pointer(
        IndexPointer(
            tenant_id=tenant_id, agent_id=agent_id, version=4, prefix="p", built_at="2026-01-01"
        ),
        0,
    )
    current = storage.chunks_key(tenant_id, agent_id, "doc_a", "new")
    replaced = storage.chunks_key(tenant_id, agent_id, "doc_a", "old")
    orphan = storage.chunks_key(tenant_id, agent_id, "doc_gone", "h")
    for key in (current, replaced, orphan):
        _put(bucket, key)
    now = datetime.now(UTC).isoformat()
    doc = Document(
        id="doc_a",
        tenant_id=tenant_id,
        agent_id=agent_id,
        type="text",
        title="A",
        status="indexed",
        created_at=now,
        updated_at=now,
    )
    repository.create_document(doc, [])
    repository.update_document(doc, chunks_key=current)
    return {"current": current, "replaced": replaced, "orphan": orphan}


def test_old_versions_and_replaced_chunks_go_the_last_two_versions_stay(aws: h.World):
    from knowledge.logic import collect_garbage, storage

    # Given an agent with five index versions (4 live, 5 being built) and replaced chunks,
    # and another tenant's agent with one version
    chunks = _agent_with_history(aws, "t_house", "ag_house")
    other = storage.index_prefix("t_other", "ag_other", 1) + "index.bin"
    _put(aws.documents_bucket, other)
    # When the job runs an hour and more after they were written
    report = collect_garbage(aws.documents_bucket, datetime.now(UTC) + timedelta(hours=2))
    # Then versions 3 and 4 (the live one and the one before) and the build in flight remain
    left = _keys(aws.documents_bucket, "index/t_house/ag_house/")
    versions = sorted({key.split("/")[3] for key in left})
    assert versions == ["v00000003", "v00000004", "v00000005"]
    assert report.kept_versions["t_house/ag_house"] == [3, 4]
    # And the chunk artifact the document points at stays; the replaced and orphaned go
    assert _keys(aws.documents_bucket, "chunks/t_house/") == {chunks["current"]}
    # (the bucket is shared with other tests: the counts include their leftovers)
    assert report.index_objects_deleted >= 4 and report.chunk_objects_deleted >= 2
    # And an agent without a pointer (nothing is known to be live) keeps everything
    assert other in _keys(aws.documents_bucket, "index/t_other/")


def test_nothing_younger_than_the_grace_period_is_deleted(aws: h.World):
    from knowledge.logic import collect_garbage

    # Given the same history, written just now (as if a build or an upload were running)
    _agent_with_history(aws, "t_young", "ag_young")
    before = _keys(aws.documents_bucket, "index/t_young/") | _keys(
        aws.documents_bucket, "chunks/t_young/"
    )
    # When the job runs now
    report = collect_garbage(aws.documents_bucket, datetime.now(UTC))
    # Then nothing of it is deleted
    after = _keys(aws.documents_bucket, "index/t_young/") | _keys(
        aws.documents_bucket, "chunks/t_young/"
    )
    assert after == before and len(before) == 13
    assert report.kept_versions["t_young/ag_young"] == [3, 4]


def test_the_scheduled_job_runs_from_its_sample_event(aws: h.World):
    # The schedule sends {} (events/knowledge/schedule_housekeeping.json)
    result = h.invoke(JOB, load_event("knowledge/schedule_housekeeping"))
    assert set(result) == {"agents", "index_objects_deleted", "chunk_objects_deleted"}
