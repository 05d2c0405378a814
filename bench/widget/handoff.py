"""Live handoff figures: how long a person's reply takes to reach the open widget, over the
template's WebSocket API and with the polling fallback, and what a waiting visitor costs.

Measured (Chromium against the local runtime, ROUNDS replies each way): from just before the
tenant's `POST .../replies` to the reply in the widget's message list (the page's clock and
this process's are the same machine's). Also the API's own time for a reply and for one poll
(a `GET ?after=`, what the fallback makes every POLL_MS).

Computed, not measured (no AWS here): what one visitor waiting an hour for a person costs with
a WebSocket (connection-minutes, keep-alive pings on a mock route, no function time), with
short polling (a request and a function invocation every 1.5 s) and with long polling (a
function held for the whole wait: an execution per waiting visitor), at the published
us-east-1 prices below.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

PrintFn = Callable[..., None]
ROUNDS = 15
POLL_MS = 1500  # functions/widget/assets/ui/70-live.js
PING_MINUTES = 5
# Published prices (us-east-1, USD): API Gateway WebSocket messages and connection minutes, REST
# requests (first tier), Lambda on arm64 per GB-second and per request.
WS_MESSAGE = 1.00 / 1e6
WS_CONNECTION_MINUTE = 0.25 / 1e6
REST_REQUEST = 3.50 / 1e6
LAMBDA_GB_SECOND = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1e6
CONVERSATIONS_MEMORY_GB = 1.0  # ConversationsApiFunction's MemorySize (1024 MB)
LONG_POLL_SECONDS = 25  # under API Gateway REST's 29 s integration timeout

_LISTEN = """() => { window.replies = [];
  AgentHub.on('message', m => {
    if (m.role === 'operator') window.replies.push([m.text, Date.now()]);
  });
}"""


def _stats(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (
        f"p50 {statistics.median(ordered):6.0f} ms  p90 {p90:6.0f} ms  "
        f"(min {ordered[0]:.0f}, max {ordered[-1]:.0f})"
    )


def _ask_for_a_person(page: Any) -> str:
    page.evaluate("() => AgentHub.open()")
    frame = page.locator("agenthub-widget iframe").content_frame
    frame.locator("#q").fill("When are you open on Saturdays?")
    frame.locator("#q").press("Enter")
    frame.locator(".msg.bot").nth(1).wait_for(timeout=30_000)
    frame.get_by_role("button", name="Talk to a person").click()
    frame.locator(".note").last.wait_for()
    return str(
        page.evaluate(
            "() => JSON.parse(localStorage.getItem(Object.keys(localStorage)"
            ".find(k => k.startsWith('agenthub:')))).c"
        )
    )


def _replies(page: Any, api: Any, path: str, label: str) -> tuple[list[float], list[float]]:
    """ROUNDS replies; (reply -> in the widget, the reply request's own time), in ms."""
    seen, calls = [], []
    for n in range(ROUNDS):
        text = f"{label} reply {n}"
        sent = time.time() * 1000
        started = time.perf_counter()
        api("POST", f"{path}/replies", {"text": text, "author": "Bench"})
        calls.append((time.perf_counter() - started) * 1000)
        deadline = time.monotonic() + 10
        arrived = None
        while arrived is None and time.monotonic() < deadline:
            got = page.evaluate("t => (window.replies.find(r => r[0] === t) || [])[1]", text)
            arrived = got if got else None
            if arrived is None:
                page.wait_for_timeout(5)
        if arrived is None:
            raise RuntimeError(f"{label}: reply {n} never reached the widget")
        seen.append(arrived - sent)
        # replies at random moments: a poll's phase must not line up with them
        page.wait_for_timeout(200 + random.random() * POLL_MS)
    return seen, calls


def measure(browser: Any, runtime: Any, page_url: str, agent_id: str, print_fn: PrintFn) -> None:
    import requests

    owner = runtime.seed["owner_key"]

    def api(method: str, path: str, body: Any = None) -> Any:
        response = requests.request(
            method,
            runtime.api_url + path,
            headers={"Authorization": f"Bearer {owner}"},
            json=body,
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    results: dict[str, tuple[list[float], list[float]]] = {}
    polls: list[float] = []
    for mode in ("websocket", "polling"):
        context = browser.new_context()
        if mode == "polling":
            context.add_init_script("delete window.WebSocket;")
        page = context.new_page()
        subscribed: list[bool] = []

        def follow(socket: Any, subscribed: list[bool] = subscribed) -> None:
            socket.on(
                "framereceived",
                lambda frame: subscribed.append(True) if "subscribed" in str(frame) else None,
            )

        page.on("websocket", follow)
        page.goto(page_url)
        page.wait_for_selector("agenthub-widget[data-state=ready]", state="attached")
        page.evaluate(_LISTEN)
        conversation_id = _ask_for_a_person(page)
        if mode == "websocket":
            deadline = time.monotonic() + 10
            while not subscribed and time.monotonic() < deadline:
                page.wait_for_timeout(20)
            if not subscribed:
                raise RuntimeError("the widget did not subscribe on the WebSocket API")
        path = f"/v1/agents/{agent_id}/conversations/{conversation_id}"
        results[mode] = _replies(page, api, path, mode)
        if mode == "polling":
            messages = api("GET", path)["messages"]
            for _ in range(ROUNDS):
                started = time.perf_counter()
                api("GET", f"{path}?after={messages[-1]['id']}")
                polls.append((time.perf_counter() - started) * 1000)
        api("POST", f"{path}/handoff/release", {})
        context.close()

    print_fn("\n== Live handoff: a person's reply -> the open widget (Chromium, local runtime) ==")
    for mode, (seen, calls) in results.items():
        print_fn(f"{mode:10} reply -> in the widget   {_stats(seen)}")
        print_fn(f"{'':10} the reply request alone {_stats(calls)}")
    print_fn(f"one poll (GET ?after=, what the fallback sends every {POLL_MS} ms) {_stats(polls)}")
    _costs(statistics.median(polls), print_fn)


def _costs(poll_ms: float, print_fn: PrintFn) -> None:
    """What one visitor waiting an hour for a person costs (computed, published prices)."""
    hour = 3600
    websocket = 60 * WS_CONNECTION_MINUTE + (60 / PING_MINUTES) * WS_MESSAGE
    polls = hour * 1000 / POLL_MS
    polling = polls * (
        REST_REQUEST + LAMBDA_REQUEST + LAMBDA_GB_SECOND * CONVERSATIONS_MEMORY_GB * poll_ms / 1000
    )
    long_requests = hour / LONG_POLL_SECONDS
    long_polling = long_requests * (REST_REQUEST + LAMBDA_REQUEST) + (
        LAMBDA_GB_SECOND * CONVERSATIONS_MEMORY_GB * hour
    )
    print_fn(
        "a visitor waiting one hour for a person (computed from us-east-1 prices, not measured):"
    )
    rows = [
        ("WebSocket API", websocket, "0 s", "0", "60 connection-minutes, 12 pings (mock route)"),
        (
            "short polling",
            polling,
            f"{polls * poll_ms / 1000:.0f} s",
            "~0",
            f"{polls:.0f} requests at the measured {poll_ms:.0f} ms each",
        ),
        (
            "long polling",
            long_polling,
            f"{hour} s",
            "1",
            f"{long_requests:.0f} requests held {LONG_POLL_SECONDS} s each",
        ),
    ]
    print_fn(f"  {'':14} {'USD':>10}  {'Lambda time':>11}  {'executions held':>15}  how")
    for name, cost, lambda_time, held, how in rows:
        print_fn(f"  {name:14} {cost:10.6f}  {lambda_time:>11}  {held:>15}  {how}")
    print_fn(
        "  (Lambda's default concurrency is 1,000 per account and region: long polling caps the "
        "visitors who can wait for a person at once; a WebSocket API allows 500 new connections "
        "a second and holds any number)"
    )


def agent_fields() -> dict[str, Any]:
    """What the bench's agent needs for the handoff figures."""
    return {
        "enabled_tools": ["knowledge", "handoff"],
        # long enough that no handoff of the bench times out while it measures
        "handoff": {"timeout_seconds": 900},
    }
