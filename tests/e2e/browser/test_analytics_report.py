"""A tenant reads its analytics report in Chromium: the page served by the local CloudFront
(``/analytics.html``) draws the seeded days as charts, the funnel as the API counts it and the
nightly rollup's top and unanswered questions; an empty range says so, a wrong key says so.

The scene, through the local runtime only: six past days of domain events delivered to the
analytics consumer function (exact, known counts), and today three real visitor conversations
through the widget's routes (the outbox, stream, bus and queue carry their events), then the
real rollup job for today. Screenshots go to ``artifacts/browser/analytics-*.png``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from infra.local.runtime import LocalRuntime
from tests.e2e.api import Api, Tenant
from tests.e2e.support import bearer, eventually

ORIGIN = "https://report.example"
# Six past days (oldest first): what the consumer is given, so what the charts must show.
PAST = {
    "conversations": [4, 7, 5, 9, 6, 8],
    "abstained": [1, 2, 0, 3, 1, 2],
    "leads": [1, 2, 1, 3, 2, 2],
    "bookings": [0, 1, 1, 2, 1, 1],
    "payments": [0, 1, 0, 1, 1, 1],
}
PRICE_MINOR = 2500
# Today's visitors (an agent without documents abstains on every question).
CONVERSATIONS = [
    ["Do you take insurance?", "Is parking available?"],
    ["Which insurance do you take?"],
    ["Do you take insurance?"],
]


@dataclass(frozen=True)
class ReportScene:
    api: Api
    tenant: Tenant
    agent_id: str
    page_url: str
    start: str
    end: str
    days: list[str]  # the past days, oldest first


def _event(tenant_id: str, kind: str, occurred_at: str, data: dict[str, Any]) -> dict[str, Any]:
    detail = {
        "actor": {"kind": "system"},
        "data": data,
        "event_id": uuid.uuid4().hex,
        "occurred_at": occurred_at,
        "schema_version": 1,
        "subject": f"agent/{data['agent_id']}",
        "tenant_id": tenant_id,
        "type": kind,
    }
    body = {"version": "0", "id": uuid.uuid4().hex, "detail-type": kind, "detail": detail}
    return {"messageId": uuid.uuid4().hex, "body": json.dumps(body), "eventSource": "aws:sqs"}


def _past_events(tenant_id: str, agent_id: str, days: list[str]) -> list[dict[str, Any]]:
    events = []
    for i, day in enumerate(days):
        at = f"{day}T12:00:00.000000Z"
        conversations = PAST["conversations"][i]
        counts = {
            "ConversationStarted": ({}, conversations),
            "LeadCaptured": ({}, PAST["leads"][i]),
            "BookingConfirmed": ({}, PAST["bookings"][i]),
            "PaymentSucceeded": (
                {"amount_minor": PRICE_MINOR, "currency": "usd"},
                PAST["payments"][i],
            ),
            "FeedbackReceived": ({"rating": "up"}, 2),
        }
        for kind, (extra, times) in counts.items():
            events += [
                _event(tenant_id, kind, at, {"agent_id": agent_id, **extra}) for _ in range(times)
            ]
        for n in range(conversations * 2):  # two messages per conversation
            abstained = n < PAST["abstained"][i]
            message = {
                "agent_id": agent_id,
                "abstained": abstained,
                "tokens_in": 400,
                "tokens_out": 0 if abstained else 100,
                "model": "amazon.nova-lite-v1:0",
            }
            events.append(_event(tenant_id, "MessageAnswered", at, message))
    return events


@pytest.fixture(scope="module")
def scene(runtime: LocalRuntime) -> ReportScene:
    api = Api(runtime)
    cdn_url = runtime.serve_widget()
    tenant = api.new_tenant("Report clinic")
    agent = api.new_agent(tenant.owner_key, name="Clinic", allowed_origins=[ORIGIN])
    agent_id = agent["id"]
    today = datetime.now(UTC).date()
    days = [(today - timedelta(days=n)).isoformat() for n in range(6, 0, -1)]

    # The past days: domain events handed to the analytics consumer, as its queue would
    events = _past_events(tenant.id, agent_id, days)
    for start in range(0, len(events), 10):
        result = runtime.invoke(
            "AnalyticsConsumerFunction", {"Records": events[start : start + 10]}
        )
        assert result.ok and json.loads(result.payload)["batchItemFailures"] == [], result

    # Today: real visitors on the widget's routes
    key = api.ok("POST", "/v1/publishable-keys", tenant.owner_key, json={"agent_id": agent_id})
    widget = {**bearer(key["secret"]), "Origin": ORIGIN}
    base = f"/v1/public/agents/{agent_id}/conversations"
    for questions in CONVERSATIONS:
        started = api.call("POST", base, headers=widget, json={}).json()
        cid, token = started["conversation"]["id"], started["visitor_token"]
        for text in questions:
            body = {"text": text, "visitor_token": token}
            sent = api.call("POST", f"{base}/{cid}/messages", headers=widget, json=body)
            assert sent.status_code == 201, sent.text
    series = f"/v1/analytics/agents/{agent_id}/series?from={today}&to={today}"

    def counted() -> bool:
        headers = {**bearer(tenant.owner_key), "Cache-Control": "no-cache"}
        counts = api.call("GET", series, headers=headers).json()["days"][0]["counts"]
        return counts["messages"] == 4 and counts["conversations"] == 3

    eventually(counted, within=60)
    rolled = runtime.invoke("AnalyticsRollupFunction", {"days": [today.isoformat()]})
    assert rolled.ok, rolled.payload
    return ReportScene(
        api=api,
        tenant=tenant,
        agent_id=agent_id,
        page_url=f"{cdn_url}/analytics.html",
        start=days[0],
        end=today.isoformat(),
        days=days,
    )


def _open(browser: Any, url: str) -> tuple[Any, Page, list[str], list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    console: list[str] = []
    requested: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("request", lambda r: requested.append(r.url))
    page.on("requestfailed", lambda r: console.append(f"error: {r.url} failed"))
    page.goto(url)
    return context, page, console, requested


def _report(scene: ReportScene) -> dict[str, Any]:
    path = f"/v1/analytics/agents/{scene.agent_id}/report?from={scene.start}&to={scene.end}"
    return dict(scene.api.ok("GET", path, scene.tenant.owner_key))


def test_the_report_draws_the_seeded_days_the_funnel_and_the_questions(
    browser: Any, scene: ReportScene, artifacts: Path
) -> None:
    # Given the page opened with the key, agent and range in the fragment
    secret = scene.tenant.owner_key
    fragment = f"#key={secret}&agent={scene.agent_id}&from={scene.start}&to={scene.end}"
    context, page, console, requested = _open(browser, scene.page_url + fragment)
    try:
        expect(page.locator("body")).to_have_attribute("data-state", "results")
        # Then the key left the address bar at once, and never travelled in a URL
        assert secret not in page.url and scene.agent_id in page.url
        assert requested and not any(secret in url for url in requested)

        # And each past day's dot and bar carries the seeded value
        for i, day in enumerate(scene.days):
            conversations = PAST["conversations"][i]
            expected = {
                "conversations": conversations,
                "messages": conversations * 2,
                "abstained": PAST["abstained"][i],
                "answered": conversations * 2 - PAST["abstained"][i],
                "leads": PAST["leads"][i],
                "bookings": PAST["bookings"][i],
                "payments": PAST["payments"][i],
            }
            for series, value in expected.items():
                mark = page.locator(f'[data-series="{series}"][data-day="{day}"]')
                expect(mark).to_have_attribute("data-value", str(value))
        # (today's real visitors too: three conversations, four questions, all abstained)
        today = page.locator(f'circle[data-series="messages"][data-day="{scene.end}"]')
        expect(today).to_have_attribute("data-value", "4")

        # And the funnel's numbers are the API's
        report = _report(scene)
        for stage in ("conversations", "leads", "bookings", "payments"):
            row = page.locator(f'.funnel [data-stage="{stage}"]')
            expect(row).to_have_attribute("data-value", str(report["funnel"][stage]))
            expect(row.locator(".stage-value")).to_contain_text(str(report["funnel"][stage]))
        assert report["funnel"]["conversations"] == sum(PAST["conversations"]) + 3
        assert report["funnel"]["payments"] == sum(PAST["payments"])
        expect(page.locator('[data-kpi="conversations"] strong')).to_have_text(
            str(report["totals"]["conversations"])
        )
        expect(page.locator('[data-kpi="revenue"] strong')).to_contain_text("100")
        # (model cost at the configured prices: Nova Lite, 400 tokens in and 100 out an answer)
        assert report["cost"]["total_micros"] > 0 and report["cost"]["unpriced_messages"] == 0
        per_conversation = report["cost"]["per_conversation_micros"] / 1_000_000
        expect(page.locator('[data-kpi="cost_per_conversation"] strong')).to_have_text(
            f"${per_conversation:.6f}".rstrip("0")
        )

        # And today's rollup: top questions, and the unanswered ones grouped by similarity
        top = page.locator("#top li").first
        expect(top.locator(".q")).to_have_text("Do you take insurance?")
        expect(top.locator(".count")).to_have_text("2")
        gap = page.locator("#unanswered li").first
        expect(gap.locator(".q")).to_have_text("Do you take insurance?")
        expect(gap.locator(".count")).to_have_text("3")
        expect(gap.locator(".also")).to_contain_text("Which insurance do you take?")
        page.screenshot(path=artifacts / "analytics-1-report.png", full_page=True)
        # Nothing was refused by the page's Content-Security-Policy, nothing failed
        assert not [line for line in console if line.startswith("error")], console
    finally:
        context.close()


def test_an_empty_range_shows_an_empty_state(
    browser: Any, scene: ReportScene, artifacts: Path
) -> None:
    # Given the page opened without a fragment: the tenant types the key into the form
    context, page, console, _ = _open(browser, scene.page_url)
    try:
        page.locator("#key").fill(scene.tenant.owner_key)
        page.locator("#agent").fill(scene.agent_id)
        page.locator("#from").fill("2020-01-01")
        page.locator("#to").fill("2020-01-31")
        # When they ask for a month without activity
        page.get_by_role("button", name="Show").click()
        # Then the page says there is nothing, and draws no chart
        expect(page.locator("body")).to_have_attribute("data-state", "empty")
        expect(page.locator("#empty-text")).to_contain_text("2020-01-01")
        expect(page.locator("#results")).to_be_hidden()
        page.screenshot(path=artifacts / "analytics-2-empty.png")
        assert not [line for line in console if line.startswith("error")], console
    finally:
        context.close()


@pytest.mark.parametrize("whose", ["unknown", "another tenant"])
def test_a_wrong_key_shows_an_error(
    browser: Any, scene: ReportScene, artifacts: Path, whose: str
) -> None:
    # Given a key that is nobody's, or another tenant's (who has no such agent)
    if whose == "unknown":
        key, says = "sk_" + "0" * 40, "The API key was refused"
    else:
        key, says = scene.api.new_tenant("Someone else").owner_key, "has no agent"
    fragment = f"#key={key}&agent={scene.agent_id}&from={scene.start}&to={scene.end}"
    context, page, _, _ = _open(browser, scene.page_url + fragment)
    try:
        # Then the page shows an error, and none of the agent's data
        expect(page.locator("body")).to_have_attribute("data-state", "error")
        expect(page.locator("#error")).to_contain_text(says)
        expect(page.locator("#results")).to_be_hidden()
        if whose == "unknown":
            page.screenshot(path=artifacts / "analytics-3-wrong-key.png")
    finally:
        context.close()


def test_the_page_and_its_api_calls_carry_the_edge_policies(scene: ReportScene) -> None:
    # The page: revalidated every visit, a strict CSP, never framed
    page = requests.get(scene.page_url, timeout=30)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-cache"
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp and page.headers["X-Frame-Options"] == "DENY"
    # The analytics read routes are behind the distribution (GET only); other secret-key
    # routes and the settings write are not
    cdn = scene.page_url.removesuffix("/analytics.html")
    owner = bearer(scene.tenant.owner_key)
    series = f"{cdn}/v1/analytics/agents/{scene.agent_id}/series"
    assert requests.get(series, headers=owner, timeout=30).status_code == 200
    assert requests.get(f"{cdn}/v1/agents", headers=owner, timeout=30).status_code == 403
    settings = requests.put(
        f"{cdn}/v1/analytics/settings", headers=owner, json={"time_zone": "UTC"}, timeout=30
    )
    assert settings.status_code == 403
