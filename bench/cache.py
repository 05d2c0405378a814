"""`make bench --only cache`: does memcached (the optional shared L2) beat the DynamoDB item
as the answer cache's L2?

Measured here: memcached get/set round trips with pymemcache against Debian's memcached on
loopback, at the size of a real cached answer; the marginal cost of the DynamoDB item, which
rides in the message's own consistent BatchGetItem and TransactWriteItems (moto in process,
so its milliseconds are moto's, not DynamoDB's: read the calls and the bytes). Priced with
bench/prices.toml. Printed, never asserted.
"""

from __future__ import annotations

import statistics
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import figures

PRICES = Path(__file__).with_name("prices.toml")
_ROOT = Path(__file__).resolve().parents[1]


def code_on_path() -> None:
    """The code under test where Lambda puts it: functions/ and the shared layer."""
    for path in (_ROOT / "layers" / "shared" / "python", _ROOT / "functions"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


ROUNDS = 2000
HIT_RATE = 0.3  # share of messages the answer cache serves (repeated questions); an assumption
HOURS_PER_MONTH = 730


def _answer_bytes() -> bytes:
    from conversations.models import CachedAnswer, CitationView

    text = (
        "We are open Monday to Friday from 8:00 to 18:00 and on Saturday from 9:00 to 13:00 [1]. "
        * 8
    )
    answer = CachedAnswer(
        text=text,
        citations=[
            CitationView(
                index=n,
                document_id=f"doc_{n:016x}",
                chunk_id=f"chk_{n:032x}",
                title="Opening hours and holidays",
                source_url="https://www.example.com/hours",
                file_name=None,
                heading_path=["Practice", "Opening hours"],
                page=None,
            )
            for n in range(1, 4)
        ],
        abstained=False,
        model="amazon.nova-lite-v1:0",
        search_query="are you open on saturday",
    )
    return answer.model_dump_json().encode()


def _timed(operation: Callable[[], Any], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        operation()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return samples


def _p(samples: list[float], q: int) -> float:
    return samples[min(len(samples) - 1, int(len(samples) * q / 100))]


def _memcached(value: bytes) -> dict[str, float]:
    from agenthub.shared_cache import Memcached
    from tests.support.memcached import running_memcached

    with running_memcached() as endpoint:
        host, port = endpoint.rsplit(":", 1)
        client = Memcached(host, int(port), timeout=1.0)
        client.set("agenthub:answer:warm", value, 3600)
        sets = _timed(lambda: client.set("agenthub:answer:bench", value, 3600), ROUNDS)
        gets = _timed(lambda: client.get("agenthub:answer:bench"), ROUNDS)
        assert client.get("agenthub:answer:bench") == value and client.failures == 0
        client.close()
    return {
        "get_p50_ms": statistics.median(gets),
        "get_p99_ms": _p(gets, 99),
        "set_p50_ms": statistics.median(sets),
        "set_p99_ms": _p(sets, 99),
    }


def _dynamodb_item(value: bytes) -> dict[str, float]:
    """BatchGetItem of the message's usual keys with and without the answer item (moto)."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(  # the table's key shape (template.yaml), nothing else needed here
            TableName="bench-cache",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        pk = "TENANT#t#CONV#c"
        items = [
            {"pk": {"S": pk}, "sk": {"S": "CONVERSATION"}, "body": {"S": "x" * 600}},
            {"pk": {"S": pk}, "sk": {"S": "STATE"}, "body": {"S": "x" * 1500}},
            {"pk": {"S": "TENANT#t#ANSWER#a#d"}, "sk": {"S": "ANSWER"}, "answer": {"B": value}},
        ]
        for item in items:
            client.put_item(TableName="bench-cache", Item=item)
        keys = [{"pk": i["pk"], "sk": i["sk"]} for i in items]

        def read(with_answer: bool) -> Callable[[], Any]:
            wanted = keys if with_answer else keys[:2]
            request = {"bench-cache": {"Keys": wanted, "ConsistentRead": True}}
            return lambda: client.batch_get_item(RequestItems=request)

        without, with_item = [], []
        for _ in range(5):  # interleaved, so machine noise hits both alike
            without += _timed(read(False), 100)
            with_item += _timed(read(True), 100)
    return {
        "batch_without_p50_ms": statistics.median(without),
        "batch_with_p50_ms": statistics.median(with_item),
    }


def monthly_fixed_cost(prices: dict[str, Any], azs: int = 2, endpoints: int = 2) -> float:
    """What the shared cache costs before the first request: ElastiCache Serverless bills at
    least 1 GB of memcached data, and functions in a VPC need interface endpoints (Secrets
    Manager, Bedrock) in each AZ; DynamoDB and S3 gateway endpoints are free."""
    cache = prices["elasticache_serverless_memcached"]
    vpc = prices["vpc"]
    storage = cache["minimum_data_gb"] * cache["data_gb_hour"] * HOURS_PER_MONTH
    return storage + azs * endpoints * vpc["interface_endpoint_hour"] * HOURS_PER_MONTH


def per_million_messages(prices: dict[str, Any], value_bytes: int) -> tuple[float, float]:
    """(DynamoDB item, memcached) cost of the answer cache per million messages that miss L1."""
    dynamo = prices["dynamodb"]
    kb = -(-value_bytes // 1024)
    read_units = 1.0  # a consistent read of an item up to 4 KB
    write_units = 2.0 * kb  # a transactional write: 2 units per KB
    item = 1e6 * (
        read_units * dynamo["read_request_unit_per_million"] / 1e6
        + (1 - HIT_RATE) * write_units * dynamo["write_request_unit_per_million"] / 1e6
    )
    ecpu = prices["elasticache_serverless_memcached"]["ecpu_per_million"]
    ecpus = kb * (1 + (1 - HIT_RATE))  # about 1 ECPU per KB moved, per get and set
    return item, 1e6 * ecpus * ecpu / 1e6


def run(print_fn: Callable[[str], None] = print) -> dict[str, float]:
    code_on_path()
    prices = tomllib.loads(PRICES.read_text())
    value = _answer_bytes()
    print_fn(
        f"== Shared L2 for the answer cache: memcached vs the DynamoDB item ({len(value)} B) =="
    )
    memcached = _memcached(value)
    item = _dynamodb_item(value)
    marginal = item["batch_with_p50_ms"] - item["batch_without_p50_ms"]
    print_fn(
        f"memcached (Debian's, loopback, pymemcache): get p50 {memcached['get_p50_ms']:.3f} ms"
        f" p99 {memcached['get_p99_ms']:.3f} ms; set p50 {memcached['set_p50_ms']:.3f} ms"
        f" p99 {memcached['set_p99_ms']:.3f} ms ({ROUNDS} each)"
    )
    print_fn(
        "DynamoDB item: 0 extra calls (it rides in the message's consistent BatchGetItem and,"
        " on a miss, in its TransactWriteItems);"
        f" BatchGetItem p50 {item['batch_without_p50_ms']:.2f} ms without it,"
        f" {item['batch_with_p50_ms']:.2f} ms with it (moto in process: +{marginal:.2f} ms"
        " of parsing, not DynamoDB's latency)"
    )
    print_fn(
        "calls per message that misses L1: DynamoDB item = 1 BatchGetItem + 1"
        " TransactWriteItems (the same two as without a cache); memcached = the same two + 1"
        " get (+ 1 set on a miss), each a network round trip inside the VPC in AWS (not"
        " measurable here), added to the request; the item only adds bytes to calls that"
        " happen anyway"
    )
    item_cost, memcached_cost = per_million_messages(prices, len(value))
    fixed = monthly_fixed_cost(prices)
    saved = item_cost - memcached_cost
    break_even = fixed / saved * 1e6 if saved > 0 else float("inf")
    print_fn(
        f"cost per million messages missing L1 (hit rate {HIT_RATE:.0%}, prices of"
        f" {prices['as_of']}): DynamoDB item ${item_cost:.2f}, memcached ECPUs"
        f" ${memcached_cost:.4f}; memcached's fixed cost ${fixed:.0f}/month (1 GB minimum +"
        f" VPC interface endpoints); break-even at {break_even / 1e6:,.0f} million such"
        " messages a month"
    )
    print_fn(
        "verdict: keep it off by default. For answers it cannot be faster than a read that"
        " already happens (it adds a round trip), it puts the functions in a VPC (endpoints"
        " or NAT, cold starts with ENIs), and it only pays for itself at the volume above."
        " For agent configs the L1 (5 min) already serves warm environments with 0 calls;"
        " memcached saves one GetItem per cold environment. Turn it on (SharedCache=enabled)"
        " for tenants whose traffic is spread over many cold environments at that volume."
    )
    result = {**memcached, **item, "item_cost_per_million": item_cost}
    result.update(
        memcached_cost_per_million=memcached_cost,
        memcached_fixed_month=fixed,
        break_even_messages_month=break_even,
    )
    figures.record("cache", **result)
    return result
