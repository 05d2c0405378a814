"""Booking in the conversation, in Chromium against the local runtime and its fake Stripe: a
visitor asks to book, the answer opens the booking step (event types, times by day in the
visitor's zone, name and email) and books with an Idempotency-Key; the confirmation in the
conversation links the booking's .ics. A priced event type is held and paid on the (fake)
hosted Checkout in a new tab; the signed webhook confirms the booking and the open widget says
so. A time taken meanwhile answers 409 and the widget shows fresh times with a clear message.
Screenshots in artifacts/browser/."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.e2e.browser.conftest import MakeSite, WidgetSite
from tests.e2e.browser.test_widget import LAUNCHER, PANEL, PHONE, open_page, small_targets

pytestmark = pytest.mark.slow

ALL_DAY = {
    d: [{"start": "00:00", "end": "23:30"}]
    for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}
PRICE = {"amount_minor": 2500, "currency": "eur"}


@dataclass(frozen=True)
class BookingSite:
    url: str
    agent_id: str
    publishable_key: str
    resource_id: str
    free_type: dict[str, Any]
    paid_type: dict[str, Any]

    @property
    def origin(self) -> str:
        return self.url.rstrip("/")


@pytest.fixture(scope="module")
def booking_site(widget_site: WidgetSite, make_site: MakeSite) -> BookingSite:
    """An agent of the widget tenant with two event types (one priced) on a resource open all
    day every day, and the tenant connected to its (fake) Stripe account."""
    api, owner = widget_site.api, widget_site.tenant.owner_key
    site = make_site(
        document="Dr. Park's clinic. Consultations take 30 minutes; a deep clean takes an hour.",
        name="Clinic desk",
        enabled_tools=["knowledge", "booking"],
    )
    api.ok("PUT", "/v1/payments/stripe", owner, json={"restricted_key": "rk_test_widget_booking"})
    resource = _resource(widget_site)
    free = _event_type(widget_site, site.agent_id, resource, name="Consultation")
    paid = _event_type(
        widget_site, site.agent_id, resource, name="Deep clean", duration_minutes=60, price=PRICE
    )
    return BookingSite(site.url, site.agent_id, site.publishable_key, resource, free, paid)


def _resource(widget_site: WidgetSite) -> str:
    """A resource of the widget tenant, open all day every day (UTC): its id."""
    api, owner = widget_site.api, widget_site.tenant.owner_key
    body = {"name": "Dr. Park", "time_zone": "UTC", "weekly": ALL_DAY}
    return str(api.ok("POST", "/v1/scheduling/resources", owner, json=body)["id"])


def _event_type(
    widget_site: WidgetSite, agent_id: str, resource_id: str, **fields: Any
) -> dict[str, Any]:
    api, owner = widget_site.api, widget_site.tenant.owner_key
    body = {
        "agent_id": agent_id,
        "resource_id": resource_id,
        "duration_minutes": 30,
        "min_notice_minutes": 60,
        **fields,
    }
    return dict(api.ok("POST", "/v1/scheduling/event-types", owner, json=body))


def _open_and_ask(page: Page, text: str) -> Any:
    page.locator(LAUNCHER).click()
    panel = page.frame_locator(PANEL)
    expect(panel.locator("#q")).to_be_focused()
    panel.locator("#q").fill(text)
    panel.locator("#q").press("Enter")
    # the answer's booking offer opens the step: the event types, the first one focused
    title = panel.locator("#step-title")
    expect(title).to_have_text("What would you like to book?", timeout=20000)  # a cold answer
    return panel


def _choose(panel: Any, type_name: str) -> Any:
    panel.locator(".etype", has_text=type_name).click()
    expect(panel.locator("#step-title")).to_have_text(type_name)
    expect(panel.locator(".day[aria-pressed=true]")).to_have_count(1)
    first = panel.locator(".times .slot").first
    expect(first).to_be_visible()
    return first


def _details(panel: Any, name: str, email: str) -> None:
    expect(panel.locator("#book-name")).to_be_focused()
    panel.locator("#book-name").fill(name)
    panel.locator("#book-email").fill(email)


def _bookings(widget_site: WidgetSite, site: BookingSite, email: str) -> list[dict[str, Any]]:
    """The visitor's bookings of the next days, as the tenant sees them."""
    api, owner = widget_site.api, widget_site.tenant.owner_key
    found = api.ok("GET", "/v1/bookings", owner, params={"resource_id": site.resource_id})
    return [b for b in found["items"] if b["visitor_email"] == email]


def _booking_of(widget_site: WidgetSite, site: BookingSite, email: str) -> dict[str, Any]:
    [mine] = _bookings(widget_site, site, email)
    return mine


def test_a_visitor_books_a_free_time_from_the_conversation(
    browser: Any, widget_site: WidgetSite, booking_site: BookingSite, artifacts: Path
) -> None:
    # Given a visitor on the agent's site, who asks to book
    visitor, page, calls, _ = open_page(browser, booking_site.url)
    panel = _open_and_ask(page, "Can I book an appointment?")
    # The agent's knowledge has nothing on booking: the widget says what the step offers
    answer = panel.locator(".log .msg.bot").last
    expect(answer).to_contain_text("Happy to help you book. Choose a time below.")
    expect(answer.get_by_role("button", name="Choose a time")).to_be_visible()
    # The step is reachable from the keyboard: the first event type has the focus
    expect(panel.locator(".etype").first).to_be_focused()
    expect(panel.locator(".etype")).to_have_count(2)
    expect(panel.locator(".etype").nth(1)).to_contain_text("€25.00")
    page.screenshot(path=artifacts / "booking-1-event-types.png")
    # When they choose the free type (Enter on the focused button), a day and a time
    page.keyboard.press("Enter")
    expect(panel.locator("#step-title")).to_have_text("Consultation")
    first = panel.locator(".times .slot").first
    expect(first).to_be_visible()
    label = first.get_attribute("aria-label")
    assert label and re.search(r"\d", label)  # read out as a date and time
    expect(panel.get_by_text("Times are in UTC.")).to_be_visible()
    page.screenshot(path=artifacts / "booking-2-times.png")
    first.click()
    _details(panel, "Ada Visitor", "ada@example.com")
    panel.locator("form.lead [type=submit]").click()
    # Then the conversation says it is booked, with an add-to-calendar link
    done = panel.locator(".log .note", has_text="Booked: Consultation")
    expect(done).to_be_visible(timeout=15000)
    expect(panel.locator("#q")).to_be_focused()  # the question field is back
    page.screenshot(path=artifacts / "booking-3-confirmed.png")
    href = done.locator("a.cal").get_attribute("href")
    assert href and "/v1/public/bookings/manage?token=" in href and href.endswith("format=ics")
    ics = requests.get(href, timeout=30)
    assert ics.status_code == 200 and ics.headers["Content-Type"].startswith("text/calendar")
    assert "BEGIN:VEVENT" in ics.text
    # The booking is the tenant's, confirmed, booked once with an Idempotency-Key
    booking = _booking_of(widget_site, booking_site, "ada@example.com")
    assert booking["status"] == "confirmed"
    posts = [c for c in calls if c.method == "POST" and c.url.endswith("/bookings")]
    assert len(posts) == 1 and posts[0].headers.get("idempotency-key")
    # and no call of the widget failed on the way (the page's own favicon may be missing)
    failed = [(c.url, r.status) for c in calls if (r := c.response()) and r.status >= 400]
    assert failed == []
    visitor.close()


def test_a_visitor_pays_for_a_priced_time_and_the_widget_sees_it_confirmed(
    browser: Any, widget_site: WidgetSite, booking_site: BookingSite, artifacts: Path
) -> None:
    # Given a visitor who chose the priced type, a time and gave their details
    visitor, page, calls, _ = open_page(browser, booking_site.url)
    panel = _open_and_ask(page, "I'd like to book a deep clean")
    _choose(panel, "Deep clean").click()
    _details(panel, "Bo Payer", "bo@example.com")
    submit = panel.locator("form.lead [type=submit]")
    expect(submit).to_contain_text("and pay")
    submit.click()
    # Then the time is held and the pay step offers hosted Checkout
    expect(panel.locator("#step-title")).to_have_text("Pay to confirm")
    pay = panel.get_by_role("link", name="Pay €25.00")
    expect(pay).to_be_focused()
    expect(pay).to_have_attribute("target", "_blank")
    held = _booking_of(widget_site, booking_site, "bo@example.com")
    assert held["status"] == "held"
    page.screenshot(path=artifacts / "booking-4-pay-step.png")
    # When they pay on the (fake) Stripe Checkout page, in a new tab
    with page.expect_popup() as opened:
        pay.click()
    checkout = opened.value
    expect(checkout.locator("#amount")).to_have_text("25.00 EUR")
    checkout.locator("#pay").click()
    checkout.wait_for_load_state()
    # Then the signed webhook confirms the booking, and the open widget says so
    done = panel.locator(".log .note", has_text="Booked: Deep clean")
    expect(done).to_be_visible(timeout=30000)
    expect(done.locator("a.cal")).to_have_text("Add to calendar")
    page.bring_to_front()
    page.screenshot(path=artifacts / "booking-5-paid-confirmed.png")
    assert _booking_of(widget_site, booking_site, "bo@example.com")["status"] == "confirmed"
    polls = [c for c in calls if c.method == "GET" and "/payments/" in c.url]
    assert polls  # the widget read the payment until it was confirmed
    visitor.close()


def test_a_time_taken_meanwhile_shows_fresh_times_and_says_so(
    browser: Any, widget_site: WidgetSite, booking_site: BookingSite, artifacts: Path
) -> None:
    # Given a visitor about to book the first open time
    visitor, page, calls, _ = open_page(browser, booking_site.url)
    panel = _open_and_ask(page, "Can I schedule a visit?")
    first = _choose(panel, "Consultation")
    first.click()
    _details(panel, "Cy Late", "cy@example.com")
    # When someone else books that very time first
    slots = next(
        c for c in calls if "/slots?" in c.url and booking_site.free_type["id"] in c.url
    ).response()
    assert slots is not None
    start = slots.json()["slots"][0]["start"]
    other = requests.post(
        f"{widget_site.cdn_url}/v1/public/agents/{booking_site.agent_id}/bookings",
        json={
            "event_type_id": booking_site.free_type["id"],
            "start": start,
            "name": "Quick Other",
            "email": "other@example.com",
        },
        headers={
            "Authorization": f"Bearer {booking_site.publishable_key}",
            "Origin": booking_site.origin,
        },
        timeout=30,
    )
    assert other.status_code == 201, other.text
    panel.locator("form.lead [type=submit]").click()
    # Then the widget says the time was taken and shows the times again, read out first
    alert = panel.locator(".booking [role=alert]")
    expect(alert).to_have_text("Sorry, that time was just taken. Please choose another one.")
    expect(panel.locator("#step-title")).to_have_text("Consultation")
    expect(panel.locator(".times .slot").first).to_be_visible()
    page.screenshot(path=artifacts / "booking-6-slot-taken.png")
    refused = [
        c for c in calls if c.method == "POST" and c.url.endswith("/bookings") and c.response()
    ]
    assert [c.response().status for c in refused] == [409]  # type: ignore[union-attr]
    assert _bookings(widget_site, booking_site, "cy@example.com") == []
    visitor.close()


def test_the_booking_step_in_arabic_dark_mode_on_a_phone(
    browser: Any, widget_site: WidgetSite, make_site: MakeSite, artifacts: Path
) -> None:
    # Given an agent in Arabic, dark, with one bookable type and the tool "booking"
    site = make_site(
        locale="ar",
        greeting="مرحبًا!",
        theme={"title": "العيادة", "mode": "dark"},
        enabled_tools=["knowledge", "booking"],
    )
    _event_type(widget_site, site.agent_id, _resource(widget_site), name="استشارة")
    # When a visitor on a phone opens the chat and the booking action under the field
    visitor, page, _, _ = open_page(browser, site.url, **PHONE)
    page.locator(LAUNCHER).tap()
    panel = page.frame_locator(PANEL)
    panel.get_by_role("button", name="حجز موعد").tap()
    # Then the one type goes straight to its times, right to left, in the dark theme
    expect(panel.locator("#step-title")).to_have_text("استشارة")
    expect(panel.locator(".times .slot").first).to_be_visible()
    root = page.locator(PANEL).content_frame.locator("html")
    expect(root).to_have_attribute("dir", "rtl")
    expect(root).to_have_class(re.compile(r"\bdark\b"))
    earlier = panel.get_by_role("button", name="أيام سابقة").bounding_box()
    later = panel.get_by_role("button", name="أيام لاحقة").bounding_box()
    assert earlier and later and later["x"] < earlier["x"]  # later days are to the left
    # And every control of the step is at least 44 x 44 CSS pixels
    controls = panel.locator(".step button:visible, .step input:visible")
    small = small_targets(controls)
    assert controls.count() >= 10 and not small, small
    page.screenshot(path=artifacts / "booking-7-arabic-dark-phone.png")
    # The details step too (its fields and buttons)
    panel.locator(".times .slot").first.tap()
    expect(panel.locator("#book-name")).to_be_focused()
    expect(panel.get_by_label("البريد الإلكتروني")).to_be_visible()
    visitor.close()
