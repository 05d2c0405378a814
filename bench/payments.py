"""Payments figures: our own time per payment creation and per webhook, AWS calls per webhook,
cold imports, and the same paths through the local gateway against the fake Stripe.

The seed's goal was payment processing in 150 ms instead of 400 ms. What we control is our
own code: the Stripe round trip (typically 200-600 ms for a Checkout Session in production) is
Stripe's and is not in "own CPU". Here the fake Stripe answers over loopback from another
process, so "wall" = our code + the fake's answer. Printed, never asserted.

    python -m bench --only payments
    python -m bench.payments own     # the in-process part alone, as JSON
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TENANT = "0123456789abcdef"
AGENT = "ag_0f1e2d3c4b5a6978"
KEY = "rk_test_bench_tenant_0123456789"
WEBHOOK_SECRET = "whsec_bench_0123456789abcdef"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/agenthub-bench-stripe-events"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:agenthub-bench-stripe-events"
PLATFORM_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:stripe-platform"
PREFIX = "agenthub/bench/stripe/tenants/"


def _stats(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):6.2f} ms  p99 {p99:6.2f} ms"


# ---------------------------------------------------------------------------- in process


def _stub_aws(env: dict[str, str]) -> Any:
    """AWS answered in process (bench.aws_stub) by a tiny item store."""
    from bench import aws_stub

    aws_stub.install()
    items: dict[tuple[str, str], dict[str, Any]] = {}

    def key(item: dict[str, Any]) -> tuple[str, str]:
        return item["pk"]["S"], item["sk"]["S"]

    def get(_: str, payload: dict[str, Any]) -> dict[str, Any]:
        found = items.get(key(payload["Key"]))
        return {"Item": found} if found else {}

    def batch_get(_: str, payload: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, list[dict[str, Any]]] = {}
        for table, request in payload["RequestItems"].items():
            out[table] = [items[key(k)] for k in request["Keys"] if key(k) in items]
        return {"Responses": out, "UnprocessedKeys": {}}

    def transact(_: str, payload: dict[str, Any]) -> dict[str, Any]:
        for action in payload["TransactItems"]:
            if "Put" in action:
                items[key(action["Put"]["Item"])] = action["Put"]["Item"]
        return {}

    def secret(_: str, payload: dict[str, Any]) -> dict[str, Any]:
        values = {
            env["SIGNING_SECRET_ARN"]: {"key": "bench-signing-key-0123456789abcdef"},
            PLATFORM_ARN: {"api_key": "", "connect_webhook_secret": ""},
            PREFIX + TENANT: {"api_key": KEY, "webhook_secret": WEBHOOK_SECRET},
        }
        return {"ARN": payload["SecretId"], "SecretString": json.dumps(values[payload["SecretId"]])}

    def send(_: str, payload: dict[str, Any]) -> dict[str, Any]:
        digest = hashlib.md5(payload["MessageBody"].encode()).hexdigest()
        return {"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": digest}

    aws_stub.respond("DynamoDB.GetItem", get)
    aws_stub.respond("DynamoDB.BatchGetItem", batch_get)
    aws_stub.respond("DynamoDB.TransactWriteItems", transact)
    aws_stub.respond("SecretsManager.GetSecretValue", secret)
    aws_stub.respond("AmazonSQS.SendMessage", send)
    return items, aws_stub


def _api_event(name: str, body: str | None, headers: dict[str, str]) -> dict[str, Any]:
    from tests.support.events import load_event

    event = load_event(name)
    event["body"] = body
    event["headers"].update(headers)
    event["multiValueHeaders"].update({k: [v] for k, v in headers.items()})
    return event


def _sqs_event(body: str) -> dict[str, Any]:
    """The SQS event an event source mapping hands the consumer for one message."""
    from infra.local.sqs import sqs_record

    message = {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": uuid.uuid4().hex,
        "Body": body,
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "Attributes": {"ApproximateReceiveCount": "1"},
    }
    return {"Records": [sqs_record(message, QUEUE_ARN)]}


def own(rounds: int = 150) -> dict[str, Any]:
    """Run in a fresh process (``python -m bench.payments own``): returns figures as JSON."""
    from bench.scenarios import ENV

    fake = subprocess.Popen(
        [sys.executable, "-m", "infra.local.fakestripe", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert fake.stdout is not None
        fake_url = fake.stdout.readline().split(" on ", 1)[1].split(" ", 1)[0]
        env = {
            **ENV,
            "STRIPE_API_BASE": fake_url,
            "STRIPE_PLATFORM_SECRET_ARN": PLATFORM_ARN,
            "STRIPE_TENANT_SECRET_PREFIX": PREFIX,
            "STRIPE_EVENTS_QUEUE_URL": QUEUE_URL,
        }
        os.environ.update(env)
        items, stub = _stub_aws(env)
        return _measure(rounds, fake_url, items, stub)
    finally:
        fake.terminate()
        fake.wait(5)


def _measure(rounds: int, fake_url: str, items: dict, stub: Any) -> dict[str, Any]:
    import requests

    from agenthub import keys
    from agents.dal.items import AgentItem
    from bench.cold import Context
    from payments.dal.items import StripeConnectionItem
    from payments.handlers import api, on_stripe_event, webhook
    from payments.logic.signatures import sign

    def put(item: Any) -> None:
        items[(item.pk, item.sk)] = dict(item.serialize()) | {
            "pk": {"S": item.pk},
            "sk": {"S": item.sk},
        }

    now = "2026-01-01T00:00:00Z"
    put(
        AgentItem(
            pk=keys.tenant_pk(TENANT),
            sk=keys.agent_sk(AGENT),
            tenant_id=TENANT,
            agent_id=AGENT,
            name="Desk",
            model="extractive",
            temperature=0.2,
            allowed_origins=["https://clinic.example"],
            created_at=now,
            updated_at=now,
        )
    )
    put(
        StripeConnectionItem(
            pk=keys.tenant_pk(TENANT),
            sk=keys.STRIPE_CONNECTION_SK,
            tenant_id=TENANT,
            mode="restricted_key",
            livemode=False,
            connected_at=now,
        )
    )
    context = Context()
    body = json.dumps(
        {
            "agent_id": AGENT,
            "amount": {"amount_minor": 4500, "currency": "eur"},
            "description": "Deposit",
        }
    )
    created: list[dict[str, Any]] = []
    walls, cpus = [], []
    for n in range(rounds + 1):
        event = _api_event(
            "payments/api_create_payment_request", body, {"Idempotency-Key": f"bench-{n}"}
        )
        wall, cpu = time.perf_counter(), time.process_time()
        result = api.handler(event, context)
        if n:  # the first is the environment's first request
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
        assert result["statusCode"] == 201, result
        created.append(json.loads(result["body"])["payment"])
    creation = {"wall": _stats(walls), "cpu": _stats(cpus)}

    session = requests.Session()
    for payment in created:
        done = session.post(
            f"{fake_url}/_fake/checkout/sessions/{payment['checkout_session_id']}/complete", json={}
        )
        assert done.status_code == 200, done.text
    events = session.get(f"{fake_url}/_fake/events").json()["data"]
    completed = [e for e in events if e["type"] == "checkout.session.completed"]
    walls, cpus, messages = [], [], []
    stub.reset_calls()
    for index, stripe_event in enumerate(completed):
        raw = json.dumps(stripe_event, indent=2)
        signature = sign(raw.encode(), WEBHOOK_SECRET, int(time.time()))
        event = _api_event(
            "payments/api_stripe_webhook_tenant", raw, {"Stripe-Signature": signature}
        )
        event["path"] = f"/v1/webhooks/stripe/{TENANT}"
        event["pathParameters"] = {"tenantId": TENANT}
        if index == 1:
            stub.reset_calls()
        wall, cpu = time.perf_counter(), time.process_time()
        result = webhook.handler(event, context)
        if index:
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
        assert result["statusCode"] == 200, result
        messages.append(
            json.dumps(
                {
                    "event_id": stripe_event["id"],
                    "type": stripe_event["type"],
                    "object_id": stripe_event["data"]["object"]["id"],
                    "tenant_id": TENANT,
                    "payment_id": stripe_event["data"]["object"]["metadata"]["payment_id"],
                }
            )
        )
    receiver_calls = dict(stub.calls)
    receive = {"wall": _stats(walls), "cpu": _stats(cpus), "requests": len(walls)}

    walls, cpus = [], []
    for index, message in enumerate(messages):
        if index == 1:
            stub.reset_calls()
        wall, cpu = time.perf_counter(), time.process_time()
        result = on_stripe_event.handler(_sqs_event(message), context)
        if index:
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
        assert not result["batchItemFailures"], result
    consumer_calls = dict(stub.calls)
    consume = {"wall": _stats(walls), "cpu": _stats(cpus), "requests": len(walls)}
    per = max(1, len(messages) - 1)
    return {
        "creation": creation,
        "receive": receive,
        "consume": consume,
        "receiver_calls": {k: v / per for k, v in receiver_calls.items()},
        "consumer_calls": {k: v / per for k, v in consumer_calls.items()},
    }


def _imports() -> dict[str, float]:
    """Import time of each payments handler in a fresh process (median of 3)."""
    found = {}
    path = os.pathsep.join([str(ROOT / "functions"), str(ROOT / "layers/shared/python")])
    for module in (
        "payments.handlers.webhook",
        "payments.handlers.api",
        "payments.handlers.on_stripe_event",
    ):
        code = (
            f"import time;t=time.perf_counter();import {module};"
            "s=time.perf_counter();import stripe;"
            "print((s-t)*1000, (time.perf_counter()-s)*1000)"
        )
        runs = []
        for _ in range(3):
            out = subprocess.run(
                [sys.executable, "-c", code],
                env={**os.environ, "PYTHONPATH": path, "PYDANTIC_DISABLE_PLUGINS": "__all__"},
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append([float(x) for x in out.stdout.split()])
        found[module] = statistics.median(r[0] for r in runs)
        # the same for every module: stripe on top of what the handler already imported
        found["+ stripe, on the first Stripe call"] = statistics.median(r[1] for r in runs)
    return found


# ---------------------------------------------------------------------------- through the gateway


def _gateway(rounds: int) -> dict[str, Any]:
    import boto3
    import requests

    from infra.local.fakestripe.webhooks import sign
    from infra.local.runtime import PROJECT_ROOT, LocalRuntime

    runtime = LocalRuntime(
        api_port=0, seed=True, log_dir=PROJECT_ROOT / ".local" / "logs" / "bench-payments"
    )
    runtime.start()
    try:
        api, session = runtime.api_url, requests.Session()
        owner = {"Authorization": f"Bearer {runtime.seed['owner_key']}"}
        body = {
            "agent_id": runtime.seed["agent_id"],
            "description": "Deposit",
            "amount": {"amount_minor": 4500, "currency": "eur"},
        }
        created, creation = [], []
        for n in range(rounds + 1):
            started = time.perf_counter()
            response = session.post(f"{api}/v1/payment-requests", json=body, headers=owner)
            if n:
                creation.append((time.perf_counter() - started) * 1000)
            created.append(response.json()["payment"])
        confirm = []
        for payment in created[: max(5, rounds // 3)]:
            started = time.perf_counter()
            session.post(
                f"{runtime.stripe.url}/_fake/checkout/sessions/"
                f"{payment['checkout_session_id']}/complete",
                json={},
            )
            path = f"{api}/v1/payments/{payment['id']}"
            while session.get(path, headers=owner).json()["status"] != "succeeded":
                time.sleep(0.01)
            confirm.append((time.perf_counter() - started) * 1000)
        secrets = boto3.client(
            "secretsmanager",
            endpoint_url=runtime.moto_url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        tenant = runtime.seed["tenant_id"]
        secret = json.loads(
            secrets.get_secret_value(SecretId=f"agenthub/dev/stripe/tenants/{tenant}")[
                "SecretString"
            ]
        )["webhook_secret"]
        event = runtime.stripe.events("checkout.session.completed")[0]
        raw = json.dumps(event, indent=2).encode()
        receive = []
        for n in range(rounds + 1):
            headers = {
                "Stripe-Signature": sign(raw, secret, int(time.time())),
                "Content-Type": "application/json",
            }
            started = time.perf_counter()
            answer = session.post(f"{api}/v1/webhooks/stripe/{tenant}", data=raw, headers=headers)
            if n:
                receive.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
        return {
            "creation": _stats(creation),
            "receive": _stats(receive),
            "confirm": _stats(confirm),
            "confirmed": len(confirm),
        }
    finally:
        runtime.stop()


def run(print_fn: Any = print, rounds: int = 150) -> None:
    print_fn("== Payments: own code per payment creation and per webhook ==")
    print_fn("   in process, AWS stubbed, the fake Stripe in another process over loopback")
    path = os.pathsep.join([str(ROOT / "functions"), str(ROOT / "layers/shared/python"), str(ROOT)])
    out = subprocess.run(
        [sys.executable, "-m", "bench.payments", "own", str(rounds)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": path, "PYDANTIC_DISABLE_PLUGINS": "__all__"},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    own_figures = json.loads(out.stdout.strip().splitlines()[-1])
    for name, label in (
        ("creation", "create a payment (1 Stripe POST)"),
        ("receive", "webhook receiver (verify + queue)"),
        ("consume", "webhook consumer (re-fetch + apply)"),
    ):
        figures = own_figures[name]
        print_fn(f"{label:38} wall {figures['wall']}   own CPU {figures['cpu']}")
    calls = own_figures["receiver_calls"] | {
        f"consumer {k}": v for k, v in own_figures["consumer_calls"].items()
    }
    print_fn(
        "AWS calls per webhook (warm): " + ", ".join(f"{k} {v:g}" for k, v in sorted(calls.items()))
    )
    print_fn("Cold imports (fresh process, median of 3):")
    for module, ms in _imports().items():
        print_fn(f"   {module:38} {ms:6.0f} ms")
    print_fn(f"Through the local gateway against the fake Stripe ({rounds} requests):")
    via = _gateway(max(20, rounds // 3))
    print_fn(f"   POST /v1/payment-requests            {via['creation']}")
    print_fn(f"   POST /v1/webhooks/stripe/{{tenant}}    {via['receive']}")
    print_fn(
        f"   paid on Checkout -> succeeded         {via['confirm']}"
        f"  ({via['confirmed']} payments: webhook, gateway, SQS poller, consumer)"
    )
    print_fn("   seed's goal: 400 ms -> 150 ms per payment")


if __name__ == "__main__":
    if sys.argv[1:2] == ["own"]:
        print(json.dumps(own(int(sys.argv[2]) if len(sys.argv) > 2 else 150)))
    else:
        run()
