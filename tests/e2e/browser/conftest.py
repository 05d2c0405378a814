"""The widget in a real browser: Debian's Chromium driven by Playwright, against the session's
local runtime (tests/e2e/conftest.py ``runtime``).

``widget_site`` sets the scene once per session, through the API only: a tenant, an agent with
a greeting, suggested questions, a theme, the lead form and handoff, a publishable key for one
customer site, and that site's FAQ page imported as a URL source (indexed before any test
runs). Two customer sites serve the same page embedding the widget with the one tag: one on an
origin the key allows, one on an origin it does not. The widget itself is served by the local
CloudFront (``runtime.serve_widget()``).

Chromium must be installed (``make setup`` does it: infra/scripts/setup.sh); a missing browser
fails the suite rather than skipping it. Screenshots go to ``artifacts/browser/``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.local.runtime import LocalRuntime
from infra.local.widget import FAQ_TITLE
from tests.e2e.api import Api, Tenant
from tests.e2e.support import eventually

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = os.environ.get("AGENTHUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
THEME = {"title": "Kettle help", "primary_color": "#0f766e", "position": "bottom-right"}
THEME_RGB = "rgb(15, 118, 110)"
GREETING = "Hello! Ask me about opening hours, delivery or returns."
QUESTIONS = ["How long does delivery take?", "Can I return an item?"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run `make setup` (infra/scripts/setup.sh "
            "installs Debian's chromium), or point AGENTHUB_CHROMIUM at a Chromium binary"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass(frozen=True)
class WidgetSite:
    runtime: LocalRuntime
    api: Api
    tenant: Tenant
    agent_id: str
    publishable_key: str
    key_id: str
    cdn_url: str  # the local CloudFront
    allowed_url: str  # a customer page on an origin the key allows
    refused_url: str  # the same page on an origin the key does not allow
    faq_url: str
    document_id: str

    @property
    def allowed_origin(self) -> str:
        return self.allowed_url.rstrip("/")

    def edge_log(self, origin: str) -> list[Any]:
        """What the local CloudFront received from ``origin`` for this agent's public routes."""
        prefix = f"/v1/public/agents/{self.agent_id}/"
        return [
            entry
            for entry in self.runtime.widget_cdn.access_log
            if entry.origin == origin and entry.path.startswith(prefix)
        ]

    def conversation(self, conversation_id: str) -> dict[str, Any]:
        """A conversation as the tenant's server sees it (secret key)."""
        path = f"/v1/agents/{self.agent_id}/conversations/{conversation_id}"
        return dict(self.api.ok("GET", path, self.tenant.owner_key))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def widget_site(runtime: LocalRuntime) -> WidgetSite:
    api = Api(runtime)
    cdn_url = runtime.serve_widget()
    tenant = api.new_tenant("Kettle shop")
    agent = api.new_agent(
        tenant.owner_key,
        name="Kettle shop assistant",
        greeting=GREETING,
        suggested_questions=QUESTIONS,
        theme=THEME,
        enabled_tools=["knowledge", "lead_capture", "handoff"],
    )
    allowed_port, refused_port = _free_port(), _free_port()
    allowed_origin = f"http://127.0.0.1:{allowed_port}"
    key = api.ok(
        "POST",
        "/v1/publishable-keys",
        tenant.owner_key,
        json={"agent_id": agent["id"], "allowed_origins": [allowed_origin]},
    )
    allowed_url = runtime.serve_demo_page(agent["id"], key["secret"], allowed_port)
    refused_url = runtime.serve_demo_page(agent["id"], key["secret"], refused_port)
    faq_url = f"{allowed_origin}/faq.html"
    documents = f"/v1/agents/{agent['id']}/documents"
    created = api.ok(
        "POST",
        documents,
        tenant.owner_key,
        json={"source": {"type": "url", "url": faq_url, "title": FAQ_TITLE}},
    )
    document_id = created["document"]["id"]

    def indexed() -> dict[str, Any] | None:
        doc = api.ok("GET", f"{documents}/{document_id}", tenant.owner_key)
        assert doc["status"] != "failed", doc
        return doc if doc["status"] == "indexed" else None

    eventually(indexed, within=60)
    return WidgetSite(
        runtime=runtime,
        api=api,
        tenant=tenant,
        agent_id=agent["id"],
        publishable_key=key["secret"],
        key_id=key["id"],
        cdn_url=cdn_url,
        allowed_url=allowed_url,
        refused_url=refused_url,
        faq_url=faq_url,
        document_id=document_id,
    )


@dataclass(frozen=True)
class ThemedSite:
    url: str
    theme: dict[str, str]


@pytest.fixture(scope="session")
def themed_site(make_site: MakeSite) -> ThemedSite:
    """A second agent of the tenant with another theme: a light colour on the left, an avatar."""
    theme = {
        "title": "Left and light",
        "primary_color": "#fde68a",
        "position": "bottom-left",
        "avatar_url": "https://cdn.example.com/avatar.png",
    }
    return ThemedSite(make_site(name="Themed", theme=theme).url, theme)


@dataclass(frozen=True)
class AgentSite:
    """An agent of the widget tenant with its own settings, and a customer page for it."""

    url: str
    agent_id: str
    publishable_key: str

    @property
    def origin(self) -> str:
        return self.url.rstrip("/")


MakeSite = Callable[..., AgentSite]


@pytest.fixture(scope="session")
def make_site(runtime: LocalRuntime, widget_site: WidgetSite) -> MakeSite:
    """``make_site(document="...", **agent_fields)``: a new agent (the FAQ-like ``document``
    indexed as a text source when given) and a page on a new origin its key allows."""
    api, owner = widget_site.api, widget_site.tenant.owner_key

    def make(document: str | None = None, **fields: Any) -> AgentSite:
        fields.setdefault("name", "Site agent")
        agent = api.new_agent(owner, **fields)
        port = _free_port()
        key = api.ok(
            "POST",
            "/v1/publishable-keys",
            owner,
            json={"agent_id": agent["id"], "allowed_origins": [f"http://127.0.0.1:{port}"]},
        )
        if document is not None:
            documents = f"/v1/agents/{agent['id']}/documents"
            source = {"type": "text", "text": document, "title": "Help centre"}
            created = api.ok("POST", documents, owner, json={"source": source})
            path = f"{documents}/{created['document']['id']}"

            def indexed() -> bool:
                status = api.ok("GET", path, owner)["status"]
                assert status != "failed"
                return status == "indexed"

            eventually(indexed, within=60)
        url = runtime.serve_demo_page(agent["id"], key["secret"], port)
        return AgentSite(url, agent["id"], key["secret"])

    return make


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def settle(page: Any, check: Any, within: float = 10.0) -> Any:
    """Wait until ``check()`` is truthy, letting the page run meanwhile (Playwright delivers
    console messages and other events only while a page call is in progress)."""
    waited = 0.0
    while waited < within:
        value = check()
        if value:
            return value
        page.wait_for_timeout(100)
        waited += 0.1
    raise AssertionError(f"not within {within} s: {check()!r}")
