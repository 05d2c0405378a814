"""End-to-end latency of a visitor's message through the local gateway (authorizer, routing,
the conversations function in a warm worker, moto for DynamoDB and S3): start the project's
runtime, index a small document, then time questions from a widget origin. Printed only."""

from __future__ import annotations

import statistics
import time

QUESTIONS = [
    "How much notice do I need to cancel an appointment?",
    "When are you open on Saturday?",
    "Do you accept my health insurer?",
    "What does a late cancellation cost?",
    "Can I book online?",
]
DOCUMENT = """# Appointments at Harbour Dental

Appointments can be booked online or by phone. We ask for 24 hours notice to cancel an
appointment; late cancellations are charged 30 euros.

## Opening hours

The clinic is open Monday to Friday from 8am to 7pm, and on Saturday mornings from 9am to 1pm.

## Insurance

We accept all major Dutch health insurers and send the invoice to them directly.
"""
ORIGIN = "https://clinic.example"


def run(print_fn=print, rounds: int = 6) -> None:
    import requests

    from infra.local.runtime import PROJECT_ROOT, LocalRuntime

    runtime = LocalRuntime(
        api_port=0, seed=False, log_dir=PROJECT_ROOT / ".local" / "logs" / "bench-messages"
    )
    runtime.start()
    try:
        api = runtime.api_url
        session = requests.Session()
        admin = {"Authorization": f"Bearer {runtime.admin_token}"}
        tenant = session.post(f"{api}/v1/tenants", json={"name": "Bench"}, headers=admin).json()
        owner = {"Authorization": f"Bearer {tenant['key']['secret']}"}
        agent = session.post(
            f"{api}/v1/agents", json={"name": "Desk", "allowed_origins": [ORIGIN]}, headers=owner
        ).json()
        key = session.post(
            f"{api}/v1/publishable-keys", json={"agent_id": agent["id"]}, headers=owner
        ).json()["secret"]
        docs = f"{api}/v1/agents/{agent['id']}/documents"
        doc = session.post(
            docs, json={"source": {"type": "text", "text": DOCUMENT}}, headers=owner
        ).json()["document"]
        deadline = time.monotonic() + 120
        while session.get(f"{docs}/{doc['id']}", headers=owner).json()["status"] != "indexed":
            if time.monotonic() > deadline:
                raise SystemExit("the benchmark document was not indexed")
            time.sleep(0.5)
        widget = {"Authorization": f"Bearer {key}", "Origin": ORIGIN}
        base = f"{api}/v1/public/agents/{agent['id']}/conversations"
        first: float | None = None
        samples: list[float] = []
        for _ in range(rounds):
            started = session.post(base, json={}, headers=widget).json()
            path = f"{base}/{started['conversation']['id']}/messages"
            for question in QUESTIONS:
                body = {"text": question, "visitor_token": started["visitor_token"]}
                t0 = time.perf_counter()
                response = session.post(path, json=body, headers=widget)
                elapsed = (time.perf_counter() - t0) * 1000
                if response.status_code != 201:
                    raise SystemExit(f"message failed: {response.status_code} {response.text}")
                if first is None:
                    first = elapsed
                else:
                    samples.append(elapsed)
        samples.sort()
        print_fn("\n== A visitor's message through the local gateway (extractive answers, moto) ==")
        print_fn(
            f"first message (cold function, index load): {first:.0f} ms; then "
            f"{len(samples)} messages: p50 {statistics.median(samples):.1f} ms,"
            f" p99 {samples[max(0, int(len(samples) * 0.99) - 1)]:.1f} ms"
            " (answers served from the answer cache after the first round)"
        )
    finally:
        runtime.stop()


if __name__ == "__main__":
    run()
