"""A person in the conversation, in Chromium against the local runtime: the visitor asks for a
person in the widget; someone of the team lists the open handoffs, reads the transcript and
replies through the API; the reply appears in the open widget (pushed over the template's
WebSocket API, or polled where WebSockets cannot connect); the agent stays quiet while that
person holds the conversation; a handoff nobody answers asks the visitor for an email and the
transcript goes to the team by email (SES, in moto). How fast a reply arrives is measured by
`make bench` (widget section), not asserted here."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Page, expect

from infra.local.resources import boto_client
from infra.local.widget import FAQ_HTML, FAQ_TITLE, html_text
from tests.e2e.browser.conftest import AgentSite, MakeSite, WidgetSite, settle
from tests.e2e.browser.test_widget import LAUNCHER, PANEL, open_page
from tests.e2e.support import eventually

INBOX = "frontdesk@kettles.example"
HELP = html_text(FAQ_HTML.format(title=FAQ_TITLE))


def _handoff_site(make_site: MakeSite, **handoff: Any) -> AgentSite:
    return make_site(
        HELP,
        name="Kettle front desk",
        greeting="Hello! Ask me anything about our kettles.",
        theme={"title": "Kettle front desk", "primary_color": "#1d4ed8"},
        enabled_tools=["knowledge", "lead_capture", "handoff"],
        handoff={"timeout_seconds": 30, "email": INBOX, **handoff},
    )


def _listen(page: Page) -> None:
    page.evaluate("() => { window.seen = []; AgentHub.on('message', m => window.seen.push(m)); }")


def _conversation_id(page: Page) -> str:
    return str(page.evaluate("() => window.seen.find(m => m.conversationId).conversationId"))


def _ask_for_a_person(page: Page) -> Any:
    """Open the chat, ask a question, then for a person; returns the chat's frame locator."""
    page.locator(LAUNCHER).click()
    panel = page.frame_locator(PANEL)
    panel.locator("#q").fill("How long does delivery take?")
    panel.locator("#q").press("Enter")
    expect(panel.locator(".msg.bot").nth(1).locator(".text")).to_contain_text(
        "working days", timeout=20_000
    )
    panel.get_by_role("button", name="Talk to a person").click()
    expect(panel.locator(".note > span").last).to_have_text("A person has been asked to join")
    expect(panel.get_by_role("button", name="A person has been asked to join")).to_be_disabled()
    return panel


def test_a_person_replies_and_the_visitor_reads_it_in_the_open_widget(
    browser: Any, widget_site: WidgetSite, make_site: MakeSite, artifacts: Any
) -> None:
    api, owner = widget_site.api, widget_site.tenant.owner_key
    site = _handoff_site(make_site)
    visitor, page, _, _ = open_page(browser, site.url)
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    _listen(page)

    # Given a visitor who asked a question, then for a person
    panel = _ask_for_a_person(page)
    conversation_id = _conversation_id(page)
    # Then the open widget follows the conversation on the template's WebSocket API
    settle(page, lambda: sockets)
    assert sockets[0].startswith(widget_site.runtime.realtime_url + "?agent=")

    # When someone of the team lists the open handoffs and reads the transcript
    listed = api.ok("GET", f"/v1/handoffs?agent_id={site.agent_id}", owner)["items"]
    assert [(i["conversation_id"], i["status"]) for i in listed] == [(conversation_id, "requested")]
    path = f"/v1/agents/{site.agent_id}/conversations/{conversation_id}"
    transcript = api.ok("GET", path, owner)["messages"]
    assert [m["role"] for m in transcript] == ["user", "assistant", "system"]
    # And Dana replies
    reply = "**Hi, I'm Dana.** Your order ships today; track it at https://kettles.example/track."
    api.ok("POST", f"{path}/replies", owner, json={"text": reply, "author": "Dana"})

    # Then the visitor reads her reply in the open widget, under her name, rendered
    answer = panel.locator(".msg.op").last
    expect(answer.locator(".text")).to_contain_text("Your order ships today")
    expect(answer.locator(".text strong")).to_have_text("Hi, I'm Dana.")
    expect(answer.locator(".text a")).to_have_attribute("href", "https://kettles.example/track")
    expect(answer.locator(".by")).to_have_text("Dana")
    expect(panel.locator(".note > span").last).to_have_text("Dana joined the conversation.")
    expect(panel.locator("#q")).to_have_attribute("placeholder", "Write to Dana…")
    seen = page.evaluate("() => window.seen.filter(m => m.role === 'operator')")
    assert [(m["author"], m["conversationId"]) for m in seen] == [("Dana", conversation_id)]
    page.screenshot(path=artifacts / "live-1-a-person-replies.png")

    # When the visitor writes while Dana holds the conversation
    bots = panel.locator(".msg.bot:not(.op)").count()
    panel.locator("#q").fill("Can you change the delivery address?")
    panel.locator("#q").press("Enter")
    # Then the message is Dana's to answer: the agent says nothing
    stored = eventually(
        lambda: [m for m in api.ok("GET", path, owner)["messages"] if m["status"] == "sent"]
    )
    assert stored[0]["text"] == "Can you change the delivery address?"
    expect(panel.locator(".typing .dots")).to_have_count(0)
    assert panel.locator(".msg.bot:not(.op)").count() == bots

    # When Dana hands the conversation back
    api.ok("POST", f"{path}/handoff/release", owner, json={})
    # Then the visitor is told, and the assistant answers again
    expect(panel.locator(".note > span").last).to_have_text(
        "Dana left the conversation. The assistant is back."
    )
    expect(panel.get_by_role("button", name="Talk to a person")).to_be_enabled()
    panel.locator("#q").fill("Can I return an item?")
    panel.locator("#q").press("Enter")
    expect(panel.locator(".msg.bot:not(.op)").last.locator(".text")).to_contain_text(
        "30 days", timeout=20_000
    )
    page.screenshot(path=artifacts / "live-2-handed-back.png")
    visitor.close()


def test_where_websockets_cannot_connect_the_widget_polls(
    browser: Any, widget_site: WidgetSite, make_site: MakeSite
) -> None:
    api, owner = widget_site.api, widget_site.tenant.owner_key
    site = _handoff_site(make_site)
    # Given a browser (or a proxy) without WebSockets
    context = browser.new_context()
    context.add_init_script("delete window.WebSocket;")
    page = context.new_page()
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.goto(site.url)
    page.wait_for_selector("agenthub-widget[data-state=ready]", state="attached")
    _listen(page)
    panel = _ask_for_a_person(page)
    conversation_id = _conversation_id(page)
    # When a person replies
    path = f"/v1/agents/{site.agent_id}/conversations/{conversation_id}/replies"
    api.ok("POST", path, owner, json={"text": "Polling works too.", "author": "Ana"})
    # Then the reply arrives all the same, without a WebSocket
    expect(panel.locator(".msg.op .text")).to_have_text("Polling works too.")
    assert sockets == []
    context.close()


def test_when_nobody_answers_the_visitor_is_asked_for_an_email_and_the_team_gets_the_transcript(
    browser: Any, widget_site: WidgetSite, make_site: MakeSite, artifacts: Any
) -> None:
    runtime = widget_site.runtime
    api, owner = widget_site.api, widget_site.tenant.owner_key
    site = _handoff_site(make_site)
    visitor, page, _, _ = open_page(browser, site.url)
    _listen(page)
    # Given a visitor who asked for a person
    panel = _ask_for_a_person(page)
    conversation_id = _conversation_id(page)
    path = f"/v1/agents/{site.agent_id}/conversations/{conversation_id}"
    asked = api.ok("GET", path, owner)["conversation"]["handoff_state"]["requested_at"]
    # And the handoff's timeout on its way (the worker took HandoffRequested off the bus and
    # sent a message that SQS holds back for the agent's 30 s)
    sqs = boto_client("sqs", runtime.moto_url)
    url = sqs.get_queue_url(QueueName="agenthub-dev-handoff-timeouts")["QueueUrl"]

    def delayed() -> int:
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessagesDelayed"])

    eventually(delayed, within=30)

    # When that message arrives with nobody having replied (delivered now, not in 30 s)
    event = json.loads(json.dumps(_sample_timeout()))
    event["Records"][0]["body"] = json.dumps(
        {
            "kind": "handoff_timeout",
            "tenant_id": widget_site.tenant.id,
            "conversation_id": conversation_id,
            "requested_at": asked,
        }
    )
    result = runtime.invoke("HandoffWorkerFunction", event)
    assert result.ok and json.loads(result.payload) == {"batchItemFailures": []}, result.payload

    # Then the widget says nobody is free and asks for an email, in place of the question field
    step = panel.locator(".step")
    expect(step.get_by_role("heading", name="We'll reply by email")).to_be_visible()
    expect(step.get_by_label("Email", exact=True)).to_be_focused()
    expect(panel.locator("form.ask")).to_be_hidden()
    page.screenshot(path=artifacts / "live-3-nobody-answered.png")
    # And the team got the transcript by email
    emails = eventually(lambda: _emails_about(runtime, conversation_id))
    assert emails[0]["destinations"]["ToAddresses"] == [INBOX]
    assert "Visitor: How long does delivery take?" in emails[0]["body"]
    assert "nobody answered" in emails[0]["subject"]

    # When the visitor leaves an email address
    step.get_by_label("Email", exact=True).fill("sam@example.com")
    step.get_by_role("button", name="Send details").click()
    expect(panel.locator(".note > span").last).to_have_text("Thanks! We'll be in touch.")
    expect(panel.locator("form.ask")).to_be_visible()
    # Then the team gets it too, with the transcript
    second = eventually(lambda: _emails_about(runtime, conversation_id)[1:], within=30)
    assert "sam@example.com" in second[0]["body"]
    visitor.close()


def _sample_timeout() -> dict[str, Any]:
    from tests.support.events import load_event

    return load_event("conversations/sqs_handoff_timeout")


def _emails_about(runtime: Any, conversation_id: str) -> list[dict[str, Any]]:
    return [e for e in runtime.sent_emails() if conversation_id in (e.get("body") or "")]
