"""The cost model (bench/cost.py) prices what it is given: one dated price file, every service
of the issue, and a bill that grows with the work done. Its figures are printed by `make bench`,
not asserted here."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from bench import cost

PRICES: dict[str, Any] = tomllib.loads((Path(cost.__file__).with_name("prices.toml")).read_text())
MEMORY = dict.fromkeys(
    (
        "ConversationsApiFunction",
        "AgentsApiFunction",
        "AuthorizerFunction",
        "OutboxRelayFunction",
        "AuditConsumerFunction",
        "IngestionFunction",
        "KnowledgeApiFunction",
    ),
    512,
)


def measured(cpu_ms: float = 2.0, pages_per_s: float = 100.0) -> dict[str, dict[str, Any]]:
    return {
        "routes": {},
        "cold": {"AgentsApiFunction": 600.0, "IngestionFunction": 900.0},
        "conversations": {"cpu_p50_ms": cpu_ms},
        "retrieval": {"ingest_pages_per_s": pages_per_s, "ingest_bytes_per_page": 10_000},
    }


def test_the_price_table_is_dated_and_covers_every_service_of_the_model() -> None:
    assert PRICES["as_of"] and PRICES["region"] == "us-east-1"
    for service in ("lambda", "api_gateway", "dynamodb", "s3", "cloudfront", "sqs", "eventbridge"):
        assert service in PRICES, service


def test_a_conversation_is_billed_for_every_service_it_uses() -> None:
    bill, notes = cost.conversations_bill(PRICES, MEMORY, measured())
    assert set(bill.lines) >= {
        "Lambda",
        "API Gateway",
        "DynamoDB",
        "CloudFront",
        "SQS",
        "EventBridge",
        "S3",
    }
    assert all(dollars >= 0 for dollars in bill.lines.values()) and bill.total > 0
    assert any("conversations section" in note for note in notes)


def test_slower_code_costs_more_lambda_and_faster_ingestion_less() -> None:
    fast, _ = cost.conversations_bill(PRICES, MEMORY, measured(cpu_ms=2.0))
    slow, _ = cost.conversations_bill(PRICES, MEMORY, measured(cpu_ms=200.0))
    assert slow.lines["Lambda"] > fast.lines["Lambda"]
    assert slow.lines["DynamoDB"] == fast.lines["DynamoDB"]
    quick, _ = cost.pages_bill(PRICES, MEMORY, measured(pages_per_s=1000.0))
    sluggish, _ = cost.pages_bill(PRICES, MEMORY, measured(pages_per_s=10.0))
    assert sluggish.lines["Lambda"] > quick.lines["Lambda"]


def test_lambda_is_billed_by_the_millisecond_and_the_gigabyte() -> None:
    one = cost.lambda_cost(PRICES, 1_000_000, 1.2, 1024)
    gb_s = 1_000_000 * 2 / 1000 * 1.0  # 1.2 ms rounds up to 2 ms
    expected = gb_s * PRICES["lambda"]["gb_second"] + PRICES["lambda"]["requests_per_million"]
    assert abs(one - expected) < 1e-9
