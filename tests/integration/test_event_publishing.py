"""Publishing domain events: partial PutEvents failures are retried, a bus that stays down is
a 503 the client can retry, and what that 503 means for the write that preceded it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
def flaky_bus(aws: h.World) -> Iterator[Callable[..., FlakyBus]]:
    from agenthub import events

    def install(failing_calls: int, *, send_first: bool = True) -> FlakyBus:
        bus = FlakyBus(failing_calls, send_first=send_first)
        events._publishers[aws.bus_name] = events.EventPublisher(
            aws.bus_name, put_events=bus.put_events, sleep=lambda seconds: None
        )
        return bus

    yield install
    events._publishers.clear()


def test_failed_entries_are_retried_alone(aws, flaky_bus, published):
    # Given a bus that throttles part of the first batch
    bus = flaky_bus(1)

    # When a tenant is created (TenantCreated + ApiKeyCreated)
    response = api(IDENTITY, "POST", "/v1/tenants", {"name": "Acme"}, headers=ADMIN)

    # Then it succeeds, the failed entry alone was sent again, and each event arrived once
    assert response.status == 201, response
    assert bus.calls == [["TenantCreated", "ApiKeyCreated"], ["ApiKeyCreated"]]
    tenant_id = response.json["tenant"]["id"]
    assert sorted(e["detail-type"] for e in published.of(tenant_id)) == [
        "ApiKeyCreated",
        "TenantCreated",
    ]


def test_entries_that_keep_failing_are_a_503_with_retry_after(tenant: NewTenant, flaky_bus):
    acme = tenant()
    bus = flaky_bus(99, send_first=False)

    response = api(IDENTITY, "POST", "/v1/keys", {"name": "x", "role": "member"}, caller=acme.owner)

    assert response.status == 503, response
    assert response.error_code == "event_publish_failed"
    assert int(response.headers["Retry-After"]) >= 1
    assert bus.calls == [["ApiKeyCreated"]] * 3  # three attempts, then give up


@pytest.fixture
def bus_down(reconfigure) -> Callable[[], None]:
    """Call it to take the bus away (deleted, or the function points at the wrong one)."""
    return lambda: reconfigure(EVENT_BUS_NAME="agenthub-itest-no-such-bus")


def test_a_bus_that_is_down_is_a_503_with_retry_after(tenant: NewTenant, bus_down):
    acme = tenant()
    bus_down()
    response = api(AGENTS, "POST", "/v1/agents", {"name": "x"}, caller=acme.owner)
    assert response.status == 503, response
    assert response.error_code == "event_publish_failed"
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json["error"]["message"] == "events could not be published"


def test_a_503_names_nothing_internal(tenant: NewTenant, bus_down):
    acme = tenant()
    bus_down()
    response = api(AGENTS, "POST", "/v1/agents", {"name": "x"}, caller=acme.owner)
    assert response.status == 503
    assert "Exception" not in response.body and "Error" not in response.body
    assert "no-such-bus" not in response.body


@pytest.mark.xfail(
    strict=True,
    reason="BUG: the write commits before PutEvents; a 503 with Retry-After invites a retry "
    "that creates a second agent (publish through an outbox / the table's stream instead, or "
    "answer 201 and retry the event asynchronously)",
)
def test_a_503_means_nothing_was_created(tenant: NewTenant, bus_down):
    acme = tenant()
    bus_down()

    response = api(AGENTS, "POST", "/v1/agents", {"name": "Only once"}, caller=acme.owner)

    assert response.status == 503
    listed = api(AGENTS, "GET", "/v1/agents", caller=acme.owner).json["items"]
    assert listed == []  # a client following Retry-After must not end up with two agents


def test_after_a_503_the_client_retry_of_a_patch_is_told_it_is_stale(tenant: NewTenant, bus_down):
    # Documents the consequence today: the update was applied although the client got 503
    acme = tenant()
    agent = acme.agent()
    bus_down()
    path = f"/v1/agents/{agent['id']}"
    first = api(
        AGENTS, "PATCH", path, {"name": "New"}, caller=acme.owner, headers={"If-Match": '"v1"'}
    )
    retry = api(
        AGENTS, "PATCH", path, {"name": "New"}, caller=acme.owner, headers={"If-Match": '"v1"'}
    )
    assert first.status == 503
    assert (retry.status, retry.error_code) == (409, "version_conflict")
