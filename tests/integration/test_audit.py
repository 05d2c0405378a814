"""The audit log end to end: the API publishes, EventBridge's rule (the template's) delivers to
the audit queue, the consumer writes entries, the API lists them, the archive job moves the
old ones to S3."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration import harness as h
from tests.integration.harness import AGENTS, AUDIT, CONSUMER, IDENTITY, api

NewTenant = Callable[..., h.Tenant]
ENTRY_FIELDS = {"event_id", "type", "source", "occurred_at", "actor", "subject", "data"}


def _consume(messages: list[dict]) -> dict:
    return h.invoke(CONSUMER, h.sqs_event_from_messages(messages))


def _log(caller: h.Principal, **query: str) -> h.HttpResponse:
    return api(AUDIT, "GET", "/v1/audit-log", caller=caller, query=query or None)


def _busy_tenant(tenant: NewTenant) -> tuple[h.Tenant, dict]:
    """A tenant with a few things done: TenantCreated, ApiKeyCreated x2, AgentCreated,
    AgentUpdated, AgentDeleted."""
    acme = tenant("Audited")
    admin = acme.key("admin")
    agent = acme.agent(by=admin)
    api(AGENTS, "PATCH", f"/v1/agents/{agent['id']}", {"name": "B", "version": 1}, caller=admin)
    api(AGENTS, "DELETE", f"/v1/agents/{agent['id']}", caller=acme.owner)
    return acme, agent


def test_published_events_become_the_audit_log_newest_first(tenant: NewTenant, published):
    # Given what a tenant did, as EventBridge delivered it to the audit queue
    acme, agent = _busy_tenant(tenant)
    messages = published.messages_of(acme.id)
    assert len(messages) == 6

    # When the consumer processes the batch
    assert _consume(messages) == {"batchItemFailures": []}

    # Then the owner reads it, newest first, without the tenant id in each entry
    response = _log(acme.owner)
    assert response.status == 200, response
    items = response.json["items"]
    assert [e["type"] for e in items] == [
        "AgentDeleted",
        "AgentUpdated",
        "AgentCreated",
        "ApiKeyCreated",
        "ApiKeyCreated",
        "TenantCreated",
    ]
    assert [e["occurred_at"] for e in items] == sorted(
        (e["occurred_at"] for e in items), reverse=True
    )
    assert all(set(e) == ENTRY_FIELDS for e in items)
    assert response.json["next_cursor"] is None
    # And each entry says who did what to what
    created = next(e for e in items if e["type"] == "AgentCreated")
    assert created["source"] == "agenthub.agents"
    assert created["subject"] == f"agent/{agent['id']}"
    assert created["actor"]["kind"] == "api_key" and created["actor"]["role"] == "admin"
    bootstrap = next(e for e in items if e["type"] == "TenantCreated")
    assert bootstrap["actor"]["kind"] == "platform_admin"


def test_the_audit_log_pages_newest_first(tenant: NewTenant, published):
    acme, _ = _busy_tenant(tenant)
    _consume(published.messages_of(acme.id))
    everything = _log(acme.owner).json["items"]

    seen: list[dict] = []
    cursor = None
    for _ in range(10):
        response = _log(acme.owner, limit="2", **({"cursor": cursor} if cursor else {}))
        assert response.status == 200, response
        assert len(response.json["items"]) <= 2
        seen += response.json["items"]
        cursor = response.json["next_cursor"]
        if not cursor:
            break

    assert seen == everything


@pytest.mark.parametrize("limit", ["0", "201", "x"])
def test_audit_limit_is_bounded(tenant: NewTenant, limit):
    acme = tenant()
    response = _log(acme.owner, limit=limit)
    assert (response.status, response.error_code) == (400, "bad_request")


def test_another_tenants_audit_cursor_is_refused(tenant: NewTenant, published):
    acme, _ = _busy_tenant(tenant)
    _consume(published.messages_of(acme.id))
    cursor = _log(acme.owner, limit="1").json["next_cursor"]
    globex = tenant("Globex")

    response = _log(globex.owner, cursor=cursor)
    tampered = _log(acme.owner, cursor=cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB"))

    assert (response.status, response.error_code) == (400, "bad_request")
    assert acme.id not in response.body
    assert tampered.status == 400


def test_a_redelivered_event_is_written_once(tenant: NewTenant, published):
    acme = tenant()
    messages = published.messages_of(acme.id)

    first = _consume(messages)
    again = _consume(messages)  # SQS delivers at least once
    both_in_one_batch = _consume(messages + messages)

    assert first == again == both_in_one_batch == {"batchItemFailures": []}
    assert len(_log(acme.owner).json["items"]) == len(messages) == 2


def _domain_event_counts(stdout: str) -> dict[str, float]:
    """``{event type: count}`` from the consumer's embedded metric documents."""
    counts: dict[str, float] = {}
    for line in stdout.splitlines():
        if '"DomainEvents"' in line and line.startswith("{"):
            document = json.loads(line)
            counts[document["type"]] = counts.get(document["type"], 0) + sum(
                document["DomainEvents"]
            )
    return counts


def test_each_event_is_counted_once_by_type_for_the_dashboard(tenant: NewTenant, published, capsys):
    # Given what a tenant did (TenantCreated, ApiKeyCreated x2, Agent Created/Updated/Deleted)
    acme, _ = _busy_tenant(tenant)
    messages = published.messages_of(acme.id)
    capsys.readouterr()

    # When the consumer processes the batch, and SQS delivers it a second time
    _consume(messages)
    first = _domain_event_counts(capsys.readouterr().out)
    _consume(messages)
    again = _domain_event_counts(capsys.readouterr().out)

    # Then each event type is one DomainEvents metric, counted once per event
    assert first == {
        "TenantCreated": 1,
        "ApiKeyCreated": 2,
        "AgentCreated": 1,
        "AgentUpdated": 1,
        "AgentDeleted": 1,
    }
    assert again == {}


def test_poison_messages_fail_alone(tenant: NewTenant, published):
    # Given a batch with good events and events that can never become entries
    acme = tenant()
    good = published.messages_of(acme.id)
    no_tenant = h.eventbridge_envelope(
        "AgentCreated", tenant_id=acme.id, occurred_at="2025-01-01T00:00:00Z"
    )
    del no_tenant["detail"]["tenant_id"]
    bad_time = h.eventbridge_envelope("AgentCreated", tenant_id=acme.id, occurred_at="yesterday")
    no_detail = {
        **h.eventbridge_envelope("X", tenant_id=acme.id, occurred_at="2025-01-01T00:00:00Z")
    }
    no_detail["detail"] = "not an object"
    bodies = [
        good[0]["Body"],
        "this is not JSON {",
        json.dumps(no_tenant),
        good[1]["Body"],
        json.dumps(bad_time),
        json.dumps(no_detail),
        "[]",
    ]
    event = h.sqs_event(bodies)
    ids = [r["messageId"] for r in event["Records"]]

    # When the consumer gets it
    result = h.invoke(CONSUMER, event)

    # Then only the bad ones go back to the queue (and on to the DLQ after maxReceiveCount)
    failed = [f["itemIdentifier"] for f in result["batchItemFailures"]]
    assert failed == [ids[1], ids[2], ids[4], ids[5], ids[6]]
    # And the good ones are written
    assert {e["type"] for e in _log(acme.owner).json["items"]} == {"TenantCreated", "ApiKeyCreated"}


def test_an_entry_expires_retention_plus_a_week_after_it_happened(tenant: NewTenant, aws):
    acme = tenant()
    occurred = "2025-03-10T08:30:00.250000Z"
    envelope = h.eventbridge_envelope("AgentCreated", tenant_id=acme.id, occurred_at=occurred)
    assert h.invoke(CONSUMER, h.sqs_event([json.dumps(envelope)])) == {"batchItemFailures": []}

    items = h.aws_client("dynamodb").query(
        TableName=aws.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"TENANT#{acme.id}#AUDIT"}},
    )["Items"]

    assert len(items) == 1
    expected = datetime(2025, 3, 10, 8, 30, 0, 250000, tzinfo=UTC) + timedelta(
        days=h.RETENTION_DAYS + 7
    )
    assert int(items[0]["expires_at"]["N"]) == int(expected.timestamp())
    # and the table's TTL attribute is the one the template names
    ttl = h.aws_client("dynamodb").describe_time_to_live(TableName=aws.table_name)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"


# ---------------------------------------------------------------------------- archive


def _write(tenant_id: str, occurred_at: str, subject: str) -> None:
    envelope = h.eventbridge_envelope(
        "AgentUpdated", tenant_id=tenant_id, occurred_at=occurred_at, subject=subject
    )
    result = h.invoke(CONSUMER, h.sqs_event([json.dumps(envelope)]))
    assert result == {"batchItemFailures": []}


def _archive(as_of: str) -> dict:
    result: dict = h.invoke(h.ARCHIVE, {"as_of": as_of})
    return result


def _objects(bucket: str, tenant_ids: list[str]) -> dict[str, list[dict]]:
    s3 = h.aws_client("s3")
    found = {}
    for tenant_id in tenant_ids:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"audit/tenant={tenant_id}/")
        for obj in listed.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            found[obj["Key"]] = [json.loads(line) for line in body.splitlines()]
    return found


def test_entries_past_retention_are_archived_to_s3_once(tenant: NewTenant, aws):
    # Given entries of two tenants: some past 90 days of retention on 2020-06-09, some not
    acme, globex = tenant("Acme"), tenant("Globex")
    as_of = "2020-06-09"  # the job's window: 2020-03-04 .. 2020-03-10
    _write(acme.id, "2020-03-10T08:00:00Z", "agent/a1")
    _write(acme.id, "2020-03-10T23:59:59.999999Z", "agent/a2")
    _write(globex.id, "2020-03-10T12:00:00Z", "agent/g1")
    _write(acme.id, "2020-03-05T12:00:00Z", "agent/a0")
    _write(acme.id, "2020-03-11T00:00:00Z", "agent/kept")  # exactly 90 days: still retained
    _write(acme.id, "2020-06-01T09:00:00Z", "agent/recent")

    # When the daily job runs
    result = _archive(as_of)

    # Then each tenant's old days are JSON lines in S3, newer entries are not
    assert result["archived_days"]["2020-03-10"] == 3
    assert result["archived_days"]["2020-03-05"] == 1
    assert len(result["archived_days"]) == 7
    objects = _objects(aws.archive_bucket, [acme.id, globex.id])
    assert set(objects) == {
        f"audit/tenant={acme.id}/day=2020-03-10.jsonl",
        f"audit/tenant={acme.id}/day=2020-03-05.jsonl",
        f"audit/tenant={globex.id}/day=2020-03-10.jsonl",
    }
    acme_day = objects[f"audit/tenant={acme.id}/day=2020-03-10.jsonl"]
    assert [e["subject"] for e in acme_day] == ["agent/a1", "agent/a2"]
    assert all(
        e["tenant_id"] == acme.id and e["occurred_at"].startswith("2020-03-10") for e in acme_day
    )
    assert [e["subject"] for e in objects[f"audit/tenant={globex.id}/day=2020-03-10.jsonl"]] == [
        "agent/g1"
    ]
    head = h.aws_client("s3").head_object(
        Bucket=aws.archive_bucket, Key=f"audit/tenant={acme.id}/day=2020-03-10.jsonl"
    )
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "application/x-ndjson"

    # When it runs again for the same day, the markers make it a no-op
    assert _archive(as_of) == {"archived_days": {}}
    versions = h.aws_client("s3").list_object_versions(
        Bucket=aws.archive_bucket, Prefix=f"audit/tenant={acme.id}/"
    )["Versions"]
    assert len(versions) == 2  # no object was written twice

    # When the next day comes, the entry that was still retained is archived
    next_day = _archive("2020-06-10")
    assert next_day["archived_days"] == {"2020-03-11": 1}
    assert f"audit/tenant={acme.id}/day=2020-03-11.jsonl" in _objects(aws.archive_bucket, [acme.id])


def test_the_scheduler_event_means_today(aws):
    # The schedule sends {} (events/audit/schedule_archive.json); it archives the window
    # that ends retention + 1 days ago
    from tests.support.events import load_event

    result = h.invoke(h.ARCHIVE, load_event("audit/schedule_archive"))
    newest = (datetime.now(UTC).date() - timedelta(days=h.RETENTION_DAYS + 1)).isoformat()
    assert newest in result["archived_days"]
    assert max(result["archived_days"]) == newest


def test_consumer_and_api_agree_on_who_did_it(tenant: NewTenant, published):
    acme = tenant()
    viewer = acme.key("viewer")
    api(IDENTITY, "DELETE", f"/v1/keys/{viewer.key_id}", caller=acme.owner)
    _consume(published.messages_of(acme.id))
    revoked = next(e for e in _log(acme.owner).json["items"] if e["type"] == "ApiKeyRevoked")
    assert revoked["subject"] == f"key/{viewer.key_id}"
    assert revoked["actor"] == {"kind": "api_key", "key_id": acme.owner.key_id, "role": "owner"}


# ---------------------------------------------------------------------------- streaming archive
def _entry(tenant_id: str, n: int, padding: int = 0):
    from audit.models import AuditEntry

    return AuditEntry(
        event_id=f"ev{n:06d}",
        tenant_id=tenant_id,
        type="AgentUpdated",
        source="agenthub.agents",
        occurred_at=f"2020-03-10T08:00:{n % 60:02d}Z",
        actor={"kind": "system"},
        subject=f"agent/{n}",
        data={"padding": "x" * padding},
    )


def test_a_large_tenant_day_streams_to_s3_in_parts(aws):
    from audit.dal.repository import PART_BYTES, ArchiveWriter

    # Given a tenant-day of ~12 MB of entries (more than one upload part)
    entries = [_entry("t_big", n, padding=100_000) for n in range(120)]
    writer = ArchiveWriter(aws.archive_bucket, "audit/tenant=t_big/day=2020-03-10.jsonl")
    # When they are written one by one
    for entry in entries:
        writer.write(entry)
    writer.close()
    # Then the object arrived as a multipart upload, a part at a time, complete and in order
    assert writer.parts == 2 and writer.lines == 120
    s3 = h.aws_client("s3")
    obj = s3.get_object(Bucket=aws.archive_bucket, Key="audit/tenant=t_big/day=2020-03-10.jsonl")
    lines = obj["Body"].read().decode().splitlines()
    assert [json.loads(line)["event_id"] for line in lines] == [e.event_id for e in entries]
    assert obj["ServerSideEncryption"] == "AES256"
    assert obj["ContentLength"] > PART_BYTES


def test_a_failed_archive_leaves_no_half_object_nor_parts(aws):
    from audit.dal.repository import ArchiveWriter

    # Given an upload with one part sent
    writer = ArchiveWriter(aws.archive_bucket, "audit/tenant=t_x/day=2020-03-10.jsonl")
    for n in range(90):
        writer.write(_entry("t_x", n, padding=100_000))
    assert writer.parts == 1
    # When the job fails and aborts it
    writer.abort()
    # Then neither the object nor the parts remain
    s3 = h.aws_client("s3")
    listed = s3.list_objects_v2(Bucket=aws.archive_bucket, Prefix="audit/tenant=t_x/")
    assert "Contents" not in listed
    assert not s3.list_multipart_uploads(Bucket=aws.archive_bucket).get("Uploads")


def test_each_tenants_object_is_finished_before_the_next_tenant_is_read(aws, monkeypatch):
    from audit.dal import repository
    from audit.logic import service

    # Given a day of three tenants, read page by page (a generator, as the dal gives it)
    s3 = h.aws_client("s3")
    finished_when_read: dict[str, list[str]] = {}

    def day_pages(day: str):
        for tenant_id in ("t_a", "t_b", "t_c"):
            for n in range(3):
                if n == 1:  # the tenant's first entry has reached the writer
                    listed = s3.list_objects_v2(Bucket=aws.archive_bucket, Prefix="audit/")
                    keys = sorted(
                        o["Key"]
                        for o in listed.get("Contents", [])
                        if o["Key"].startswith(("audit/tenant=t_a/", "audit/tenant=t_b/"))
                    )
                    finished_when_read[tenant_id] = keys
                yield _entry(tenant_id, n)

    monkeypatch.setattr(repository, "entries_of_day", day_pages)
    # When the day is archived
    count, tenants = service._archive_day("2020-03-10", aws.archive_bucket)
    # Then each tenant's object was complete as soon as the next tenant's entries began:
    # nothing but one tenant's current part is ever held
    assert (count, tenants) == (9, 3)
    assert finished_when_read == {
        "t_a": [],
        "t_b": ["audit/tenant=t_a/day=2020-03-10.jsonl"],
        "t_c": [
            "audit/tenant=t_a/day=2020-03-10.jsonl",
            "audit/tenant=t_b/day=2020-03-10.jsonl",
        ],
    }
