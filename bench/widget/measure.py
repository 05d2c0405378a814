"""The widget's figures.

Sizes, from the built files (`functions.widget.logic.assets.build()`, gzip -9): the loader
every page of a customer's site loads (goal <= 5 KB), and what the first open of the chat
fetches from us: the content-hashed UI script and stylesheet (goal <= 40 KB).

Times, in Chromium (Debian's, headless, driven by Playwright) on a customer page served by
the local runtime (its CloudFront emulation in front of the API), each a median of ROUNDS:
- page load -> ready launcher: the `agenthub:ready` performance mark (loader fetched, public
  config read, launcher drawn), from the page's navigation start; first visit (empty cache)
  and a reload (loader and config from the browser's cache);
- open -> greeting on screen: the first open (iframe, UI files, first paint);
- question -> rendered answer: from submitting a question to the answer in the message list
  (the next animation frame after AgentHub.onMessage reports it), for new questions (the
  answer computed) and for the same questions again (the answer cache);
- a person's reply -> the open widget, over the WebSocket API and polling (bench/widget/handoff.py).
The machine's load matters: compare figures measured in one run, on a quiet machine.
"""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.widget import handoff
from functions.widget.logic import assets as widget_assets

PrintFn = Callable[..., None]
ROUNDS = 7
LOADER_GOAL = 5 * 1024
FIRST_OPEN_GOAL = 40 * 1024
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
FAQ = """Opening hours: our shop is open Monday to Friday from 9:00 to 18:00 and on Saturdays
from 10:00 to 14:00. We are closed on Sundays.

Delivery: orders placed before 14:00 ship the same day. Delivery in Portugal takes one to two
working days; elsewhere in the European Union three to five working days.

Returns: you may return any unused item within 30 days of delivery for a full refund.

Warranty: every kettle carries a two-year warranty covering manufacturing defects.

Payment: we accept cards, MB Way and bank transfers."""
QUESTIONS = [
    "When are you open on Saturdays?",
    "How long does delivery take in Portugal?",
    "Can I return an item I don't like?",
    "How long is the warranty on a kettle?",
    "Which payment methods do you accept?",
    "Do orders ship the same day?",
    "Are you open on Sundays?",
]

_READY_MS = """() => performance.getEntriesByName('agenthub:ready')[0].startTime"""
_OPEN_MS = """async () => {
  const t0 = performance.now();
  AgentHub.open();
  const root = document.querySelector('agenthub-widget').shadowRoot;
  for (;;) {
    const frame = root.querySelector('iframe');
    const doc = frame && frame.contentDocument;
    if (doc && doc.querySelector('.msg.bot')) break;
    await new Promise(r => requestAnimationFrame(r));
  }
  await new Promise(r => requestAnimationFrame(r));
  return performance.now() - t0;
}"""
_ASK_MS = """async (question) => {
  const doc = document.querySelector('agenthub-widget').shadowRoot.querySelector('iframe')
    .contentDocument;
  const answered = new Promise(resolve => {
    const stop = AgentHub.onMessage(m => {
      if (m.role === 'assistant') { stop(); resolve(m); }
    });
  });
  const t0 = performance.now();
  doc.querySelector('#q').value = question;
  doc.querySelector('form.ask').requestSubmit();
  const message = await answered;
  await new Promise(r => requestAnimationFrame(r));
  return [performance.now() - t0, message.citations.length];
}"""
_WIRE = """() => {
  const frame = document.querySelector('agenthub-widget').shadowRoot.querySelector('iframe');
  return [performance, frame.contentWindow.performance]
    .flatMap(p => p.getEntriesByType('resource'))
    .filter(e => /\\/(widget\\.js|ui\\.[0-9a-f]+\\.(js|css))$/.test(e.name))
    .map(e => [e.name.split('/').pop(), e.encodedBodySize, e.transferSize]);
}"""


def run(print_fn: PrintFn = print) -> None:
    sizes(print_fn)
    if not Path(CHROMIUM).is_file():
        print_fn(f"\n(no Chromium at {CHROMIUM}: `make setup` installs it; browser times skipped)")
        return
    browser_times(print_fn)


def sizes(print_fn: PrintFn) -> None:
    bundle = widget_assets.build()
    print_fn("\n== Widget: the built files (gzip -9; what CloudFront serves compressed) ==")
    loader = bundle.loader
    verdict = "met" if loader.gzipped_size <= LOADER_GOAL else "MISSED"
    print_fn(
        f"loader {loader.name:30} {len(loader.body):7,} B  {loader.gzipped_size:6,} B gz"
        f"   goal <= 5 KB: {verdict}"
    )
    total_raw = total_gz = 0
    for asset in bundle.first_open():
        total_raw += len(asset.body)
        total_gz += asset.gzipped_size
        print_fn(
            f"  first open: {asset.name:24} {len(asset.body):7,} B  {asset.gzipped_size:6,} B gz"
        )
    verdict = "met" if total_gz <= FIRST_OPEN_GOAL else "MISSED"
    print_fn(
        f"first open (UI files) {'':15} {total_raw:7,} B  {total_gz:6,} B gz   goal <= 40 KB: "
        f"{verdict}"
    )


def _median(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{statistics.median(ordered):7.0f} ms  (min {ordered[0]:.0f}, max {ordered[-1]:.0f})"


def browser_times(print_fn: PrintFn) -> None:
    from playwright.sync_api import sync_playwright

    from infra.local.runtime import LocalRuntime
    from tests.e2e.support import eventually

    with tempfile.TemporaryDirectory() as logs:
        runtime = LocalRuntime(api_port=0, moto_port=0, authorizer_ttl=None, log_dir=logs)
        runtime.start()
        try:
            page_url, agent_id = _prepare(runtime, eventually)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                try:
                    _measure(browser, page_url, print_fn)
                    handoff.measure(browser, runtime, page_url, agent_id, print_fn)
                finally:
                    browser.close()
        finally:
            runtime.stop()


def _prepare(runtime: Any, eventually: Callable[..., Any]) -> tuple[str, str]:
    """An agent with a small FAQ (indexed), handoff on, and a key for a customer page; that
    page's URL and the agent's id."""
    import socket

    import requests

    owner = runtime.seed["owner_key"]
    headers = {"Authorization": f"Bearer {owner}"}
    api = runtime.api_url
    runtime.serve_widget()
    agent = requests.post(
        f"{api}/v1/agents",
        headers=headers,
        json={
            "name": "Bench shop",
            "greeting": "Hello!",
            "suggested_questions": QUESTIONS[:2],
            **handoff.agent_fields(),
        },
        timeout=30,
    ).json()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = requests.post(
        f"{api}/v1/publishable-keys",
        headers=headers,
        json={"agent_id": agent["id"], "allowed_origins": [f"http://127.0.0.1:{port}"]},
        timeout=30,
    ).json()
    documents = f"{api}/v1/agents/{agent['id']}/documents"
    doc = requests.post(
        documents,
        headers=headers,
        json={"source": {"type": "text", "text": FAQ, "title": "FAQ"}},
        timeout=30,
    ).json()["document"]

    def indexed() -> bool:
        found = requests.get(f"{documents}/{doc['id']}", headers=headers, timeout=30).json()
        return bool(found["status"] == "indexed")

    eventually(indexed, within=60)
    return str(runtime.serve_demo_page(agent["id"], key["secret"], port)), str(agent["id"])


def _measure(browser: Any, page_url: str, print_fn: PrintFn) -> None:
    cold, warm, opens, computed, cached = [], [], [], [], []
    wire: list[Any] = []
    first_question = 0.0
    context = browser.new_context()
    page = context.new_page()
    page.goto(page_url)
    page.wait_for_selector("agenthub-widget[data-state=ready]", state="attached")
    page.evaluate(_OPEN_MS)
    wire = page.evaluate(_WIRE)  # what a first visit and first open download, as sent
    context.close()
    for round_ in range(ROUNDS):
        context = browser.new_context()  # a first-time visitor: empty HTTP cache and storage
        page = context.new_page()
        page.goto(page_url)
        page.wait_for_selector("agenthub-widget[data-state=ready]", state="attached")
        cold.append(page.evaluate(_READY_MS))
        page.reload()
        page.wait_for_selector("agenthub-widget[data-state=ready]", state="attached")
        warm.append(page.evaluate(_READY_MS))
        opens.append(page.evaluate(_OPEN_MS))
        question = QUESTIONS[round_ % len(QUESTIONS)]
        elapsed, _ = page.evaluate(_ASK_MS, question)
        if round_ == 0:
            # the function's first request in this runtime: a cold start, and a new conversation
            first_question = elapsed
            elapsed, _ = page.evaluate(_ASK_MS, QUESTIONS[-1])
        computed.append(elapsed)
        cached.append(page.evaluate(_ASK_MS, question)[0])
        context.close()
    version = browser.version
    print_fn(f"\n== Widget in Chromium {version} against the local runtime (median of {ROUNDS}) ==")
    print_fn(f"page load -> ready launcher, first visit     {_median(cold)}")
    print_fn(f"page load -> ready launcher, reload (cached) {_median(warm)}")
    print_fn(f"open -> greeting on screen (first open)      {_median(opens)}")
    print_fn(f"question -> rendered answer (computed)       {_median(computed)}")
    print_fn(f"question -> rendered answer (answer cache)   {_median(cached)}")
    print_fn(f"first question of the run (cold function, new conversation) {first_question:.0f} ms")
    print_fn(
        "on the wire, first visit (local CloudFront gzip -6): file, body bytes, transfer bytes"
    )
    for name, body, transfer in wire:
        print_fn(f"  {name:28} {body:7,} B  {transfer:7,} B")
