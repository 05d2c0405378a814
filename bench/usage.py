"""Usage and analytics figures (printed, never asserted):

- event-to-counter lag through the local runtime: a visitor's message answered through the
  gateway until the billing ledger and the analytics counter show it (outbox, stream poller,
  relay, emulated bus and rules, queue pollers with the template's batching windows,
  consumers);
- the analytics API for a 90-day range through the gateway, from the 30 s cache and read
  through it (``Cache-Control: no-cache``);
- AWS calls per ingested event, per consumer (warm, moto in process);
- the nightly rollup job for one agent-day of 100,000 events, end to end in moto (items
  seeded through the analytics dal with batch writes, then the real job timed).

    python -m bench --only usage
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "https://usage.example"
DOCUMENT = "# Hours\n\nThe shop is open Monday to Saturday from 10am to 6pm.\n"


def _stats(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):7.1f} ms  p99 {p99:7.1f} ms  (n={len(ordered)})"


# ---------------------------------------------------------------------------- local runtime


def _through_runtime(messages: int, api_rounds: int) -> dict[str, Any]:
    import requests

    from infra.local.runtime import PROJECT_ROOT, LocalRuntime

    runtime = LocalRuntime(
        api_port=0, seed=False, log_dir=PROJECT_ROOT / ".local" / "logs" / "bench-usage"
    )
    runtime.start()
    try:
        api, session = runtime.api_url, requests.Session()
        admin = {"Authorization": f"Bearer {runtime.admin_token}"}
        tenant = session.post(f"{api}/v1/tenants", json={"name": "Bench"}, headers=admin).json()
        owner = {"Authorization": f"Bearer {tenant['key']['secret']}"}
        fresh = {**owner, "Cache-Control": "no-cache"}
        agent = session.post(
            f"{api}/v1/agents", json={"name": "Shop", "allowed_origins": [ORIGIN]}, headers=owner
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
                raise RuntimeError("the bench document was not indexed")
            time.sleep(0.1)
        time.sleep(11)  # the index pointer's 10 s cache in the conversations worker
        widget = {"Authorization": f"Bearer {key}", "Origin": ORIGIN}
        base = f"{api}/v1/public/agents/{agent['id']}/conversations"
        today = datetime.now(UTC).date().isoformat()
        series = f"{api}/v1/analytics/agents/{agent['id']}/series?from={today}&to={today}"
        ledger_lag, counter_lag = [], []
        for n in range(1, messages + 1):
            started = session.post(base, json={}, headers=widget).json()  # a new visitor each
            body = {"text": "When is the shop open?", "visitor_token": started["visitor_token"]}
            cid = started["conversation"]["id"]
            answer = session.post(f"{base}/{cid}/messages", json=body, headers=widget)
            assert answer.status_code == 201, answer.text
            answered = time.perf_counter()
            seen_ledger = seen_counter = None
            while seen_ledger is None or seen_counter is None:
                now = time.perf_counter()
                if now - answered > 60:
                    raise RuntimeError("a message was not counted within 60 s")
                if seen_ledger is None:
                    usage = session.get(f"{api}/v1/billing/usage", headers=owner).json()
                    if usage["totals"]["messages"] >= n:
                        seen_ledger = (time.perf_counter() - answered) * 1000
                if seen_counter is None:
                    days = session.get(series, headers=fresh).json()["days"]
                    if days[0]["counts"]["messages"] >= n:
                        seen_counter = (time.perf_counter() - answered) * 1000
                time.sleep(0.02)
            ledger_lag.append(seen_ledger)
            counter_lag.append(seen_counter)
        start = (date.fromisoformat(today) - timedelta(days=89)).isoformat()
        ninety = f"{api}/v1/analytics/agents/{agent['id']}/series?from={start}&to={today}"
        timings: dict[str, list[float]] = {"cached": [], "read through": []}
        for name, headers in (("cached", owner), ("read through", fresh)):
            for _ in range(api_rounds + 1):
                began = time.perf_counter()
                response = session.get(ninety, headers=headers)
                timings[name].append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200 and len(response.json()["days"]) == 90
            timings[name] = timings[name][1:]
        return {
            "ledger_lag": _stats(ledger_lag),
            "counter_lag": _stats(counter_lag),
            "series_cached": _stats(timings["cached"]),
            "series_fresh": _stats(timings["read through"]),
        }
    finally:
        runtime.stop()


# ---------------------------------------------------------------------------- in process


TENANT = "0123456789abcdef"
AGENT = "ag_0f1e2d3c4b5a6978"


def _table(name: str) -> None:
    import boto3

    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


def _envelope(kind: str, source: str, data: dict[str, Any], when: datetime) -> str:
    detail = {
        "event_id": uuid.uuid4().hex,
        "tenant_id": TENANT,
        "type": kind,
        "occurred_at": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "schema_version": 1,
        "actor": {"kind": "system"},
        "subject": "bench",
        "data": data,
    }
    return json.dumps({"detail-type": kind, "source": source, "detail": detail})


def _sqs(bodies: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(n),
                "receiptHandle": "r",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench",
                "awsRegion": "us-east-1",
            }
            for n, body in enumerate(bodies)
        ]
    }


class _Context:
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"


QUESTIONS = [
    "When are you open on Saturday?",
    "How much is a cleaning?",
    "Do you take my insurance?",
    "Can I book online?",
    "Where do I park?",
]


def _message(when: datetime, abstained: bool) -> str:
    data = {
        "agent_id": AGENT,
        "conversation_id": "cv_1",
        "message_id": uuid.uuid4().hex,
        "question_id": uuid.uuid4().hex,
        "channel": "widget",
        "model": "extractive",
        "tokens_in": 400,
        "tokens_out": 90,
        "latency_ms": 30,
        "cache_hit": False,
        "abstained": abstained,
        "citations": 2,
    }
    return _envelope("MessageAnswered", "agenthub.conversations", data, when)


def in_process(events: int) -> dict[str, Any]:
    """Moto in process: AWS calls per event for each consumer, consumer time per event, and
    one rollup job run over an agent-day of ``events`` events."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "us-east-1",
            "TABLE_NAME": "bench-usage",
            "EVENT_BUS_NAME": "bench",
            "NOTIFICATION_SENDER": "bench@example.com",
            "POWERTOOLS_METRICS_NAMESPACE": "bench",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_TRACE_DISABLED": "1",
        }
    )
    import botocore.client
    from moto import mock_aws

    calls: list[tuple[str, str]] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(client: Any, operation: str, params: Any) -> Any:
        calls.append((client.meta.service_model.service_name, operation))
        return original(client, operation, params)

    with mock_aws():
        _table("bench-usage")
        botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]
        from analytics.handlers import on_domain_event as analytics_consumer
        from billing.handlers import on_domain_event as billing_consumer

        when = datetime.now(UTC)
        figures: dict[str, Any] = {}
        for name, consumer in (("billing", billing_consumer), ("analytics", analytics_consumer)):
            consumer.handler(_sqs([_message(when, False)]), _Context())  # warm
            batch = [_message(when, n % 4 == 0) for n in range(100)]
            calls.clear()
            began = time.perf_counter()
            for start in range(0, len(batch), 25):
                consumer.handler(_sqs(batch[start : start + 25]), _Context())
            elapsed = (time.perf_counter() - began) * 1000 / len(batch)
            per_event: dict[str, float] = {}
            for service, operation in calls:
                per_event[f"{service}.{operation}"] = per_event.get(
                    f"{service}.{operation}", 0
                ) + 1 / len(batch)
            figures[name] = {"calls": per_event, "ms_per_event": elapsed}
        figures["rollup"] = rollup_of_a_day(events)
    botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
    return figures


# A busy agent-day: what each conversation of it brings (5 events on average).
QUESTIONS_PER_CONVERSATION = 3
DAY_MIX = {
    "ConversationStarted": 1.0,
    "MessageAnswered": float(QUESTIONS_PER_CONVERSATION),
    "FeedbackReceived": 0.5,
    "LeadCaptured": 0.25,
    "BookingConfirmed": 0.15,
    "PaymentSucceeded": 0.1,
}
EXTRA = {
    "FeedbackReceived": {"rating": "up"},
    "PaymentSucceeded": {"amount_minor": 2500, "currency": "usd"},
}


def _day_of_events(events: int, when: datetime) -> tuple[list[str], dict[str, str]]:
    """``events`` event bodies of one agent-day, and the visitors' questions by message id
    (what the conversations domain would hold): 60% of questions from five common ones, the
    rest a long tail of rare wordings; 30% of answers abstained."""
    rng = random.Random(7)
    bodies: list[str] = []
    questions: dict[str, str] = {}
    n = 0
    while len(bodies) < events:
        cid = f"cv_{n:08d}"
        base = {"agent_id": AGENT, "conversation_id": cid, "channel": "widget"}
        started = {**base, "verified": False}
        bodies.append(_envelope("ConversationStarted", "agenthub.conversations", started, when))
        for turn in range(QUESTIONS_PER_CONVERSATION):
            qid = f"msg_{n:08d}_{turn}"
            common = rng.random() < 0.6
            rare = f"rare question number {rng.randint(0, 20000)}"
            questions[qid] = rng.choice(QUESTIONS) if common else rare
            message = json.loads(_message(when, rng.random() < 0.3))
            message["detail"]["data"].update(conversation_id=cid, question_id=qid)
            bodies.append(json.dumps(message))
        for kind, extra in (
            (k, EXTRA.get(k, {})) for k in list(DAY_MIX)[2:] if rng.random() < DAY_MIX[k]
        ):
            bodies.append(_envelope(kind, "agenthub.conversations", {**base, **extra}, when))
        n += 1
    return bodies[:events], questions


def rollup_of_a_day(events: int) -> dict[str, Any]:
    """The nightly rollup job, end to end in moto, over one agent-day of ``events`` events.

    Seeding: each event goes through the consumer's own logic (``counters.delta_of``: the
    counts, the local day, the question filed under the day; the question's text comes from
    the bench's dict where the consumer reads it from the conversations domain with one
    GetItem) and its items are written by the analytics dal with batch writes
    (``repository.backfill``), not one transaction per event: moto's TransactWriteItems
    deep-copies the table, which made 100k transactions impossible here. Then the real job
    (``job_rollup.handler``) runs and is timed: it finds the agent on gsi1, reads the day's
    counters and its questions partition (paged Query), ranks and groups, writes the rollup.
    """
    from agenthub.events import read_delivery
    from agenthub.table import bind_table
    from analytics.dal import repository
    from analytics.handlers import job_rollup
    from analytics.logic import counters

    bind_table(os.environ["TABLE_NAME"])  # what the consumer's cold start does
    when = datetime(2026, 3, 3, 12, tzinfo=UTC)
    day = when.date().isoformat()
    bodies, questions = _day_of_events(events, when)

    def lookup(tenant_id: str, conversation_id: str, message_id: str) -> str | None:
        return questions.get(message_id)

    began = time.perf_counter()
    deltas = [counters.delta_of(read_delivery(body), lookup) for body in bodies]
    items = repository.backfill(d for d in deltas if d is not None)
    seeded = time.perf_counter() - began
    import botocore.client

    inside: list[tuple[str, float]] = []
    original = botocore.client.BaseClient._make_api_call

    def timed(client: Any, operation: str, params: Any) -> Any:
        began = time.perf_counter()
        try:
            return original(client, operation, params)
        finally:
            inside.append((operation, time.perf_counter() - began))

    botocore.client.BaseClient._make_api_call = timed  # type: ignore[method-assign]
    try:
        began = time.perf_counter()
        result = job_rollup.handler({"days": [day]}, _Context())
        took = time.perf_counter() - began
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
    [record] = repository.days(TENANT, AGENT, day, day)
    return {
        "events": len(bodies),
        "questions": record.counts.messages,
        "conversations": record.counts.conversations,
        "items": items,
        "seed_seconds": seeded,
        "seconds": took,
        "aws_seconds": sum(t for _, t in inside),
        "calls": {op: sum(1 for o, _ in inside if o == op) for op, _ in inside},
        "rolled_up": result["rolled_up"],
        "unanswered_groups": len(record.rollup.unanswered_questions) if record.rollup else 0,
    }


def run(print_fn: Any = print, messages: int = 20, api_rounds: int = 100) -> None:
    print_fn("\n== Usage and analytics ==")
    path = os.pathsep.join([str(ROOT / "functions"), str(ROOT / "layers/shared/python"), str(ROOT)])
    out = subprocess.run(
        [sys.executable, "-m", "bench.usage", "own"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": path, "PYDANTIC_DISABLE_PLUGINS": "__all__"},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    own = json.loads(out.stdout.strip().splitlines()[-1])
    for name in ("billing", "analytics"):
        figures = own[name]
        calls = ", ".join(f"{k} {v:.2f}" for k, v in sorted(figures["calls"].items()))
        print_fn(
            f"{name} consumer, per ingested event (warm, moto in process): {calls}; "
            f"{figures['ms_per_event']:.1f} ms"
        )
    rollup = own["rollup"]
    calls = ", ".join(f"{op} {n}" for op, n in sorted(rollup["calls"].items()))
    print_fn(
        f"rollup job, end to end in moto: one agent-day of {rollup['events']:,} events "
        f"({rollup['conversations']:,} conversations, {rollup['questions']:,} questions in its "
        f"questions partition) rolled up in {rollup['seconds']:.1f} s: "
        f"{rollup['aws_seconds']:.1f} s inside AWS calls to moto ({calls}; moto serializes "
        f"each item it returns, ~ms per item), {rollup['seconds'] - rollup['aws_seconds']:.1f} s "
        f"the job's own work (deserializing, ranking, grouping: "
        f"{rollup['unanswered_groups']} unanswered groups)"
    )
    print_fn(
        f"   seeding: {rollup['items']:,} items written through the analytics dal with batch "
        f"writes in {rollup['seed_seconds']:.1f} s (not in the figure; moto's transactions "
        "deep-copy the table, so 100k consumer transactions cannot run here)"
    )
    via = _through_runtime(messages, api_rounds)
    print_fn(f"Through the local runtime ({messages} messages, each a new visitor):")
    print_fn(f"   answer -> billing ledger shows it      {via['ledger_lag']}")
    print_fn(f"   answer -> analytics counter shows it   {via['counter_lag']}")
    print_fn(f"   GET 90-day series, cached (30 s)       {via['series_cached']}")
    print_fn(f"   GET 90-day series, read through        {via['series_fresh']}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["own"]:
        figures = in_process(events=int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
        print(json.dumps(figures))
    else:
        run()
