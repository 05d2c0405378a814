"""The knowledge pipeline through its real handlers: sources are created through the API, the
ingestion worker consumes the queued messages (and S3 notifications) from SQS records, and
search answers with citations. Everything in moto, in process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration import harness as h
from tests.integration.harness import api

KNOWLEDGE = h.KNOWLEDGE
WORKER = h.INGESTION
NewTenant = Callable[..., h.Tenant]

HOURS = """# Opening hours

We are open Monday to Friday from 9am to 6pm.

## Weekends

On Saturdays the clinic opens from 10am to 2pm. We are closed on Sundays.

# Payments

We accept cards and bank transfers. Invoices are due within 30 days.
"""


def _documents(agent: dict[str, Any]) -> str:
    return f"/v1/agents/{agent['id']}/documents"


def _queued(aws: h.World) -> list[dict[str, Any]]:
    """Work on the ingestion queue (not the bucket's one-off test notification)."""
    got = h.take_messages(aws.ingestion_queue_url)
    return [m for m in got if "s3:TestEvent" not in m["Body"]]


def _work(aws: h.World, bodies: list[str] | None = None, receive_count: int = 1) -> Any:
    """Run the ingestion worker over what is queued (or over ``bodies``), then over the index
    builds that scheduled, until the queue is empty; the first batch's response."""
    if bodies is None:
        bodies = [m["Body"] for m in _queued(aws)]
    event = h.sqs_event(bodies)
    for record in event["Records"]:
        record["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    response = h.invoke(WORKER, event)
    h.ingest_queued(aws)
    return response


def _add(acme: h.Tenant, agent: dict[str, Any], source: dict[str, Any]) -> h.HttpResponse:
    return api(KNOWLEDGE, "POST", _documents(agent), {"source": source}, caller=acme.owner)


def _search(acme: h.Tenant, agent: dict[str, Any], query: str, **extra: Any) -> dict[str, Any]:
    response = api(
        KNOWLEDGE,
        "POST",
        f"/v1/agents/{agent['id']}/search",
        {"query": query, **extra},
        caller=acme.owner,
    )
    assert response.status == 200, response
    return response.json


@pytest.fixture
def acme(tenant: NewTenant) -> h.Tenant:
    return tenant()


def test_a_text_source_is_queued_then_indexed_and_found_with_a_citation(aws, acme):
    # Given an agent and a Markdown source
    agent = acme.agent()
    created = _add(acme, agent, {"type": "text", "text": HOURS, "tags": ["faq"]})
    assert created.status == 202, created
    doc = created.json["document"]
    assert doc["status"] == "queued"

    # When the worker runs over the queue
    result = _work(aws)

    # Then the document is indexed with its usage, and search finds the right section
    assert result == {"batchItemFailures": []}
    got = api(KNOWLEDGE, "GET", f"{_documents(agent)}/{doc['id']}", caller=acme.owner).json
    assert got["status"] == "indexed", got
    assert got["usage"]["chunks"] >= 2
    assert got["progress"]["chunks_done"] == got["progress"]["chunks_total"]
    found = _search(acme, agent, "are you open on saturday?")
    top = found["results"][0]
    assert "Saturdays" in top["text"]
    assert top["document_id"] == doc["id"]
    assert top["title"] == "Opening hours"
    assert top["location"]["heading_path"][0] == "Opening hours"
    assert top["location"]["char_end"] > top["location"]["char_start"]
    assert found["index_version"] == 1
    assert top["link"] is None  # inline text has no page or file to open


def test_filters_narrow_the_search(aws, acme):
    agent = acme.agent()
    _add(acme, agent, {"type": "text", "text": HOURS, "tags": ["faq"]})
    _add(
        acme,
        agent,
        {"type": "qa", "pairs": [{"question": "Do you open on Saturday?", "answer": "Yes."}]},
    )
    _work(aws)
    both = _search(acme, agent, "open saturday", k=10)
    only_qa = _search(acme, agent, "open saturday", k=10, filters={"source_types": ["qa"]})
    only_faq = _search(acme, agent, "open saturday", k=10, filters={"tags": ["faq"]})
    assert {r["title"] for r in both["results"]} >= {"Opening hours", "Questions and answers"}
    assert {r["title"] for r in only_qa["results"]} == {"Questions and answers"}
    assert {r["title"] for r in only_faq["results"]} == {"Opening hours"}


def test_an_upload_is_ingested_from_its_s3_notification(aws, acme):
    # Given an upload source and the file PUT where the presigned URL points
    agent = acme.agent()
    created = _add(acme, agent, {"type": "upload", "file_name": "prices.csv", "size": 60})
    assert created.status == 202, created
    doc, upload = created.json["document"], created.json["upload"]
    assert doc["status"] == "awaiting_upload"
    assert upload["method"] == "PUT" and upload["headers"]["Content-Type"] == "text/csv"
    key = f"uploads/{acme.id}/{agent['id']}/{doc['id']}/prices.csv"
    h.aws_client("s3").put_object(
        Bucket=aws.documents_bucket,
        Key=key,
        Body=b"service,price\ncleaning,80 EUR\nwhitening,250 EUR\n",
    )

    # When the worker receives what the bucket notified the ingestion queue of
    bodies = [m["Body"] for m in _queued(aws)]
    assert any(doc["id"] in body and "ObjectCreated" in body for body in bodies), bodies
    _work(aws, bodies)

    # Then the file is indexed and a table row is retrievable with its header
    got = api(KNOWLEDGE, "GET", f"{_documents(agent)}/{doc['id']}", caller=acme.owner).json
    assert got["status"] == "indexed", got
    top = _search(acme, agent, "how much is whitening")["results"][0]
    assert "250" in top["text"] and top["file_name"] == "prices.csv"
    # and the hit links to the file itself, signed for five minutes
    assert top["link"].split("?")[0].endswith(f"/{doc['id']}/prices.csv")
    assert "Signature=" in top["link"] and "Expires=" in top["link"]


def test_an_explicit_title_is_kept_even_when_it_equals_the_file_name(aws, acme):
    # Given two HTML uploads with a <title>: one named by the user (as its file name), one not
    agent = acme.agent()
    page = b"<html><head><title>Page title</title></head><body><p>Parking is free.</p></body>"
    named = _add(
        acme,
        agent,
        {"type": "upload", "file_name": "parking.html", "size": len(page), "title": "parking.html"},
    ).json["document"]
    unnamed = _add(
        acme, agent, {"type": "upload", "file_name": "other.html", "size": len(page)}
    ).json["document"]
    for doc in (named, unnamed):
        key = f"uploads/{acme.id}/{agent['id']}/{doc['id']}/{doc['file_name']}"
        h.aws_client("s3").put_object(Bucket=aws.documents_bucket, Key=key, Body=page)

    # When both are ingested from the bucket's notifications
    _work(aws)

    # Then the user's title stays; the default gives way to the page's own title
    def title(doc: dict[str, Any]) -> str:
        path = f"{_documents(agent)}/{doc['id']}"
        return api(KNOWLEDGE, "GET", path, caller=acme.owner).json["title"]

    assert title(named) == "parking.html"
    assert title(unnamed) == "Page title"


def test_a_bad_file_fails_with_a_reason_and_the_others_are_indexed(aws, acme):
    agent = acme.agent()
    good = _add(acme, agent, {"type": "text", "text": HOURS}).json["document"]
    bad = _add(acme, agent, {"type": "upload", "file_name": "notes.txt", "size": 100})
    bad_doc = bad.json["document"]
    key = f"uploads/{acme.id}/{agent['id']}/{bad_doc['id']}/notes.txt"
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3
    h.aws_client("s3").put_object(Bucket=aws.documents_bucket, Key=key, Body=png)

    result = _work(aws)

    assert result == {"batchItemFailures": []}  # a user's bad file is not a retryable fault
    failed = api(KNOWLEDGE, "GET", f"{_documents(agent)}/{bad_doc['id']}", caller=acme.owner)
    assert failed.json["status"] == "failed"
    assert failed.json["failure"]["reason"] == "content_mismatch"
    assert failed.json["failure"]["message"]
    indexed = api(KNOWLEDGE, "GET", f"{_documents(agent)}/{good['id']}", caller=acme.owner)
    assert indexed.json["status"] == "indexed"


def test_a_poison_message_fails_alone_then_marks_the_document_failed_on_its_last_try(
    aws, acme, monkeypatch
):
    # Given two queued documents, one of which makes the worker crash
    agent = acme.agent()
    good = _add(acme, agent, {"type": "text", "text": HOURS}).json["document"]
    poison = _add(acme, agent, {"type": "text", "text": "# Boom\n\nexplodes"}).json["document"]
    bodies = [m["Body"] for m in _queued(aws)]
    from knowledge.logic import parsing

    real = parsing.parse_text

    def crash_on_boom(text: str, **kw: Any) -> Any:
        if "explodes" in text:
            raise RuntimeError("parser bug")
        return real(text, **kw)

    monkeypatch.setattr(parsing, "parse_text", crash_on_boom)

    # When the batch is processed (first delivery), then redelivered a last time
    first = _work(aws, bodies)
    last = _work(aws, [b for b in bodies if poison["id"] in b], receive_count=3)

    # Then only the poison record is retried; the good one is indexed; on the last attempt
    # the document shows failed (the message then goes to the DLQ)
    assert len(first["batchItemFailures"]) == 1
    assert len(last["batchItemFailures"]) == 1
    status = {
        d["id"]: d["status"]
        for d in api(KNOWLEDGE, "GET", _documents(agent), caller=acme.owner).json["items"]
    }
    assert status == {good["id"]: "indexed", poison["id"]: "failed"}


def test_delete_removes_chunks_from_the_index_and_the_version_advances(aws, acme):
    agent = acme.agent()
    doc = _add(acme, agent, {"type": "text", "text": HOURS}).json["document"]
    _work(aws)
    before = _search(acme, agent, "saturday")
    assert before["results"]

    deleted = api(KNOWLEDGE, "DELETE", f"{_documents(agent)}/{doc['id']}", caller=acme.owner)
    assert deleted.status == 202, deleted
    _work(aws)
    from agenthub import environment

    environment.reset()
    after = _search(acme, agent, "saturday")
    assert after["results"] == []
    assert after["index_version"] == before["index_version"] + 1


def test_re_ingesting_the_same_content_is_idempotent(aws, acme):
    agent = acme.agent()
    doc = _add(acme, agent, {"type": "text", "text": HOURS}).json["document"]
    bodies = [m["Body"] for m in _queued(aws)]
    _work(aws, bodies)
    version = _search(acme, agent, "saturday")["index_version"]

    # a redelivered message changes nothing visible
    _work(aws, bodies)
    got = api(KNOWLEDGE, "GET", f"{_documents(agent)}/{doc['id']}", caller=acme.owner).json
    assert got["status"] == "indexed"
    assert got["attempts"] == 1
    from agenthub import environment

    environment.reset()
    assert _search(acme, agent, "saturday")["index_version"] == version


def test_retry_of_a_failed_document_queues_it_again(aws, acme):
    agent = acme.agent()
    created = _add(acme, agent, {"type": "upload", "file_name": "empty.md", "size": 10}).json
    doc = created["document"]
    key = f"uploads/{acme.id}/{agent['id']}/{doc['id']}/empty.md"
    h.aws_client("s3").put_object(Bucket=aws.documents_bucket, Key=key, Body=b"")
    _work(aws)
    path = f"{_documents(agent)}/{doc['id']}"
    assert api(KNOWLEDGE, "GET", path, caller=acme.owner).json["failure"]["reason"] == "empty"

    h.aws_client("s3").put_object(Bucket=aws.documents_bucket, Key=key, Body=b"# Now\n\ncontent")
    retried = api(KNOWLEDGE, "POST", f"{path}/retry", caller=acme.owner)
    assert retried.status == 202, retried
    assert retried.json["document"]["status"] == "queued"
    _work(aws)
    assert api(KNOWLEDGE, "GET", path, caller=acme.owner).json["status"] == "indexed"
    again = api(KNOWLEDGE, "POST", f"{path}/retry", caller=acme.owner)
    assert again.status == 202  # an indexed document may be re-read too


@pytest.mark.parametrize(
    "source",
    [
        {"type": "upload", "file_name": "virus.exe", "size": 10},
        {"type": "upload", "file_name": "big.pdf", "size": 50 * 1024 * 1024},
        {"type": "upload", "file_name": "../etc/passwd.txt", "size": 10},
        {"type": "text", "text": ""},
        {"type": "qa", "pairs": []},
        {"type": "url", "url": "ftp://example.com/file.txt"},
        {"type": "url", "url": "https://user:pass@example.com/"},
        {"type": "nope"},
    ],
)
def test_bad_sources_are_refused_and_nothing_is_queued(aws, acme, source):
    agent = acme.agent()
    response = _add(acme, agent, source)
    assert response.status == 422, response
    assert _queued(aws) == []
    assert api(KNOWLEDGE, "GET", _documents(agent), caller=acme.owner).json["items"] == []


def test_another_tenants_agent_and_documents_are_not_found(aws, tenant: NewTenant):
    acme, other = tenant(), tenant()
    agent = acme.agent()
    doc = _add(acme, agent, {"type": "text", "text": HOURS}).json["document"]
    _work(aws)
    for method, path, body in [
        ("GET", _documents(agent), None),
        ("POST", _documents(agent), {"source": {"type": "text", "text": "x"}}),
        ("GET", f"{_documents(agent)}/{doc['id']}", None),
        ("DELETE", f"{_documents(agent)}/{doc['id']}", None),
        ("POST", f"/v1/agents/{agent['id']}/search", {"query": "saturday"}),
        ("GET", f"/v1/agents/{agent['id']}/index", None),
    ]:
        response = api(KNOWLEDGE, method, path, body, caller=other.owner)
        assert response.status == 404, (method, path, response)


def test_text_up_to_the_stated_limit_is_accepted_and_a_larger_body_says_to_upload(aws, acme):
    agent = acme.agent()
    # 200,000 characters of text: more than the other routes' 64 KiB, within the stated limit
    text = ("Parking is free for visitors on weekdays. " * 5000)[:200_000]
    assert _add(acme, agent, {"type": "text", "text": text}).status == 202
    # A body past the knowledge routes' 1 MiB cap is refused before parsing, with the way out
    refused = _add(acme, agent, {"type": "text", "text": "x" * (1024 * 1024 + 1)})
    assert refused.status == 413, refused
    assert "upload" in refused.json["error"]["message"]


def _index(acme: h.Tenant, agent: dict[str, Any]) -> dict[str, Any]:
    response = api(KNOWLEDGE, "GET", f"/v1/agents/{agent['id']}/index", caller=acme.owner)
    assert response.status == 200, response
    return response.json


def _statuses(acme: h.Tenant, agent: dict[str, Any]) -> list[str]:
    listed = api(KNOWLEDGE, "GET", _documents(agent), caller=acme.owner).json
    return sorted(d["status"] for d in listed["items"])


def test_documents_of_many_batches_share_one_index_build(aws, acme):
    # Given twelve text sources, processed in three batches before any build runs
    agent = acme.agent()
    for n in range(12):
        _add(acme, agent, {"type": "text", "text": f"# Room {n}\n\nRoom {n} has {n} chairs."})
    bodies = [m["Body"] for m in _queued(aws) + _queued(aws)]
    assert len(bodies) == 12
    for start in (0, 5, 10):
        assert h.invoke(WORKER, h.sqs_event(bodies[start : start + 5])) == {"batchItemFailures": []}

    # Then they wait, processed, for the one build all three batches scheduled
    assert _statuses(acme, agent) == ["processing"] * 12
    waiting = _index(acme, agent)
    assert waiting["version"] == 0 and waiting["pending_changes"] == 12
    assert waiting["build_scheduled"] is True
    scheduled = [m["Body"] for m in _queued(aws)]
    assert len(scheduled) == 1 and '"reindex"' in scheduled[0]

    # When that build runs, one version holds all twelve and nothing more is scheduled
    assert h.invoke(WORKER, h.sqs_event(scheduled)) == {"batchItemFailures": []}
    built = _index(acme, agent)
    assert built["version"] == 1 and built["documents"] == 12
    assert built["pending_changes"] == 0 and built["build_scheduled"] is False
    assert _statuses(acme, agent) == ["indexed"] * 12
    assert _queued(aws) == []
    assert _search(acme, agent, "how many chairs in room 7")["results"][0]["text"].startswith(
        "Room 7"
    )


def test_a_change_noted_while_a_build_runs_schedules_the_next_build(aws, acme, monkeypatch):
    from knowledge.dal import repository
    from knowledge.logic import builds

    agent = acme.agent()
    _add(acme, agent, {"type": "text", "text": HOURS})
    h.invoke(WORKER, h.sqs_event([m["Body"] for m in _queued(aws)]))
    scheduled = [m["Body"] for m in _queued(aws)]
    assert len(scheduled) == 1 and '"reindex"' in scheduled[0]

    # Given a change that lands after the build read what to hold
    original = builds.rebuild

    def rebuild_then_a_change(tenant_id: str, agent_id: str, bucket: str) -> builds.Built:
        built = original(tenant_id, agent_id, bucket)
        repository.note_changes(tenant_id, agent_id, 1)
        return built

    monkeypatch.setattr(builds, "rebuild", rebuild_then_a_change)

    # When the build finishes, it keeps the schedule and sends the next build
    h.invoke(WORKER, h.sqs_event(scheduled))
    assert _index(acme, agent)["pending_changes"] == 1
    assert _index(acme, agent)["build_scheduled"] is True
    monkeypatch.setattr(builds, "rebuild", original)
    assert h.ingest_queued(aws) == {"batchItemFailures": []}

    # Then that build folds the change in and clears the schedule
    index = _index(acme, agent)
    assert index["version"] == 2 and index["pending_changes"] == 0
    assert index["build_scheduled"] is False
