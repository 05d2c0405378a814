"""Gateway throughput: requests per second through the local API Gateway emulation.

    python -m infra.local.bench                      # start a runtime, measure, print JSON
    python -m infra.local.bench --url http://127.0.0.1:3000/v1/... -H 'Authorization: ...'

The load comes from a separate process (keep-alive connections on asyncio, one request in
flight per connection), so the client never shares the gateway's GIL. The default target is the
widget's public agent config: a cached authorizer verdict and the handler's L1 cache, so no AWS
call is made and the figure measures the gateway, the IPC to the worker and the handler.
``benchmark_gateway`` is the function ``make bench`` can call; it returns numbers, it asserts
nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


async def _connection(
    host: str,
    port: int,
    request: bytes,
    stop_at: float,
    latencies: list[float],
    statuses: dict[int, int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _load(
    url: str, headers: dict[str, str], connections: int, duration: float
) -> dict[str, Any]:
    parsed = urlparse(url)
    target = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parsed.netloc}", "Accept: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    started = time.perf_counter()
    stop_at = started + duration
    await asyncio.gather(
        *(
            _connection(
                parsed.hostname or "127.0.0.1",
                parsed.port or 80,
                request,
                stop_at,
                latencies,
                statuses,
            )
            for _ in range(connections)
        )
    )
    elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(p: float) -> float:
        return (
            round(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000, 2)
            if latencies
            else 0.0
        )

    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "rps": round(len(latencies) / elapsed, 1),
        "statuses": statuses,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "connections": connections,
    }


def benchmark_gateway(
    url: str,
    headers: dict[str, str] | None = None,
    *,
    connections: int = 8,
    duration: float = 5.0,
    warmup: float = 1.0,
) -> dict[str, Any]:
    """Measure GET ``url`` from a separate client process; returns rps, latencies, statuses."""
    command = [
        sys.executable,
        "-m",
        "infra.local.bench",
        "client",
        url,
        "--connections",
        str(connections),
        "--duration",
        str(duration),
        "--warmup",
        str(warmup),
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _client(args: argparse.Namespace) -> None:
    headers = dict(h.split(": ", 1) for h in args.header)
    if args.warmup:
        asyncio.run(_load(args.url, headers, args.connections, args.warmup))
    print(json.dumps(asyncio.run(_load(args.url, headers, args.connections, args.duration))))


def _self_hosted(args: argparse.Namespace) -> None:
    """Start the project's runtime (no access log, logs to files), measure its public config."""
    from infra.local.runtime import PROJECT_ROOT, LocalRuntime

    runtime = LocalRuntime(
        api_port=0,
        seed=True,
        log_dir=PROJECT_ROOT / ".local" / "logs" / "bench",
        max_environments=args.max_environments,
    )
    runtime.start()
    try:
        seed = runtime.seed
        if not seed:
            raise SystemExit(f"seeding failed, nothing to measure: {runtime.seed_error}")
        url = f"{runtime.api_url}/v1/public/agents/{seed['agent_id']}/config"
        headers = {
            "Authorization": f"Bearer {seed['publishable_key']}",
            "Origin": seed["allowed_origins"][0],
        }
        result = benchmark_gateway(
            url, headers, connections=args.connections, duration=args.duration, warmup=args.warmup
        )
        result["target"] = "GET /v1/public/agents/{agentId}/config (cached)"
        result["max_environments"] = args.max_environments
        result["cpus"] = os.cpu_count()
        print(json.dumps(result, indent=2))
    finally:
        runtime.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("mode", nargs="?", default="self", choices=["self", "client"])
    parser.add_argument("url", nargs="?")
    parser.add_argument("-H", "--header", action="append", default=[])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--max-environments", type=int, default=2)
    args = parser.parse_args(argv)
    if args.mode == "client":
        _client(args)
    else:
        _self_hosted(args)


if __name__ == "__main__":
    main()
