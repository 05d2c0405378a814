"""`make bench --only cost`: AWS cost per 1,000 conversations and per 1,000 indexed pages,
from the figures the other sections measured (durations, AWS calls per request, ingestion
pages per second, cold init), the memory sizes in template.yaml and the prices in
bench/prices.toml (one file, one date). LLM tokens are priced apart.

What is measured and what is assumed is printed beside each figure. The assumptions (the
shape of a conversation, DynamoDB's latency from Lambda, item sizes, hit rates) are constants
below: change them, not the code. Printed, never asserted.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import figures

PRICES = Path(__file__).with_name("prices.toml")
HOURS_PER_MONTH = 730

# ---- workload assumptions (not measured here)
MESSAGES_PER_CONVERSATION = 4
ANSWER_CACHE_HIT_RATE = 0.3
CONFIG_EDGE_HIT_RATE = 0.9  # CloudFront keeps a public config 15 min per key and Origin
AUTHORIZER_CALLS_PER_CONVERSATION = 0.2  # verdicts cached 60 s per key and Origin, per site
WIDGET_ASSET_REQUESTS = 3  # widget.js + hashed ui js/css (browser cache aside)
WIDGET_BYTES = 10_100  # loader + UI gzipped (widget section: 3.6 KB + 6.5 KB)
RESPONSE_BYTES = 2_000
AWS_CALL_MS = 8.0  # one DynamoDB call from Lambda, typical; our bench stubs AWS out
COLD_START_SHARE = 0.01  # invocations that start an environment (billed init since 2025)
BEDROCK_WAIT_MS = 1_500.0  # generation time a function waits for, per model answer
PROMPT_TOKENS, ANSWER_TOKENS = 1_500, 200
PAGES_PER_DOCUMENT = 10
LOG_BYTES_PER_INVOCATION = 600

# DynamoDB request units per operation, from the code's item shapes (see the modules named)
RRU_PER_MESSAGE = 5.0  # conversations.dal.read_turn: consistent BatchGetItem of ~5 items <4 KB
WRU_PER_MESSAGE_MISS = 2 * 10  # record_turn: transaction, ~10 KB of items (msgs, state,
# counters, the cache entry, the outbox item), 2 units per KB
WRU_PER_MESSAGE_HIT = 2 * 8
WRU_PER_START = 2 * 4  # header, state, visitor counter, outbox item
WRU_PER_AUDIT_ENTRY = 2  # conditional put of ~1 KB + its gsi1 copy
WRU_PER_DOCUMENT = 2 * 2 * 4  # four status transitions, each a transaction of ~2 KB
RRU_PER_DOCUMENT = 4
S3_PUTS_PER_DOCUMENT = 4  # the upload, its chunks, the index version's files
S3_GETS_PER_DOCUMENT = 3


@dataclass
class Bill:
    lines: dict[str, float]

    def add(self, service: str, dollars: float) -> None:
        self.lines[service] = self.lines.get(service, 0.0) + dollars

    @property
    def total(self) -> float:
        return sum(self.lines.values())


def lambda_cost(prices: dict[str, Any], invocations: float, ms: float, memory_mb: int) -> float:
    billed_ms = math.ceil(ms)  # 1 ms granularity
    gb_s = invocations * billed_ms / 1000 * memory_mb / 1024
    lam = prices["lambda"]
    return gb_s * lam["gb_second"] + invocations * lam["requests_per_million"] / 1e6


def _memory() -> dict[str, int]:
    from infra.ops.template_view import TemplateView, load

    return {f.logical_id: f.memory_mb for f in TemplateView(load()).functions}


def _route(routes: dict[str, Any], name: str, default_ms: float) -> tuple[float, float]:
    """(own warm ms, AWS calls) of a route the routes section measured."""
    found = routes.get(name) or {}
    calls = sum((found.get("warm_calls") or {}).values())
    return float(found.get("warm_p50_ms", default_ms)), float(calls)


def conversations_bill(
    prices: dict[str, Any], memory: dict[str, int], measured: dict[str, dict[str, Any]]
) -> tuple[Bill, list[str]]:
    n = 1000.0
    bill = Bill({})
    notes = []
    routes, cold = measured["routes"], measured["cold"]
    messages = n * MESSAGES_PER_CONVERSATION
    misses = messages * (1 - ANSWER_CACHE_HIT_RATE)
    cpu_ms = float(measured["conversations"].get("cpu_p50_ms", 2.0))
    message_ms = cpu_ms + 2 * AWS_CALL_MS
    notes.append(
        f"message: own CPU p50 {cpu_ms:.1f} ms (conversations section) + 2 DynamoDB calls x"
        f" {AWS_CALL_MS:.0f} ms (assumed) = {message_ms:.0f} ms at"
        f" {memory['ConversationsApiFunction']} MB"
    )
    config_ms, config_calls = _route(routes, "GET /v1/public/agents/{agentId}/config", 0.1)
    start_ms = 5.0 + 2 * AWS_CALL_MS  # one read of the agent (L1) + one transaction
    config_requests = n * (1 - CONFIG_EDGE_HIT_RATE)
    api_requests = config_requests + n + messages
    lam = lambda_cost(
        prices, messages, message_ms, memory["ConversationsApiFunction"]
    ) + lambda_cost(prices, n, start_ms, memory["ConversationsApiFunction"])
    lam += lambda_cost(
        prices, config_requests, config_ms + config_calls * AWS_CALL_MS, memory["AgentsApiFunction"]
    )
    authorizer_ms, _ = _route(routes, "authorize pk_", 0.5)
    lam += lambda_cost(
        prices,
        n * AUTHORIZER_CALLS_PER_CONVERSATION,
        authorizer_ms + AWS_CALL_MS,
        memory["AuthorizerFunction"],
    )
    events = n * (1 + MESSAGES_PER_CONVERSATION)  # ConversationStarted, MessageAnswered
    lam += lambda_cost(prices, events / 10, 5 + AWS_CALL_MS, memory["OutboxRelayFunction"])
    lam += lambda_cost(prices, events / 10, 10 + 10 * AWS_CALL_MS, memory["AuditConsumerFunction"])
    cold_of = next(
        (name for name in ("ConversationsApiFunction", "AgentsApiFunction") if name in cold), None
    )
    cold_ms = float(cold[cold_of]) if cold_of else 700.0
    lam += lambda_cost(
        prices, (messages + n) * COLD_START_SHARE, cold_ms, memory["ConversationsApiFunction"]
    )
    notes.append(
        f"cold starts: {COLD_START_SHARE:.0%} of calls (assumed) x {cold_ms:.0f} ms init"
        f" ({cold_of or 'default'}, cold section; the conversations function has no cold"
        " scenario of its own; its index load comes on top) billed"
    )
    bill.add("Lambda", lam)
    bill.add("API Gateway", api_requests * prices["api_gateway"]["requests_per_million"] / 1e6)
    dynamo = prices["dynamodb"]
    wru = (
        n * WRU_PER_START
        + misses * WRU_PER_MESSAGE_MISS
        + (messages - misses) * WRU_PER_MESSAGE_HIT
        + events * WRU_PER_AUDIT_ENTRY
    )
    rru = messages * RRU_PER_MESSAGE + n * 2
    bill.add(
        "DynamoDB",
        wru * dynamo["write_request_unit_per_million"] / 1e6
        + rru * dynamo["read_request_unit_per_million"] / 1e6,
    )
    cold_environments = (messages + n) * COLD_START_SHARE
    bill.add("S3", cold_environments * 2 * prices["s3"]["get_per_thousand"] / 1000)
    edge_requests = n * (WIDGET_ASSET_REQUESTS + 1) + n + messages
    transfer_gb = n * (WIDGET_BYTES + (1 + 1 + MESSAGES_PER_CONVERSATION) * RESPONSE_BYTES) / 1e9
    cf = prices["cloudfront"]
    bill.add(
        "CloudFront",
        edge_requests * cf["https_requests_per_10k"] / 1e4 + transfer_gb * cf["transfer_out_gb"],
    )
    # EventBridge delivers each event to the audit queue: send, receive and delete in batches
    bill.add("SQS", events * (1 + 2 / 10) * prices["sqs"]["requests_per_million"] / 1e6)
    bill.add("EventBridge", events * prices["eventbridge"]["custom_events_per_million"] / 1e6)
    invocations = messages + n + config_requests + events / 5
    bill.add(
        "CloudWatch Logs",
        invocations * LOG_BYTES_PER_INVOCATION / 1e9 * prices["cloudwatch"]["logs_ingested_gb"],
    )
    notes.append(
        f"a conversation: {MESSAGES_PER_CONVERSATION} messages, answer cache hit"
        f" {ANSWER_CACHE_HIT_RATE:.0%}, config from CloudFront {CONFIG_EDGE_HIT_RATE:.0%}"
        " (assumed); DynamoDB units from the code's item shapes"
    )
    return bill, notes


def pages_bill(
    prices: dict[str, Any], memory: dict[str, int], measured: dict[str, dict[str, Any]]
) -> tuple[Bill, list[str]]:
    pages = 1000.0
    documents = pages / PAGES_PER_DOCUMENT
    bill = Bill({})
    retrieval = measured["retrieval"]
    pps = float(retrieval.get("ingest_pages_per_s", 100.0))
    ingest_ms_per_document = PAGES_PER_DOCUMENT / pps * 1000 + 6 * AWS_CALL_MS
    cold_ms = float(measured["cold"].get("IngestionFunction", 700.0))
    lam = lambda_cost(prices, documents, ingest_ms_per_document, memory["IngestionFunction"])
    lam += lambda_cost(prices, documents * 0.05, cold_ms, memory["IngestionFunction"])
    lam += lambda_cost(prices, documents, 5 + 2 * AWS_CALL_MS, memory["KnowledgeApiFunction"])
    events = documents * 2  # DocumentCreated, DocumentIndexed
    lam += lambda_cost(prices, events / 10, 10 + 10 * AWS_CALL_MS, memory["AuditConsumerFunction"])
    bill.add("Lambda", lam)
    bill.add("API Gateway", documents * prices["api_gateway"]["requests_per_million"] / 1e6)
    dynamo = prices["dynamodb"]
    bill.add(
        "DynamoDB",
        (documents * WRU_PER_DOCUMENT + events * WRU_PER_AUDIT_ENTRY)
        * dynamo["write_request_unit_per_million"]
        / 1e6
        + documents * RRU_PER_DOCUMENT * dynamo["read_request_unit_per_million"] / 1e6,
    )
    s3 = prices["s3"]
    bill.add(
        "S3",
        documents * S3_PUTS_PER_DOCUMENT * s3["put_per_thousand"] / 1000
        + documents * S3_GETS_PER_DOCUMENT * s3["get_per_thousand"] / 1000,
    )
    bill.add(
        "SQS",
        documents * (3 + events / documents * 1.2) * prices["sqs"]["requests_per_million"] / 1e6,
    )
    bill.add("EventBridge", events * prices["eventbridge"]["custom_events_per_million"] / 1e6)
    notes = [
        f"ingestion: {pps:.0f} pages/s on one core (retrieval section) at"
        f" {memory['IngestionFunction']} MB (one vCPU) = {ingest_ms_per_document:.0f} ms per"
        f" {PAGES_PER_DOCUMENT}-page document incl. {6 * AWS_CALL_MS:.0f} ms of AWS calls"
        " (assumed)",
    ]
    return bill, notes


def llm_costs(prices: dict[str, Any], measured: dict[str, dict[str, Any]]) -> list[str]:
    answers = 1000 * MESSAGES_PER_CONVERSATION * (1 - ANSWER_CACHE_HIT_RATE)
    lines = []
    for model, (per_in, per_out) in prices["bedrock"].items():
        if per_out == 0:
            continue
        dollars = answers * (PROMPT_TOKENS * per_in + ANSWER_TOKENS * per_out) / 1000
        waited = answers * BEDROCK_WAIT_MS / 1000 * 1.0 * prices["lambda"]["gb_second"]
        lines.append(
            f"{model}: ${dollars:.2f} per 1,000 conversations ({answers:,.0f} answers x"
            f" {PROMPT_TOKENS:,} in / {ANSWER_TOKENS} out tokens) + ${waited:.2f} of Lambda"
            f" waiting {BEDROCK_WAIT_MS / 1000:.1f} s per answer at 1 GB"
        )
    retrieval = measured["retrieval"]
    bytes_per_page = float(retrieval.get("ingest_bytes_per_page", 14_000))
    tokens = 1000 * bytes_per_page / 4  # ~4 characters a token; HTML markup is parsed away
    per_in, _ = prices["bedrock"]["amazon.titan-embed-text-v2:0"]
    lines.append(
        f"Titan embeddings v2 (EmbeddingProvider=bedrock): ${tokens * per_in / 1000:.3f} per"
        f" 1,000 pages (~{tokens / 1000:,.0f}k tokens, an upper bound from raw page bytes)"
    )
    return lines


def fixed_monthly(prices: dict[str, Any]) -> list[str]:
    from infra.ops.template_view import TemplateView, load

    view = TemplateView(load())
    template = view.template
    alarms = view.of_type("AWS::CloudWatch::Alarm")
    alarm_metrics = sum(
        max(1, len([m for m in a["Properties"].get("Metrics", []) if "MetricStat" in m]))
        for a in alarms.values()
    )
    cw = prices["cloudwatch"]
    metrics = len(view.business_metrics) + sum(len(t) for t in view.domain_events.values())
    metrics += 2 * len(view.functions)  # ServerErrors per function and live version
    lam = prices["lambda"]
    hot = [
        f
        for f in view.functions
        if f.logical_id in ("AuthorizerFunction", "AgentsApiFunction", "ConversationsApiFunction")
    ]
    gb = sum(f.memory_mb for f in hot) / 1024
    business = int(template["Parameters"]["HotPathBusinessHoursConcurrency"]["Default"])
    busy_hours = 12 * 22
    pc = (
        gb
        * 3600
        * lam["provisioned_gb_second"]
        * (business * busy_hours + 1 * (HOURS_PER_MONTH - busy_hours))
    )
    return [
        f"alarms: {len(alarms)} reading {alarm_metrics} metrics:"
        f" ${alarm_metrics * cw['alarm_metric_month']:.2f}",
        f"dashboard: ${cw['dashboard_month']:.2f}; custom metrics (~{metrics}):"
        f" ${metrics * cw['custom_metric_month']:.2f}",
        f"provisioned concurrency (prod, ProvisionedConcurrency=enabled): 3 functions,"
        f" {gb:.2f} GB together, {business} each in business hours (12 h x 22 days), 1 off"
        f" hours: ${pc:.2f} (before the cheaper duration rate of the calls it serves)",
    ]


def run(print_fn: Callable[[str], None] = print) -> dict[str, float]:
    from bench.cache import code_on_path

    code_on_path()
    prices = tomllib.loads(PRICES.read_text())
    measured: dict[str, dict[str, Any]] = {}
    sources = []
    for section in ("routes", "cold", "conversations", "retrieval"):
        measured[section], where = figures.get(section)
        sources.append(f"{section}: {where}")
    memory = _memory()
    print_fn(
        f"== Cost model: AWS list prices of {prices['as_of']} ({prices['region']}),"
        " bench/prices.toml =="
    )
    print_fn(
        "   measured figures from: "
        + "; ".join(sources)
        + " (missing: a default stands in; run the full `make bench`)"
    )
    result: dict[str, float] = {}
    for title, (bill, notes) in (
        ("per 1,000 conversations", conversations_bill(prices, memory, measured)),
        ("per 1,000 indexed pages", pages_bill(prices, memory, measured)),
    ):
        print_fn(f"\n   AWS {title}: ${bill.total:.3f}")
        for service, dollars in sorted(bill.lines.items(), key=lambda kv: -kv[1]):
            print_fn(f"     {service:16} ${dollars:8.4f}  {100 * dollars / bill.total:4.0f}%")
        for note in notes:
            print_fn(f"     - {note}")
        result[title] = bill.total
    print_fn("\n   LLM tokens, apart (offline default: the extractive answerer costs none):")
    for line in llm_costs(prices, measured):
        print_fn(f"     {line}")
    print_fn("\n   fixed a month, whatever the traffic:")
    for line in fixed_monthly(prices):
        print_fn(f"     {line}")
    figures.record(
        "cost",
        per_1000_conversations=result["per 1,000 conversations"],
        per_1000_pages=result["per 1,000 indexed pages"],
    )
    return result
