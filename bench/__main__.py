"""`make bench`: cold init per function beside reference stacks, warm time and AWS calls per
request for every route, and the local gateway's throughput. Figures are printed, never
asserted; run it on a quiet machine and compare ratios measured in the same run."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench import figures, scenarios

ROOT = Path(__file__).resolve().parent.parent
# What Lambda sets; Powertools' Tracer patches clients only when it believes it runs in Lambda.
LAMBDA_ENV = {
    "LAMBDA_TASK_ROOT": "/var/task",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "_X_AMZN_TRACE_ID": (
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    ),
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
}
REFERENCE = ("eager reference", "bench.reference_handler", "GET /v1/agents/{agentId}")
FLOOR = ("floor (botocore+pydantic+resolver)", "bench.floor_handler", "GET /v1/agents/{agentId}")


def run_environment(module: str, route: str, warm: int) -> dict:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))},
        **scenarios.ENV,
        **LAMBDA_ENV,
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "functions"), str(ROOT / "layers/shared/python"), str(ROOT)]
        ),
    }
    out = subprocess.run(
        [sys.executable, "-m", "bench.cold", module, route, str(warm)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_start(rounds: int) -> None:
    print(f"\n== Cold init: fresh process, import + first invocation (median of {rounds}) ==")
    print("   AWS stubbed in process; awscrt and pyOpenSSL hidden (absent from Lambda's runtime)")
    subjects = [REFERENCE, FLOOR]
    seen: set[str] = set()
    for route in scenarios.routes():
        if route.function not in seen:
            seen.add(route.function)
            subjects.append((route.function, route.module, route.name))
    samples: dict[str, list[dict]] = {name: [] for name, _, _ in subjects}
    for _ in range(rounds):  # interleaved, so machine noise hits every subject alike
        for name, module, route_name in subjects:
            samples[name].append(run_environment(module, route_name, warm=0))
    ref = statistics.median(s["cold_ms"] for s in samples[REFERENCE[0]])
    floor = statistics.median(s["cold_ms"] for s in samples[FLOOR[0]])
    print(
        f"{'function':36} {'import':>8} {'1st call':>9} {'cold':>8} {'vs ref':>7}"
        f" {'vs floor':>8}  X-Ray SDK"
    )
    for name, _, _ in subjects:
        runs = samples[name]
        cold = statistics.median(r["cold_ms"] for r in runs)
        imp = statistics.median(r["import_ms"] for r in runs)
        first = statistics.median(r["first_invoke_ms"] for r in runs)
        figures.record("cold", **{name: cold})
        xray = "loaded" if runs[0]["xray_sdk_loaded"] else "not loaded"
        print(
            f"{name:36} {imp:7.0f}ms {first:8.0f}ms {cold:7.0f}ms {cold / ref:6.2f}x"
            f" {cold / floor:7.2f}x  {xray}"
        )


def warm_and_calls(warm: int) -> None:
    print(f"\n== Per route: own code per warm request (AWS stubbed, {warm} requests) ==")
    print("   AWS calls: first request in a fresh environment / a warm request")
    print(f"{'route':46} {'status':>6} {'p50':>8} {'p99':>8}  calls (cold) / calls (warm)")
    for route in scenarios.routes():
        result = run_environment(route.module, route.name, warm)
        figures.record(
            "routes",
            **{
                route.name: {
                    "function": route.function,
                    "warm_p50_ms": result["warm_p50_ms"],
                    "warm_calls": result["warm_calls"],
                    "cold_calls": result["cold_calls"],
                }
            },
        )
        print(
            f"{route.name:46} {result['status']!s:>6} {result['warm_p50_ms']:6.2f}ms"
            f" {result['warm_p99_ms']:6.2f}ms  {_calls(result['cold_calls'])} / "
            f"{_calls(result['warm_calls'])}"
        )


def gateway() -> None:
    """Requests per second through the local API Gateway emulation (its own process) on the
    widget's cached public config, from a client in a separate process."""
    print("\n== Local gateway: GET /v1/public/agents/{agentId}/config, cached (8 connections) ==")
    done = subprocess.run(
        [sys.executable, "-m", "infra.local.bench", "--duration", "8"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout[done.stdout.index("{") :])
    print(
        f"{result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms,"
        f" statuses {result['statuses']}, {result['cpus']} CPUs,"
        f" {result['max_environments']} environments"
    )


def _calls(calls: dict[str, int]) -> str:
    if not calls:
        return "0"
    return " + ".join(f"{n} {op}" for op, n in sorted(calls.items()))


def run_domain_sections(only: str | None) -> None:
    """The sections added later (the answerability judge, scheduling, usage), imported when
    run."""
    import importlib

    for name, module in (
        ("judge", "bench.conversations.judge"),
        ("scheduling", "bench.scheduling"),
        ("usage", "bench.usage"),
    ):
        if only in (None, name):
            importlib.import_module(module).run(print_fn=print)


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes per function")
    parser.add_argument("--warm", type=int, default=300, help="warm requests per route")
    parser.add_argument(
        "--only",
        choices=[
            "cold",
            "routes",
            "gateway",
            "messages",
            "ingestion",
            "retrieval",
            "conversations",
            "judge",
            "widget",
            "payments",
            "scheduling",
            "cache",
            "cost",
            "usage",
        ],
        help="run one section only",
    )
    args = parser.parse_args()
    if args.only in (None, "cold"):
        cold_start(args.rounds)
    if args.only in (None, "routes"):
        warm_and_calls(args.warm)
    if args.only in (None, "gateway"):
        gateway()
    if args.only in (None, "messages"):
        from bench.message_latency import run as run_messages

        run_messages(print_fn=print)
    if args.only in (None, "ingestion"):
        from bench.ingestion import run as run_ingestion

        run_ingestion(print_fn=print)
    if args.only in (None, "retrieval"):
        from bench.retrieval import run

        print()
        figures.record("retrieval", **run(print_fn=print))
    if args.only in (None, "conversations"):
        from bench.conversations import run as run_conversations

        print()
        figures.record("conversations", **run_conversations(print_fn=print))
    if args.only in (None, "widget"):
        from bench.widget import run as run_widget

        print()
        run_widget(print_fn=print)
    if args.only in (None, "payments"):
        from bench.payments import run as run_payments

        print()
        run_payments(print_fn=print)
    run_domain_sections(args.only)
    if args.only in (None, "cache"):
        from bench.cache import run as run_cache

        print()
        run_cache(print_fn=print)
    if args.only in (None, "cost"):
        from bench.cost import run as run_cost

        print()
        run_cost(print_fn=print)
    figures.save()


if __name__ == "__main__":
    main()
