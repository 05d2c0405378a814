"""Abstention with a generative model as the second judge (needs Amazon Bedrock):

    .venv/bin/python -m bench.conversations.model MODEL_ID [--region us-east-1] [--per-set N]

The lexical judge (`_answer_judge`, `python -m bench --only judge`) decides before any model
is called; with a Bedrock model the model then decides again (rule 4 of the prompt: reply
NO_ANSWER when the documents do not contain the answer). `make bench` measures only the
first, offline. This command measures both, on the same sets as `--only conversations`
(every corpus's generated questions, off-topic ones from the other corpora's domains and
from unrelated documentation, and the team's hand-written PostgreSQL questions), each
question searched and answered as the service does it:

- judge alone: what the service abstains on without calling a model;
- model after the coverage floor only: the model judges every question with a passage that
  covers >= 40% of its terms (the lexical judge switched off);
- judge, then model: what the service does with this model (both must say "answerable").

The model is called once per question that passes the coverage floor, and both operating
points are read from those calls. Prints, per set, abstention on each kind of question, the
share of answered answerable questions whose cited passages hold the
section's text, calls, tokens and (for models in bench/prices.toml) the model's cost.
Not part of `make bench`: it needs AWS credentials with access to the model (no network
there), and costs money (about 1,000 calls for the whole run; `--per-set` caps it).
"""

from __future__ import annotations

import argparse
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.conversations.evaluate import K, Outcome, quoted_passages

PRICES = Path(__file__).resolve().parents[1] / "prices.toml"
PrintFn = Callable[..., None]
Holds = Callable[[Outcome], bool]
KINDS = ("answerable", "off-topic", "unrelated")


@dataclass(frozen=True)
class Case:
    question: str
    holds: Holds | None  # do the cited passages hold its answer? (None unless answerable)
    kind: str = "answerable"  # one of KINDS


@dataclass
class Verdict:
    judge_weak: bool  # the service abstains without calling a model
    floor_weak: bool  # no passage covers enough of the question: never sent to a model
    outcome: Outcome | None  # the model's answer, when the coverage floor let it through
    kind: str
    holds: bool = False  # answerable, answered by the model, cited passages hold the answer

    def abstains(self, *, judged: bool) -> bool:
        """Abstention with the lexical judge first (`judged`) or the coverage floor only."""
        if self.floor_weak or (judged and self.judge_weak):
            return True
        return self.outcome is None or self.outcome.answer.abstained


def persona(model_id: str) -> Any:
    from conversations.logic.answering import AgentPersona

    return AgentPersona(
        name="Documentation assistant",
        instructions="You answer visitors' questions from this website's documentation.",
        model=model_id,
        temperature=0.0,
    )


def judge_case(index: Any, case: Case, provider: Any, model_id: str) -> Verdict:
    """One question, searched as the service searches it; the model is asked whenever the
    coverage floor lets the question through, whatever the lexical judge says."""
    from conversations.logic import answering

    query = answering.retrieval_query(case.question, [])
    passages = answering.passages_from_hits(index.search(query, k=K))
    floor_weak = answering.is_weak(query, passages, answerability_threshold=0.0)
    verdict = Verdict(
        judge_weak=answering.is_weak(query, passages),
        floor_weak=floor_weak,
        outcome=None,
        kind=case.kind,
    )
    if not floor_weak:
        result = answering.answer(
            case.question, passages, [], persona(model_id), provider, answerability_threshold=0.0
        )
        verdict.outcome = Outcome(passages, result, 0.0, 0.0)
        if case.kind == "answerable" and case.holds is not None and not result.abstained:
            verdict.holds = case.holds(verdict.outcome)
    return verdict


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:3.0f}%" if whole else " n/a"


def summarize(verdicts: Sequence[Verdict], *, judged: bool) -> dict[str, int]:
    """Per kind: how many and how many abstain; answered answerable ones and how many of them
    cite a passage holding the answer; the model calls the operating point makes."""
    answered = [v for v in verdicts if v.kind == "answerable" and not v.abstains(judged=judged)]
    calls = [v for v in verdicts if v.outcome is not None and not (judged and v.judge_weak)]
    return {
        **{kind: sum(v.kind == kind for v in verdicts) for kind in KINDS},
        **{
            f"abstained {kind}": sum(v.abstains(judged=judged) for v in verdicts if v.kind == kind)
            for kind in KINDS
        },
        "answered": len(answered),
        "holds": sum(v.holds for v in answered),
        "calls": len(calls),
        "tokens_in": sum(v.outcome.answer.tokens_in for v in calls if v.outcome),
        "tokens_out": sum(v.outcome.answer.tokens_out for v in calls if v.outcome),
    }


def _rates(counts: dict[str, int]) -> str:
    return " / ".join(_pct(counts[f"abstained {kind}"], counts[kind]) for kind in KINDS)


def report(name: str, verdicts: Sequence[Verdict], print_fn: PrintFn = print) -> None:
    judge_only = {
        **{kind: sum(v.kind == kind for v in verdicts) for kind in KINDS},
        **{
            f"abstained {kind}": sum(v.judge_weak for v in verdicts if v.kind == kind)
            for kind in KINDS
        },
    }
    print_fn(f"   {name:28} {'judge alone':22} {_rates(judge_only)}")
    for label, judged in (("model after the floor", False), ("judge, then model", True)):
        s = summarize(verdicts, judged=judged)
        print_fn(
            f"   {'':28} {label:22} {_rates(s)};"
            f" cited holds {_pct(s['holds'], s['answered'])} of answered;"
            f" {s['calls']} calls, {s['tokens_in']:,} tokens in, {s['tokens_out']:,} out"
        )


def cost_line(model_id: str, verdicts: Sequence[Verdict]) -> str:
    prices = tomllib.loads(PRICES.read_text())["bedrock"]
    s = summarize(verdicts, judged=True)
    if model_id not in prices or not s["calls"]:
        return f"   {model_id}: no price in bench/prices.toml (or no calls)"
    per_in, per_out = prices[model_id]
    per_message = (s["tokens_in"] * per_in + s["tokens_out"] * per_out) / 1000 / len(verdicts)
    return (
        f"   {model_id} as shipped (judge, then model): ${1000 * per_message:.3f} per 1,000"
        f" messages of this mix ({s['calls']} calls for {len(verdicts)} messages)"
    )


def cases() -> list[tuple[str, Any, list[Case]]]:
    """(name, index, cases) for every corpus of the conversations bench and the team set."""
    from bench.conversations.evaluate import cited_hold
    from bench.retrieval import corpus, suite
    from bench.retrieval import evaluate as retrieval_bench
    from knowledge.logic import search_index

    def corpus_holds(q: Any) -> Holds:
        return lambda o: (
            suite.judge(q, [(p.document_id, p.text) for p in quoted_passages(o)]) is not None
        )

    def team_holds(q: Any) -> Holds:
        return lambda o: cited_hold(o, q.file, q.answer)

    out = []
    for name, p in suite.prepare_all().items():
        index = search_index.load_index(search_index.build_index(p.chunks).files())
        out.append(
            (
                name,
                index,
                [Case(q.question, corpus_holds(q)) for q in p.set.questions]
                + [Case(text, None, "off-topic") for text in p.off_topic]
                + [Case(text, None, "unrelated") for text in p.unrelated],
            )
        )
    questions, unanswerable = retrieval_bench.load_questions()
    chunks, _, _ = retrieval_bench.ingest_corpus(corpus.html_files())
    index = search_index.load_index(search_index.build_index(chunks).files())
    out.append(
        (
            "postgresql (team)",
            index,
            [Case(q.question, team_holds(q)) for q in questions]
            + [Case(text, None, "off-topic") for text in unanswerable],
        )
    )
    return out


def limited(items: list[Case], per_set: int | None) -> list[Case]:
    """At most `per_set` cases of each kind, in their order."""
    if per_set is None:
        return items
    return [c for kind in KINDS for c in [c for c in items if c.kind == kind][:per_set]]


def run(
    model_id: str,
    *,
    provider: Any = None,
    per_set: int | None = None,
    sets: list[tuple[str, Any, list[Case]]] | None = None,
    print_fn: PrintFn = print,
) -> dict[str, list[Verdict]]:
    from conversations.logic import answering

    provider = provider or answering.provider_for(model_id)
    print_fn(f"\n== Abstention with {model_id} as the second judge ==")
    print_fn(
        "   abstention on answerable / off-topic / unrelated questions"
        " (goal <= 10% / >= 90% / >= 90%)"
    )
    out: dict[str, list[Verdict]] = {}
    for name, index, items in sets if sets is not None else cases():
        out[name] = [judge_case(index, c, provider, model_id) for c in limited(items, per_set)]
        report(name, out[name], print_fn)
    print_fn(cost_line(model_id, [v for vs in out.values() for v in vs]))
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_id", help="a Bedrock model id, e.g. amazon.nova-lite-v1:0")
    parser.add_argument("--region", help="the Bedrock region (default: the AWS profile's)")
    parser.add_argument("--per-set", type=int, help="at most N questions of each kind")
    args = parser.parse_args(argv)
    import boto3

    if boto3.session.Session().get_credentials() is None:
        parser.exit(2, "needs AWS credentials with access to the model in Amazon Bedrock\n")
    from conversations.logic import answering, providers

    client = providers.make_bedrock_client(args.region)
    run(
        args.model_id,
        provider=answering.provider_for(args.model_id, bedrock_client=client),
        per_set=args.per_set,
    )


if __name__ == "__main__":
    main()
