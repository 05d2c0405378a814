"""`python -m bench.conversations.model`: abstention with a Bedrock model as the second judge.
It needs Bedrock to run for real; here a scripted Converse client stands in for the model, so
what is checked is the accounting: who is asked, and how each operating point is read."""

from __future__ import annotations

import pytest

from bench.conversations import model as bench_model
from bench.conversations.evaluate import quoted_passages
from conversations.logic.breaker import CircuitBreaker
from conversations.logic.providers import BedrockConverseProvider
from knowledge.logic.search_index import build_index, load_index
from tests.unit.knowledge_index.fixtures import shop_chunks

MODEL = "amazon.nova-lite-v1:0"


class ScriptedModel:
    """A Converse client that replies by the question its prompt ends with (the passages
    may quote another one: the shop's FAQ does)."""

    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = replies
        self.asked: list[str] = []

    def converse(self, **params):
        prompt = params["messages"][-1]["content"][0]["text"]
        question = max(self.replies, key=prompt.rfind)
        self.asked.append(question)
        return {
            "output": {
                "message": {"role": "assistant", "content": [{"text": self.replies[question]}]}
            },
            "stopReason": "end_turn",
            "usage": {"inputTokens": 300, "outputTokens": 20, "totalTokens": 320},
        }


@pytest.fixture(scope="module")
def shop_index():
    return load_index(build_index(shop_chunks()).files())


def cites_shipping(outcome) -> bool:
    return any(p.document_id in {"shipping", "faq"} for p in quoted_passages(outcome))


def test_the_model_judges_past_the_floor_and_both_operating_points_come_from_its_replies(
    shop_index,
):
    client = ScriptedModel(
        {
            "Do you ship abroad?": "We ship to every EU country [1].",
            "What does delivery cost?": "Standard delivery is free above 50 EUR [1].",
            "Can I return items after 30 days?": "NO_ANSWER",
            "How do I configure a PostgreSQL replica?": "It should never be asked.",
        }
    )
    provider = BedrockConverseProvider(
        MODEL, client=client, breaker=CircuitBreaker(failure_threshold=3, cooldown_seconds=5)
    )
    cases = [
        bench_model.Case("Do you ship abroad?", cites_shipping),
        bench_model.Case("What does delivery cost?", cites_shipping),  # the judge says weak
        bench_model.Case("Can I return items after 30 days?", cites_shipping),
        bench_model.Case("How do I configure a PostgreSQL replica?", None, "off-topic"),
    ]
    lines: list[str] = []

    verdicts = bench_model.run(
        MODEL, provider=provider, sets=[("shop", shop_index, cases)], print_fn=lines.append
    )["shop"]

    # Every question past the coverage floor is asked, whatever the lexical judge says
    assert [v.floor_weak for v in verdicts] == [False, False, False, True]
    assert [v.judge_weak for v in verdicts] == [False, True, False, True]
    assert client.asked == [c.question for c in cases[:3]]
    floor_only = bench_model.summarize(verdicts, judged=False)
    shipped = bench_model.summarize(verdicts, judged=True)
    # The model's NO_ANSWER abstains at both points; the judge's verdict only when judged
    assert (floor_only["abstained answerable"], shipped["abstained answerable"]) == (1, 2)
    assert floor_only["abstained off-topic"] == shipped["abstained off-topic"] == 1
    assert (shipped["answerable"], shipped["off-topic"], shipped["unrelated"]) == (3, 1, 0)
    assert (floor_only["answered"], floor_only["holds"]) == (2, 2)
    assert (shipped["answered"], shipped["holds"]) == (1, 1)
    # The service would not have called the model for the question the judge turned away
    assert (floor_only["calls"], shipped["calls"]) == (3, 2)
    assert (shipped["tokens_in"], shipped["tokens_out"]) == (600, 40)
    assert any("judge, then model" in line and " 67% / 100% /  n/a" in line for line in lines)
    assert "per 1,000 messages" in lines[-1]


def test_a_capped_run_keeps_the_first_cases_of_each_kind():
    items = [
        *(bench_model.Case(f"u{i}", None, "unrelated") for i in range(3)),
        *(bench_model.Case(f"a{i}", cites_shipping) for i in range(3)),
        *(bench_model.Case(f"o{i}", None, "off-topic") for i in range(3)),
    ]
    assert [c.question for c in bench_model.limited(items, 2)] == [
        *("a0", "a1"),
        *("o0", "o1"),
        *("u0", "u1"),
    ]
    assert bench_model.limited(items, None) == items
