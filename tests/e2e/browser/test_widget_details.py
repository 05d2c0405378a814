"""The details a visitor and a site owner notice, in Chromium: answers in safe markdown with
deduplicated citations, the lead form as a step that leaves the conversation its room, what a
reload restores, a retried question shown once, a two-line question never clipped, Trusted
Types, dark mode, translated and right-to-left interfaces, 44 px targets on a phone, a new
conversation, timestamps, and the page's JavaScript API (open with a message, events, page
context). Each test leaves a screenshot in artifacts/browser/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, Route, expect

from infra.local.widget import FAQ_HTML, FAQ_TITLE, html_text
from tests.e2e.browser.conftest import MakeSite, WidgetSite
from tests.e2e.browser.test_widget import LAUNCHER, PANEL, PHONE, open_page, small_targets

HELP = html_text(FAQ_HTML.format(title=FAQ_TITLE))
MESSAGES = re.compile(r".*/conversations/[^/?]+/messages$")
MARKDOWN = """Here is how to keep it clean:

1. **Descale** the kettle every month [1]
2. Use `citric acid`, not vinegar [2]
   - rinse it *twice*
3. Read more at https://kettles.example/care. [3]

<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>

```
descale --monthly
```

> See [our guide](https://kettles.example/guide) or [this](javascript:alert(1))."""
CITATIONS = [
    {
        "index": 1,
        "document_id": "doc_care",
        "title": "Care guide",
        "url": "https://kettles.example/care",
        "snippet": "Descale your kettle every month with citric acid to keep it quiet.",
        "heading": "Descaling",
        "page": 3,
    },
    {
        "index": 2,
        "document_id": "doc_care",
        "title": "Care guide",
        "url": "https://kettles.example/care",
        "snippet": "Vinegar leaves a taste.",
        "page": 4,
    },
    {
        "index": 3,
        "document_id": "doc_faq",
        "chunk_id": "chk_1",
        "title": "FAQ",
        "source_url": "https://kettles.example/faq",
        "heading_path": ["Care", "Cleaning"],
    },
]


def _open(page: Page) -> Any:
    page.locator(LAUNCHER).click()
    panel = page.frame_locator(PANEL)
    expect(panel.locator("#q")).to_be_focused()
    return panel


def _ask(panel: Any, text: str) -> None:
    panel.locator("#q").fill(text)
    panel.locator("#q").press("Enter")


def _answer_with(text: str, citations: list[dict[str, Any]]) -> Any:
    def fulfill(route: Route) -> None:
        sent = json.loads(route.request.post_data or "{}")
        now = "2026-01-05T10:00:00.000000Z"
        data = {
            "question": {"id": "msg_0000000000000a00000001", "role": "user", "text": sent["text"],
                         "created_at": now, "status": "answered"},
            "answer": {"id": "msg_0000000000000a00000002", "role": "assistant", "text": text,
                       "created_at": now, "status": "answered", "citations": citations,
                       "abstained": False, "feedback": None},
        }  # fmt: skip
        route.fulfill(
            status=201,
            content_type="application/json",
            body=json.dumps(data),
            headers={"Access-Control-Allow-Origin": "*"},
        )

    return fulfill


# ---------------------------------------------------------------------------- answers


def test_answers_render_markdown_safely_with_deduplicated_citations(
    browser: Any, widget_site: WidgetSite, artifacts: Path
) -> None:
    # Given an answer in markdown, with raw HTML in it and two passages of one source
    visitor, page, _, _ = open_page(browser, widget_site.allowed_url)
    panel = _open(page)
    page.route(MESSAGES, _answer_with(MARKDOWN, CITATIONS))
    _ask(panel, "How do I clean the kettle?")
    text = panel.locator(".msg.bot").nth(1).locator(".text")
    # Then lists, emphasis, code and links are rendered
    expect(text.locator("ol > li")).to_have_count(3)
    expect(text.locator("ol > li").nth(1).locator("ul > li")).to_have_text("rinse it twice")
    expect(text.locator("strong")).to_have_text("Descale")
    expect(text.locator("em")).to_have_text("twice")
    expect(text.locator("li code")).to_have_text("citric acid")
    expect(text.locator("pre code")).to_have_text("descale --monthly")
    # a bare URL becomes a link, without the full stop that ends the sentence
    bare = text.locator("a", has_text="kettles.example/care")
    expect(bare).to_have_attribute("href", "https://kettles.example/care")
    expect(bare).to_have_text("https://kettles.example/care")
    expect(text.locator("blockquote a")).to_have_attribute("href", "https://kettles.example/guide")
    # And nothing of the HTML runs or renders: it is shown as the text it is
    expect(text).to_contain_text('<img src=x onerror="window.pwned=1">')
    expect(text.locator("img, script")).to_have_count(0)
    assert page.locator(PANEL).content_frame.locator("body").evaluate("() => window.pwned") is None
    # a javascript: link is not a link
    expect(text.locator("a", has_text="this")).to_have_count(0)
    # And the two passages of the care guide are one source, cited as [1] both times
    sources = panel.locator(".msg.bot").nth(1).locator(".src li")
    expect(sources).to_have_count(2)
    expect(sources.nth(0).locator("a")).to_have_text("Care guide")
    expect(sources.nth(0).locator(".where")).to_have_text("Descaling · p. 3, 4")
    expect(sources.nth(0).locator(".snip")).to_have_text(CITATIONS[0]["snippet"])
    expect(sources.nth(1).locator("a")).to_have_attribute("href", "https://kettles.example/faq")
    expect(sources.nth(1).locator(".where")).to_have_text("Cleaning")
    assert text.locator("sup").all_inner_texts() == ["[1]", "[1]", "[2]"]
    page.screenshot(path=artifacts / "details-1-markdown-and-sources.png")
    visitor.close()


# ---------------------------------------------------------------------------- the lead step


def test_the_lead_form_is_a_step_that_leaves_the_conversation_its_room(
    browser: Any, widget_site: WidgetSite, artifacts: Path
) -> None:
    # Given a laptop screen 800 px high, and a conversation under way
    visitor, page, _, _ = open_page(
        browser, widget_site.allowed_url, viewport={"width": 1280, "height": 800}
    )
    panel = _open(page)
    _ask(panel, "How long does delivery take?")
    expect(panel.locator(".msg.bot").nth(1)).to_contain_text("working days", timeout=20_000)
    # When the visitor opens the lead form
    panel.get_by_role("button", name="Leave your contact details").click()
    # Then it takes the place of the question field, the conversation keeps its room, and the
    # whole form (its button included) is on screen
    expect(panel.locator(".step")).to_be_visible()
    expect(panel.locator("form.ask")).to_be_hidden()
    expect(panel.get_by_label("Name")).to_be_focused()
    frame = page.locator(PANEL).bounding_box()
    log = panel.locator(".log").bounding_box()
    submit = panel.get_by_role("button", name="Send details").bounding_box()
    assert frame and log and submit
    assert log["height"] >= 200, log
    assert submit["y"] + submit["height"] <= frame["y"] + frame["height"], (submit, frame)
    page.screenshot(path=artifacts / "details-2-lead-step-at-800px.png")
    # And going back (the back button, or Escape) returns to the question field
    panel.get_by_role("button", name="Back to the chat").click()
    expect(panel.locator(".step")).to_be_hidden()
    expect(panel.locator("#q")).to_be_focused()
    panel.get_by_role("button", name="Leave your contact details").click()
    panel.get_by_label("Name").press("Escape")
    expect(panel.locator("form.ask")).to_be_visible()
    expect(page.locator(PANEL)).to_be_visible()  # Escape closed the step, not the chat
    visitor.close()


def test_a_reload_restores_the_lead_and_the_handoff(
    browser: Any, widget_site: WidgetSite, artifacts: Path
) -> None:
    # Given a visitor who asked, left an email and asked for a person
    visitor, page, _, _ = open_page(browser, widget_site.allowed_url)
    panel = _open(page)
    _ask(panel, "Can I return an item?")
    expect(panel.locator(".msg.bot").nth(1)).to_contain_text("30 days", timeout=20_000)
    panel.get_by_role("button", name="Leave your contact details").click()
    panel.get_by_label("Email").fill("kim@example.com")
    panel.get_by_role("button", name="Send details").click()
    expect(panel.locator(".note > span").last).to_have_text("Thanks! We'll be in touch.")
    panel.get_by_role("button", name="Talk to a person").click()
    expect(panel.locator(".note > span").last).to_have_text("A person has been asked to join")
    # When the page is reloaded and the chat opened again
    page.reload()
    page.wait_for_selector("agenthub-widget[data-state=ready]", state="attached")
    page.evaluate("() => AgentHub.open()")
    # Then the conversation is back with both notes, in order, and no lead prompt
    expect(panel.locator(".note > span")).to_have_text(
        ["Thanks! We'll be in touch.", "A person has been asked to join"]
    )
    expect(panel.get_by_role("button", name="Leave your contact details")).to_have_count(0)
    expect(panel.get_by_role("button", name="A person has been asked to join")).to_be_disabled()
    page.screenshot(path=artifacts / "details-3-restored-after-reload.png")
    visitor.close()


# ---------------------------------------------------------------------------- retries


def test_a_failed_question_asked_again_is_shown_once_and_never_clipped(
    browser: Any, widget_site: WidgetSite, artifacts: Path
) -> None:
    visitor, page, _, _ = open_page(browser, widget_site.allowed_url)
    panel = _open(page)
    question = "How long does delivery take\nin Portugal?"

    # Given the assistant's provider is down for one question
    def busy(route: Route) -> None:
        route.fulfill(
            status=503,
            content_type="application/json",
            body='{"error": {"code": "provider_unavailable"}}',
            headers={"Access-Control-Allow-Origin": "*", "Retry-After": "1"},
        )

    page.route(MESSAGES, busy)
    # When a two-line question fails
    _ask(panel, question)
    expect(panel.locator(".banner")).to_contain_text("busy")
    # Then it is back in the field, both lines visible (the field grew)
    field = panel.locator("#q")
    expect(field).to_have_value(question)
    assert field.evaluate("q => q.scrollHeight <= q.clientHeight + 1"), field.evaluate(
        "q => [q.scrollHeight, q.clientHeight]"
    )
    # When it is asked again and answered
    page.unroute(MESSAGES)
    field.press("Enter")
    expect(panel.locator(".msg.bot").nth(1)).to_contain_text("working days", timeout=20_000)
    # Then the question is in the conversation once
    expect(panel.locator(".msg.me")).to_have_count(1)
    expect(panel.locator(".msg.me.failed")).to_have_count(0)

    # When a reload restores a conversation whose first try was stored as failed (what the
    # API keeps when the provider fails), the question is still shown once, unclipped
    def with_the_failed_try(route: Route) -> None:
        response = route.fetch()
        data = response.json()
        first = data["messages"][0]
        failed = {**first, "id": first["id"][:-1] + "0", "status": "failed"}
        data["messages"].insert(0, failed)
        route.fulfill(response=response, json=data)

    page.route(re.compile(r".*/conversations/[^/?]+\?visitor_token=.*"), with_the_failed_try)
    page.reload()
    page.wait_for_selector("agenthub-widget[data-state=ready]", state="attached")
    page.evaluate("() => AgentHub.open()")
    bubble = panel.locator(".msg.me .text")
    expect(bubble).to_have_count(1)
    expect(bubble).to_have_text(question)
    assert bubble.evaluate("t => t.scrollHeight <= t.clientHeight + 1")
    assert bubble.bounding_box()["height"] > 40  # two lines of text
    page.screenshot(path=artifacts / "details-4-retried-once.png")
    visitor.close()


# ---------------------------------------------------------------------------- Trusted Types


def test_the_widget_works_under_trusted_types(
    browser: Any, widget_site: WidgetSite, artifacts: Path
) -> None:
    # Given the customer's page under require-trusted-types-for 'script'
    url = widget_site.allowed_url + "strict.html"
    visitor, page, _, console = open_page(browser, url)
    # When the visitor opens the chat and asks
    panel = _open(page)
    _ask(panel, "When are you open on Saturdays?")
    # Then it answers, and nothing was refused
    expect(panel.locator(".msg.bot").nth(1).locator(".text")).to_contain_text(
        "10:00", timeout=20_000
    )
    assert not [line for line in console if "Trusted" in line or line.startswith("error")]
    page.screenshot(path=artifacts / "details-5-trusted-types.png")
    # (the page really is under Trusted Types: an HTML string is refused)
    blocked = page.evaluate(
        "() => { try { document.body.insertAdjacentHTML('beforeend', '<b>x</b>'); return false }"
        " catch (e) { return e instanceof TypeError } }"
    )
    assert blocked, "the page is not under Trusted Types"
    visitor.close()


# ---------------------------------------------------------------------------- looks


def _background(page: Page) -> str:
    return str(
        page.locator(PANEL)
        .content_frame.locator("body")
        .evaluate("b => getComputedStyle(b).backgroundColor")
    )


def test_dark_mode_follows_the_visitor_or_the_theme(
    browser: Any, make_site: MakeSite, artifacts: Path
) -> None:
    dark, white = "rgb(17, 24, 39)", "rgb(255, 255, 255)"
    auto = make_site(greeting="Hi!", theme={"title": "Auto", "mode": "auto"})
    light = make_site(greeting="Hi!", theme={"title": "Always light", "mode": "light"})
    night = make_site(greeting="Hi!", theme={"title": "Always dark", "mode": "dark"})
    cases = [(auto, "dark", dark), (auto, "light", white), (light, "dark", white)]
    cases.append((night, "light", dark))
    for site, scheme, expected in cases:
        visitor, page, _, _ = open_page(browser, site.url, color_scheme=scheme)
        panel = _open(page)
        expect(panel.locator(".msg.bot")).to_have_count(1)
        assert _background(page) == expected, (site, scheme)
        if site is auto and scheme == "dark":
            page.screenshot(path=artifacts / "details-6-dark-mode.png")
        visitor.close()


def test_the_interface_speaks_the_agents_language_right_to_left_too(
    browser: Any, make_site: MakeSite, artifacts: Path
) -> None:
    # Given an agent in Arabic
    arabic = make_site(
        locale="ar", greeting="مرحبًا! كيف يمكنني مساعدتك؟", theme={"title": "المتجر"}
    )
    visitor, page, _, _ = open_page(browser, arabic.url)
    # Then the launcher, the chat and its layout are Arabic, right to left
    expect(page.locator(LAUNCHER)).to_have_attribute("aria-label", "فتح المحادثة مع المتجر")
    panel = _open(page)
    root = page.locator(PANEL).content_frame.locator("html")
    expect(root).to_have_attribute("dir", "rtl")
    expect(root).to_have_attribute("lang", "ar")
    expect(panel.locator("#q")).to_have_attribute("placeholder", "اطرح سؤالاً…")
    send = panel.get_by_role("button", name="إرسال").bounding_box()
    field = panel.locator("#q").bounding_box()
    assert send and field and send["x"] < field["x"]  # the send button is on the left
    page.screenshot(path=artifacts / "details-7-right-to-left.png")
    visitor.close()

    # Given an agent that follows the visitor's browser language
    auto = make_site(locale="auto", greeting="Hallo!")
    visitor, page, _, _ = open_page(browser, auto.url, locale="de-DE")
    panel = _open(page)
    expect(panel.locator("#q")).to_have_attribute("placeholder", "Stellen Sie eine Frage…")
    expect(panel.get_by_role("button", name="Neues Gespräch")).to_be_visible()
    visitor.close()


def test_every_control_is_at_least_44_pixels_on_a_phone(
    browser: Any, make_site: MakeSite, artifacts: Path
) -> None:
    site = make_site(
        HELP,
        greeting="Hi!",
        suggested_questions=["Delivery?"],
        enabled_tools=["knowledge", "lead_capture", "handoff"],
    )
    visitor, page, _, _ = open_page(browser, site.url, **PHONE)
    page.locator(LAUNCHER).tap()
    panel = page.frame_locator(PANEL)
    panel.locator("#q").fill("How long does delivery take?")
    panel.get_by_role("button", name="Send").tap()
    expect(panel.locator(".msg.bot").nth(1).locator(".src")).to_be_visible(timeout=20_000)
    controls = panel.locator("button:visible, input:visible, textarea:visible, .src a:visible")
    small = small_targets(controls)
    assert controls.count() >= 8 and not small, small
    page.screenshot(path=artifacts / "details-8-phone-tap-targets.png")
    visitor.close()


# ---------------------------------------------------------------------------- conversation


def test_a_new_conversation_starts_over_and_messages_carry_their_time(
    browser: Any, widget_site: WidgetSite, artifacts: Path
) -> None:
    visitor, page, _, _ = open_page(browser, widget_site.allowed_url)
    page.evaluate("() => { window.seen = []; AgentHub.on('message', m => window.seen.push(m)); }")
    panel = _open(page)
    _ask(panel, "Is there a warranty?")
    expect(panel.locator(".msg.bot").nth(1)).to_contain_text("two-year", timeout=20_000)
    # Every message but the greeting says when it was written
    for n in (1, 2):
        stamp = panel.locator(".msg").nth(n).locator("time.at")
        expect(stamp).to_have_text(re.compile(r"^\d{1,2}:\d{2}( [AP]M)?$"))
        assert re.match(r"^\d{4}-\d\d-\d\dT", stamp.get_attribute("datetime") or "")
    expect(panel.locator(".msg").first.locator("time")).to_have_count(0)
    first = page.evaluate("() => window.seen[1].conversationId")
    page.screenshot(path=artifacts / "details-9-timestamps.png")

    # When the visitor starts a new conversation
    panel.get_by_role("button", name="New conversation").click()
    # Then only the greeting is left, and the next question is in another conversation
    expect(panel.locator(".msg")).to_have_count(1)
    expect(panel.locator("#q")).to_be_focused()
    _ask(panel, "Do orders ship the same day?")
    expect(panel.locator(".msg.bot").nth(1)).to_contain_text("same day", timeout=20_000)
    second = page.evaluate("() => window.seen[3].conversationId")
    assert second and second != first
    # And a reload brings back the new one
    page.reload()
    page.wait_for_selector("agenthub-widget[data-state=ready]", state="attached")
    page.evaluate("() => AgentHub.open()")
    expect(panel.locator(".msg.me .text")).to_have_text(["Do orders ship the same day?"])
    visitor.close()


def test_the_page_opens_the_chat_with_a_message_hears_its_events_and_gives_context(
    browser: Any, widget_site: WidgetSite, artifacts: Path
) -> None:
    visitor, page, _, _ = open_page(browser, widget_site.allowed_url)
    # Given listeners for the widget's events, and page context for the agent
    page.evaluate(
        """() => {
        window.heard = [];
        for (const name of ['open', 'close', 'message']) {
          AgentHub.on(name, m => window.heard.push(name + (m && m.role ? ':' + m.role : '')));
        }
        AgentHub.on('message', m => {
          if (m.role === 'assistant') window.answered = m.conversationId;
        });
        const stop = AgentHub.on('open', () => window.heard.push('not me'));
        stop();
        AgentHub.setContext({plan: 'pro', page: 'pricing', seats: 3});
      }"""
    )
    # When the page opens the chat with a message
    page.evaluate("() => AgentHub.open({message: 'Which kettle fits a small office?'})")
    panel = page.frame_locator(PANEL)
    # Then the question field holds it, ready to send
    expect(panel.locator("#q")).to_have_value("Which kettle fits a small office?")
    expect(panel.locator("#q")).to_be_focused()
    page.screenshot(path=artifacts / "details-10-opened-with-a-message.png")
    panel.locator("#q").press("Enter")
    expect(panel.locator(".msg.bot").nth(1)).to_be_visible(timeout=20_000)
    page.evaluate("() => AgentHub.close()")
    assert page.evaluate("() => window.heard") == [
        "open",
        "message:visitor",
        "message:assistant",
        "close",
    ]
    # And the tenant sees the page's context with the question
    conversation_id = page.evaluate("() => window.answered")
    stored = widget_site.conversation(conversation_id)["messages"][0]
    assert stored["context"] == {"plan": "pro", "page": "pricing", "seats": 3}
    # And a context the API would refuse is refused at once, in the page
    error = page.evaluate(
        "() => { try { AgentHub.setContext({'no spaces': 1}); } catch (e) { return e.name } }"
    )
    assert error == "TypeError"
    visitor.close()
