"""A visitor on a customer's site, in Chromium: the one tag loads the widget, the visitor asks
a question answered from the site's FAQ (ingested through the API), follows the citation, rates
the answer, leaves contact details and asks for a person; from a site the key does not allow,
the widget says so and no agent data reaches the page."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Request, expect

from tests.e2e.browser.conftest import (
    GREETING,
    QUESTIONS,
    THEME_RGB,
    ThemedSite,
    WidgetSite,
    settle,
)

LAUNCHER = "agenthub-widget button.b"
PANEL = "agenthub-widget iframe"


# A phone: the browser context of a visitor on a small touch screen (open_page(..., **PHONE)).
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def small_targets(controls: Any) -> list[tuple[str, Any]]:
    """The controls (a locator) smaller than 44 x 44 CSS pixels, as (HTML start, box)."""
    small = []
    for n in range(controls.count()):
        box = controls.nth(n).bounding_box()
        assert box is not None
        if box["height"] < 44 or box["width"] < 44:
            small.append((controls.nth(n).evaluate("e => e.outerHTML.slice(0, 80)"), box))
    return small


def open_page(
    browser: Any, url: str, *, ready: bool = True, **context: Any
) -> tuple[Any, Page, list[Request], list[str]]:
    """A fresh visitor (own storage) on ``url``; also returns the API requests the page makes
    and its console messages. ``ready``: wait for the launcher."""
    visitor = browser.new_context(**context)
    page = visitor.new_page()
    calls: list[Request] = []
    console: list[str] = []
    page.on("request", lambda r: calls.append(r) if "/v1/public/" in r.url else None)
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.goto(url)
    if ready:
        page.wait_for_selector("agenthub-widget[data-state]", state="attached")
    return visitor, page, calls, console


def test_a_visitor_asks_rates_leaves_details_and_asks_for_a_person(
    browser: Any, widget_site: WidgetSite, artifacts: Path
) -> None:
    # Given a customer's page with the one tag, on an origin the key allows
    visitor, page, calls, _ = open_page(browser, widget_site.allowed_url)
    page.evaluate("() => { window.seen = []; AgentHub.onMessage(m => window.seen.push(m)); }")
    launcher = page.locator(LAUNCHER)
    expect(launcher).to_have_attribute("aria-label", "Open chat with Kettle help")
    # The page's own CSS (button { background: #ff00ff !important }) does not reach the widget
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") == THEME_RGB
    page.screenshot(path=artifacts / "1-page-with-launcher.png")

    # When the visitor opens the chat
    launcher.click()
    panel = page.frame_locator(PANEL)
    # Then the greeting and suggested questions of the agent's public config are shown, and the
    # question field has the focus
    expect(panel.locator(".msg.bot .text").first).to_have_text(GREETING)
    expect(panel.get_by_role("button", name=QUESTIONS[0])).to_be_visible()
    expect(panel.locator("#q")).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    assert page.locator(PANEL).evaluate("f => getComputedStyle(f).borderTopWidth") == "0px"

    # When they ask a question the FAQ answers
    page.locator(PANEL).content_frame.locator("body").evaluate(
        """body => { window.sawTyping = false; new MutationObserver(() => {
            if (document.querySelector('.typing .dots')) window.sawTyping = true;
        }).observe(body, {subtree: true, childList: true}); }"""
    )
    panel.locator("#q").fill("How long does delivery take in Portugal?")
    panel.locator("#q").press("Enter")
    answer = panel.locator(".msg.bot").nth(1)
    # Then the answer quotes the FAQ and cites it with a link to the page it came from
    expect(answer.locator(".text")).to_contain_text("working days", timeout=20_000)
    source = answer.locator(".src a").first
    expect(source).to_have_attribute("href", widget_site.faq_url)
    expect(source).to_have_text("Demo Co — frequently asked questions")
    expect(answer.locator("sup a").first).to_have_attribute("href", widget_site.faq_url)
    page.screenshot(path=artifacts / "2-answer-with-citation.png")
    # (a typing indicator was shown while the answer was on its way, and is gone)
    assert page.locator(PANEL).content_frame.locator("body").evaluate("() => window.sawTyping")
    expect(panel.locator(".typing .dots")).to_have_count(0)
    seen = page.evaluate("window.seen")
    assert [m["role"] for m in seen] == ["visitor", "assistant"]
    assert seen[1]["citations"][0]["source_url"] == widget_site.faq_url
    conversation_id, answer_id = seen[1]["conversationId"], seen[1]["messageId"]

    # When they rate the answer
    helpful = answer.get_by_role("button", name="Helpful", exact=True)
    helpful.click()
    # Then the button shows it, and the tenant sees the rating
    expect(helpful).to_have_attribute("aria-pressed", "true")
    expect(answer.locator(".thanks")).to_have_text("Thanks for your feedback.")
    stored = widget_site.conversation(conversation_id)
    rated = next(m for m in stored["messages"] if m["id"] == answer_id)
    assert rated["feedback"]["rating"] == "up"

    # When they leave their details, first with an email the API refuses
    panel.get_by_role("button", name="Leave your contact details").click()
    expect(panel.get_by_label("Name")).to_be_focused()
    panel.get_by_label("Name").fill("Dana")
    panel.get_by_label("Email").fill("dana@example")
    panel.get_by_role("button", name="Send details").click()
    # Then the field says what is wrong
    expect(panel.locator("#lead-email-err")).to_contain_text("email address")
    expect(panel.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    # And once corrected, the details are taken
    panel.get_by_label("Email").fill("dana@example.com")
    panel.get_by_role("button", name="Send details").click()
    expect(panel.locator(".note > span").last).to_have_text("Thanks, Dana! We'll be in touch.")
    assert widget_site.conversation(conversation_id)["conversation"]["lead"]["email"] == (
        "dana@example.com"
    )

    # When they ask for a person
    panel.get_by_role("button", name="Talk to a person").click()
    expect(panel.locator(".note > span").last).to_contain_text("A person has been asked to join")
    assert widget_site.conversation(conversation_id)["conversation"]["handoff"] is True
    page.screenshot(path=artifacts / "3-lead-and-handoff.png")

    # And Escape closes the chat, returning the focus to the launcher
    panel.locator("#q").press("Escape")
    expect(page.locator(PANEL)).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")

    # Every API call went to the CloudFront origin with the publishable key only, and came
    # from the page's origin (the chat's srcdoc iframe shares it)
    assert calls
    for request in calls:
        headers = request.all_headers()
        assert headers.get("origin") == widget_site.allowed_origin, request.url
        assert headers.get("authorization") == f"Bearer {widget_site.publishable_key}"
        assert request.url.startswith(widget_site.cdn_url + "/v1/public/")
    assert {e.origin for e in widget_site.edge_log(widget_site.allowed_origin)} == {
        widget_site.allowed_origin
    }

    # When the visitor comes back to the page, the conversation is still there
    page.reload()
    page.wait_for_selector("agenthub-widget[data-state=ready]", state="attached")
    page.evaluate("() => AgentHub.open()")
    expect(panel.locator(".msg.me .text")).to_have_text("How long does delivery take in Portugal?")
    expect(panel.locator(".msg.bot").nth(1).locator(".src a")).to_have_count(1)
    visitor.close()


def test_a_site_the_key_does_not_allow_shows_nothing_and_tells_its_owner_once(
    browser: Any, widget_site: WidgetSite, artifacts: Path
) -> None:
    # Given the same page on an origin the publishable key does not allow
    refused_origin = widget_site.refused_url.rstrip("/")
    visitor, page, calls, console = open_page(browser, widget_site.refused_url, ready=False)
    files: list[str] = []
    page.on("request", lambda r: files.append(r.url) if "/ui." in r.url else None)

    # Then the site's owner finds why in the console, once
    def warned() -> list[str]:
        return [line for line in console if line.startswith("warning: AgentHub")]

    settle(page, warned)
    page.wait_for_timeout(300)  # anything else the loader would do after that
    assert len(warned()) == 1
    assert refused_origin in warned()[0] and "not an allowed origin" in warned()[0]
    # (besides the browser's own network log of the refused request, the page's script says
    # nothing else)
    assert [line for line in console if "Failed to load resource" not in line] == warned()
    # And visitors see nothing: no launcher, no chat files downloaded, no error on screen
    expect(page.locator("agenthub-widget")).to_have_count(0)
    assert files == []
    page.evaluate("() => AgentHub.open()")  # the page's own calls change nothing
    expect(page.locator("agenthub-widget")).to_have_count(0)
    page.screenshot(path=artifacts / "4-refused-origin-shows-nothing.png")

    # And the API refused the page's origin: the browser sent it, the edge saw it, and nothing
    # but refusals (and the CORS preflight, which carries no data) came back
    assert calls, "the widget made no API call"
    seen = widget_site.edge_log(refused_origin)
    assert any(e.method == "GET" and e.path.endswith("/config") for e in seen), seen
    for entry in seen:
        assert entry.status == 403 or (entry.method == "OPTIONS" and entry.status == 200), entry
    assert "Kettle help" not in page.content()
    visitor.close()


def test_the_widget_works_with_the_keyboard_and_a_screen_reader(
    browser: Any, widget_site: WidgetSite
) -> None:
    # Given the page, navigated with the keyboard only
    visitor, page, _, _ = open_page(browser, widget_site.allowed_url)
    launcher = page.locator(LAUNCHER)
    launcher.focus()
    # When the launcher is activated with Enter
    page.keyboard.press("Enter")
    panel = page.frame_locator(PANEL)
    # Then the chat is a named frame whose landmarks and controls have names and roles
    expect(page.locator(PANEL)).to_have_attribute("title", "Chat with Kettle help")
    expect(panel.get_by_role("log", name="Conversation")).to_be_visible()
    expect(panel.get_by_role("button", name="Close chat")).to_be_visible()
    expect(panel.get_by_role("textbox", name="Your question")).to_be_focused()
    expect(panel.get_by_role("group", name="Suggested questions")).to_be_visible()
    # And a suggested question can be asked from the keyboard
    panel.get_by_role("button", name=QUESTIONS[1]).focus()
    page.keyboard.press("Enter")
    expect(panel.locator(".msg.bot").nth(1).locator(".text")).to_contain_text(
        "30 days", timeout=20_000
    )
    expect(panel.get_by_role("status")).to_be_empty()
    # And the close button closes it
    panel.get_by_role("button", name="Close chat").click()
    expect(page.locator(PANEL)).to_be_hidden()
    visitor.close()


def test_on_a_phone_the_chat_fills_the_screen(
    browser: Any, widget_site: WidgetSite, artifacts: Path
) -> None:
    # Given a phone-sized screen
    visitor, page, _, _ = open_page(browser, widget_site.allowed_url, **PHONE)
    # When the chat opens
    page.locator(LAUNCHER).tap()
    # Then it covers the whole viewport, and the launcher steps aside
    box = page.locator(PANEL).bounding_box()
    assert box == {"x": 0, "y": 0, "width": 390, "height": 740}
    expect(page.locator(LAUNCHER)).to_be_hidden()
    page.frame_locator(PANEL).locator(".msg.bot").first.wait_for()
    page.screenshot(path=artifacts / "5-phone.png")
    visitor.close()


def _fulfill_json(route: Any, status: int, body: dict[str, Any], **headers: str) -> None:
    route.fulfill(
        status=status,
        content_type="application/json",
        body=json.dumps(body),
        headers={
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Expose-Headers": "Retry-After",
            **headers,
        },
    )


def test_errors_are_shown_in_words(browser: Any, widget_site: WidgetSite, artifacts: Path) -> None:
    # Given an open chat
    visitor, page, _, _ = open_page(browser, widget_site.allowed_url)
    page.locator(LAUNCHER).click()
    panel = page.frame_locator(PANEL)
    question = panel.locator("#q")
    expect(question).to_be_focused()
    alert = panel.get_by_role("alert")

    # When the visitor is rate limited (429 with Retry-After)
    messages = re.compile(r".*/conversations(/[^/]+/messages)?$")
    page.route(
        messages,
        lambda route: _fulfill_json(
            route,
            429,
            {"error": {"code": "too_many_requests", "message": "slow"}},
            **{"Retry-After": "2"},
        ),
    )
    question.fill("Are you open on Sundays?")
    question.press("Enter")
    expect(alert).to_have_text(
        "You're sending messages too quickly. Please wait 2 seconds and try again."
    )
    # Then the question is kept for another try, and sending waits as long as it was told
    expect(question).to_have_value("Are you open on Sundays?")
    expect(panel.get_by_role("button", name="Send")).to_be_disabled()
    page.screenshot(path=artifacts / "6-rate-limited-wait.png")
    expect(panel.locator(".banner")).to_be_empty(timeout=6_000)
    expect(panel.get_by_role("button", name="Send")).to_be_enabled()

    # When the assistant's provider is down (503)
    page.unroute(messages)
    page.route(
        messages,
        lambda route: _fulfill_json(route, 503, {"error": {"code": "provider_unavailable"}}),
    )
    question.press("Enter")
    expect(alert).to_have_text("The assistant is busy right now. Please try again in a moment.")

    # When the visitor goes offline
    page.unroute(messages)
    visitor.set_offline(True)
    question.press("Enter")
    expect(alert).to_have_text("You seem to be offline. Check your connection and try again.")

    # And back online, the same question gets its answer
    visitor.set_offline(False)
    question.press("Enter")
    expect(panel.locator(".msg.bot .text").last).to_contain_text("Sunday", timeout=20_000)
    expect(panel.locator(".banner")).to_be_empty()
    visitor.close()


def test_the_theme_comes_from_the_public_config(browser: Any, themed_site: ThemedSite) -> None:
    # Given an agent themed with a light colour, on the left, with an avatar
    visitor, page, _, _ = open_page(browser, themed_site.url)
    launcher = page.locator(LAUNCHER)
    # Then the launcher wears the colour, with a dark icon readable on it, bottom left
    style = launcher.evaluate(
        "b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]"
    )
    assert style == ["rgb(253, 230, 138)", "rgb(17, 24, 39)"]
    box = launcher.bounding_box()
    assert box is not None and box["x"] == 20
    # And the chat has the title and avatar, also on the left
    launcher.click()
    panel = page.frame_locator(PANEL)
    expect(panel.get_by_role("heading", name=themed_site.theme["title"])).to_be_visible()
    expect(panel.locator("header img")).to_have_attribute("src", themed_site.theme["avatar_url"])
    frame_box = page.locator(PANEL).bounding_box()
    assert frame_box is not None and frame_box["x"] == 20
    # And the page closes it through the JavaScript API
    page.evaluate("() => AgentHub.close()")
    expect(page.locator(PANEL)).to_be_hidden()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    visitor.close()


def test_a_signed_in_customer_is_identified(browser: Any, widget_site: WidgetSite) -> None:
    # Given the agent's identity secret, which the customer's server keeps
    api, owner = widget_site.api, widget_site.tenant.owner_key
    secret = api.ok("POST", f"/v1/agents/{widget_site.agent_id}/identity-secret", owner)["secret"]
    signature = hmac.new(secret.encode(), b"customer-42", hashlib.sha256).hexdigest()
    visitor, page, _, _ = open_page(browser, widget_site.allowed_url)
    # When the page identifies its signed-in customer, and they ask a question
    page.evaluate(
        "([id, signature]) => { window.seen = []; AgentHub.onMessage(m => window.seen.push(m));"
        " AgentHub.identify({id, signature}); AgentHub.open(); }",
        ["customer-42", signature],
    )
    panel = page.frame_locator(PANEL)
    panel.locator("#q").fill("Do you ship the same day?")
    panel.locator("#q").press("Enter")
    expect(panel.locator(".msg.bot").nth(1).locator(".text")).to_contain_text("same day")
    # Then the tenant sees the conversation under the customer's own, verified id
    conversation_id = page.evaluate("() => window.seen[1].conversationId")
    stored = widget_site.conversation(conversation_id)["conversation"]
    assert (stored["visitor_id"], stored["verified"]) == ("customer-42", True)

    # When another page says it is someone else, with a signature it cannot have
    page.evaluate("() => AgentHub.identify({id: 'customer-43', signature: '0'.repeat(64)})")
    panel.locator("#q").fill("And who am I?")
    panel.locator("#q").press("Enter")
    # Then the API refuses it, and the widget says so
    expect(panel.locator(".banner")).to_have_text(
        "We couldn't confirm who you are. Please reload the page."
    )
    visitor.close()
