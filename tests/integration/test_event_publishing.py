"""Publishing domain events through the transactional outbox: a mutation stages its events in
the same DynamoDB transaction, and the relay (the table's stream → OutboxRelayFunction) sends
them to the bus. A bus that is down never fails a request and never loses an event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.integration import harness as h
from tests.integration.harness import AGENTS, IDENTITY, api

NewTenant = Callable[..., h.Tenant]
ADMIN = {"Authorization": f"Bearer {h.ADMIN_TOKEN}"}


class FlakyBus:
    """PutEvents in front of the real (moto) bus: on the first ``failing_calls`` calls it
    reports entries failed as EventBridge does under throttling (HTTP 200, FailedEntryCount
    > 0): all but the first (``send_first``) or all of them."""

    def __init__(self, failing_calls: int, *, send_first: bool = True) -> None:
        self.failing_calls = failing_calls
        self.send_first = send_first
        self.calls: list[list[str]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append([e["DetailType"] for e in Entries])
        real = h.aws_client("events")
        if self.failing_calls:
            self.failing_calls -= 1
            keep = 1 if self.send_first else 0
            sent = real.put_events(Entries=Entries[:keep])["Entries"] if keep else []
            failed = [
                {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
                for _ in Entries[keep:]
            ]
            return {"FailedEntryCount": len(failed), "Entries": sent + failed}
        return dict(real.put_events(Entries=Entries))


@pytest.fixture
def flaky_bus(aws: h.World, monkeypatch: pytest.MonkeyPatch) -> Callable[..., FlakyBus]:
    from agenthub import events

    def install(failing_calls: int, *, send_first: bool = True) -> FlakyBus:
        bus = FlakyBus(failing_calls, send_first=send_first)
        environment_publisher = events.publisher(aws.bus_name)
        monkeypatch.setattr(environment_publisher, "_put_events", bus.put_events)
        monkeypatch.setattr(environment_publisher, "_sleep", lambda seconds: None)
        return bus

    return install


def test_a_mutation_stages_its_events_in_the_same_write(tenant: NewTenant, aws, aws_calls):
    # Given a tenant
    acme = tenant()
    h.relay_outbox(aws.table_name)  # what creating the tenant staged
    aws_calls.clear()

    # When an agent is created
    response = api(AGENTS, "POST", "/v1/agents", {"name": "x"}, caller=acme.owner)

    # Then one DynamoDB transaction did it all, and nothing talked to EventBridge
    assert response.status == 201, response
    assert aws_calls.of("dynamodb") == ["TransactWriteItems"]
    assert aws_calls.of("events") == []
    staged = h.outbox_records(aws.table_name)
    assert [r["dynamodb"]["NewImage"]["detail_type"]["S"] for r in staged] == ["AgentCreated"]


def test_failed_entries_are_retried_alone(aws, flaky_bus, published):
    # Given a bus that throttles part of the first batch
    bus = flaky_bus(1)

    # When a tenant is created (TenantCreated + ApiKeyCreated) and the relay runs
    response = api(IDENTITY, "POST", "/v1/tenants", {"name": "Acme"}, headers=ADMIN)
    result = h.relay_outbox(aws.table_name)

    # Then the failed entry alone was sent again, and each event arrived once
    assert response.status == 201, response
    assert result == {"batchItemFailures": []}
    assert bus.calls == [["TenantCreated", "ApiKeyCreated"], ["ApiKeyCreated"]]
    tenant_id = response.json["tenant"]["id"]
    assert sorted(e["detail-type"] for e in published.of(tenant_id)) == [
        "ApiKeyCreated",
        "TenantCreated",
    ]


def test_a_bus_that_stays_down_fails_the_relay_batch_not_the_request(
    tenant: NewTenant, aws, flaky_bus, published
):
    # Given a tenant whose creation events were relayed, and then a bus that keeps failing
    acme = tenant()
    h.relay_outbox(aws.table_name)
    bus = flaky_bus(99, send_first=False)

    # When a key is created
    response = api(IDENTITY, "POST", "/v1/keys", {"name": "x", "role": "member"}, caller=acme.owner)
    records = h.outbox_records(aws.table_name)
    result = h.invoke("relay.handlers.on_table_stream", {"Records": records})

    # Then the request succeeded; the relay reports the record to resume from (Lambda retries
    # it, then sends it to the outbox DLQ) after three attempts
    assert response.status == 201, response
    assert result == {
        "batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]
    }
    assert bus.calls == [["ApiKeyCreated"]] * 3

    # And once the bus is back, the retried batch delivers the event
    flaky_bus(0)
    assert h.invoke("relay.handlers.on_table_stream", {"Records": records}) == {
        "batchItemFailures": []
    }
    subjects = [e["detail"]["subject"] for e in published.of(acme.id, "ApiKeyCreated")]
    assert subjects.count(f"key/{response.json['id']}") == 1


@pytest.fixture
def bus_down(reconfigure) -> Callable[[], None]:
    """Call it to take the bus away (deleted, or the function points at the wrong one)."""
    return lambda: reconfigure(EVENT_BUS_NAME="agenthub-itest-no-such-bus")


def test_a_bus_that_is_down_does_not_fail_or_duplicate_a_create(tenant: NewTenant, bus_down):
    acme = tenant()
    bus_down()

    response = api(AGENTS, "POST", "/v1/agents", {"name": "Only once"}, caller=acme.owner)

    assert response.status == 201, response
    listed = api(AGENTS, "GET", "/v1/agents", caller=acme.owner).json["items"]
    assert [a["name"] for a in listed] == ["Only once"]


def test_a_rolled_back_write_stages_no_event(tenant: NewTenant, aws):
    # Given an agent at version 1, changed once already
    acme = tenant()
    agent = acme.agent()
    path = f"/v1/agents/{agent['id']}"
    api(AGENTS, "PATCH", path, {"name": "B"}, caller=acme.owner, headers={"If-Match": '"v1"'})
    h.relay_outbox(aws.table_name)

    # When a stale PATCH is refused
    stale = api(
        AGENTS, "PATCH", path, {"name": "C"}, caller=acme.owner, headers={"If-Match": '"v1"'}
    )

    # Then no AgentUpdated event was staged for it
    assert (stale.status, stale.error_code) == (409, "version_conflict")
    assert h.outbox_records(aws.table_name) == []


def test_the_relay_ignores_what_is_not_an_outbox_insert(aws):
    other = {
        "eventName": "INSERT",
        "dynamodb": {"SequenceNumber": "1", "NewImage": {"entity": {"S": "agent"}}},
    }
    removed = {"eventName": "REMOVE", "dynamodb": {"SequenceNumber": "2", "OldImage": {}}}
    result = h.invoke("relay.handlers.on_table_stream", {"Records": [other, removed]})
    assert result == {"batchItemFailures": []}
