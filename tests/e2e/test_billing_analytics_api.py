"""Usage and analytics end to end, over HTTP through the local runtime: a visitor's messages
leave their events through the outbox, the stream poller, the relay, the emulated bus and
the template's rules into the billing and analytics queues, whose pollers run the consumers;
the owner then reads the ledger, the analytics series and the CSV over the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from infra.local.runtime import LocalRuntime
from tests.e2e.api import Api
from tests.e2e.support import bearer, eventually

pytestmark = pytest.mark.slow

ORIGIN = "https://usage.example"
TEXT = "# Hours\n\nThe shop is open Monday to Saturday from 10am to 6pm."


def test_a_visitors_messages_reach_the_ledger_and_the_analytics_series(runtime: LocalRuntime):
    # Given a tenant with an indexed agent and a widget key
    api = Api(runtime)
    tenant = api.new_tenant("Usage Shop")
    owner = tenant.owner_key
    agent = api.new_agent(owner, name="Shop", allowed_origins=[ORIGIN])
    key = api.ok("POST", "/v1/publishable-keys", owner, json={"agent_id": agent["id"]})["secret"]
    documents = f"/v1/agents/{agent['id']}/documents"
    doc = api.ok("POST", documents, owner, json={"source": {"type": "text", "text": TEXT}})
    document_id = doc["document"]["id"]
    eventually(
        lambda: api.ok("GET", f"{documents}/{document_id}", owner)["status"] == "indexed",
        within=90,
    )

    # When a visitor asks two questions through the widget's routes
    widget = {**bearer(key), "Origin": ORIGIN}
    base = f"/v1/public/agents/{agent['id']}/conversations"
    started = api.call("POST", base, headers=widget, json={}).json()
    cid, token = started["conversation"]["id"], started["visitor_token"]
    for text in ("When is the shop open?", "Do you repair bicycles?"):
        body = {"text": text, "visitor_token": token}
        sent = api.call("POST", f"{base}/{cid}/messages", headers=widget, json=body)
        assert sent.status_code == 201, sent.text

    # Then the usage ledger counts them, per agent and day
    def ledger() -> dict[str, Any]:
        return api.ok("GET", "/v1/billing/usage", owner)

    eventually(lambda: ledger()["totals"]["messages"] == 2, within=60)
    usage = ledger()
    assert usage["agents"][0]["agent_id"] == agent["id"]
    assert usage["totals"]["documents_indexed"] == 1

    # And the analytics series has the conversation and both messages today
    today = datetime.now(UTC).date().isoformat()
    series = f"/v1/analytics/agents/{agent['id']}/series?from={today}&to={today}"

    def counted() -> dict[str, Any]:
        headers = {**bearer(owner), "Cache-Control": "no-cache"}
        return dict(api.call("GET", series, headers=headers).json()["days"][0]["counts"])

    eventually(lambda: counted()["messages"] == 2, within=60)
    assert counted()["conversations"] == 1

    # And the CSV export says the same
    export = api.call(
        "GET",
        f"/v1/analytics/agents/{agent['id']}/export?from={today}&to={today}",
        headers=bearer(owner),
    )
    assert export.status_code == 200 and export.headers["Content-Type"].startswith("text/csv")
    assert export.text.splitlines()[1].startswith(f"{today},1,2,")
