"""``make dev``: run the local runtime until Ctrl+C.

    python -m infra.local [--port 3000] [--param Stage=dev] [--authorizer-ttl 0] [--no-seed]

Every option also reads an environment variable (LOCAL_PORT, LOCAL_AUTHORIZER_TTL, ...), so
``make dev`` can be tuned without editing the Makefile.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Any

from infra.local.environment import parse_env_overrides
from infra.local.runtime import DEFAULT_STATE_FILE, PROJECT_ROOT, LocalRuntime


def _env_int(name: str, default: int | None) -> int | None:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--template", default=str(PROJECT_ROOT / "template.yaml"))
    parser.add_argument("--host", default=os.environ.get("LOCAL_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=_env_int("LOCAL_PORT", 3000))
    parser.add_argument("--moto-port", type=int, default=_env_int("LOCAL_MOTO_PORT", 0))
    parser.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="template parameter"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="[FUNCTION.]NAME=VALUE",
        help="local-only environment variable for one function (or all, without FUNCTION.)",
    )
    parser.add_argument(
        "--authorizer-ttl",
        type=int,
        default=_env_int("LOCAL_AUTHORIZER_TTL", None),
        help="override every authorizer's ReauthorizeEvery (0 = no cache)",
    )
    parser.add_argument(
        "--max-environments", type=int, default=_env_int("LOCAL_MAX_ENVIRONMENTS", 4)
    )
    parser.add_argument(
        "--sqs-retry-delay",
        type=float,
        default=float(os.environ.get("LOCAL_SQS_RETRY_DELAY", "1.0")),
        help="seconds before a failed SQS message is visible again",
    )
    parser.add_argument("--no-seed", action="store_true", help="do not create demo data")
    parser.add_argument(
        "--widget-port",
        type=int,
        default=_env_int("LOCAL_WIDGET_PORT", 3001),
        help="the widget's CloudFront (loader, UI files, public API); -1 = off",
    )
    parser.add_argument(
        "--demo-port",
        type=int,
        default=_env_int("LOCAL_DEMO_PORT", 8080),
        help="a customer's page embedding the widget (another origin); -1 = off",
    )
    parser.add_argument(
        "--stripe-port",
        type=int,
        default=_env_int("LOCAL_STRIPE_PORT", 12111),
        help="the fake Stripe the payments functions call; -1 = off",
    )
    parser.add_argument("--prewarm", action="store_true", help="start every function at boot")
    parser.add_argument("--no-reload", action="store_true", help="keep environments on code edits")
    parser.add_argument("--log-dir", default=os.environ.get("LOCAL_LOG_DIR"), help="function logs")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    parser.add_argument("--state-file", default=str(DEFAULT_STATE_FILE))
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def _parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--param expects KEY=VALUE, got {pair!r}")
        parameters[key] = value
    return parameters


def banner(summary: dict[str, Any]) -> str:
    """The start-up summary a developer reads."""
    seed = summary.get("seed") or {}
    lines = [
        "",
        "AgentHub local runtime (no Docker)",
        f"  API              {summary['api_url']}",
        f"  Swagger UI       {summary['docs_url']}",
        f"  Control          {summary['control_url']}",
        f"  moto (AWS)       {summary['moto_url']}",
        f"  admin token      {summary['admin_token']}",
    ]
    if seed:
        lines += [
            f"  demo tenant      {seed['tenant_id']}",
            f"  owner key        {seed['owner_key']}",
            f"  agent            {seed['agent_id']}",
            f"  publishable key  {seed['publishable_key']}",
            f"  widget origins   {' '.join(seed['allowed_origins'])}",
        ]
    elif summary.get("seed_error"):
        lines.append(f"  WARNING: demo data not seeded: {summary['seed_error']}")
    if summary.get("stripe_url"):
        lines.append(f"  Stripe (fake)    {summary['stripe_url']}  (controls: /_fake/)")
    if summary.get("widget_url"):
        lines.append(f"  widget loader    {summary['widget_url']}/widget.js")
    if summary.get("demo_url"):
        lines.append(f"  demo page        {summary['demo_url']}  (a customer's site)")
    lines += [f"  started in {summary['startup_seconds']} s; Ctrl+C stops everything", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        overrides = parse_env_overrides(args.env)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    runtime = LocalRuntime(
        args.template,
        api_port=args.port,
        moto_port=args.moto_port,
        host=args.host,
        parameters=_parameters(args.param),
        env_overrides=overrides,
        authorizer_ttl=args.authorizer_ttl,
        seed=not args.no_seed,
        max_environments=args.max_environments,
        sqs_retry_delay=args.sqs_retry_delay,
        prewarm=args.prewarm,
        log_dir=args.log_dir,
        state_file=args.state_file,
        access_log=not args.quiet,
        reload_code=not args.no_reload,
        widget_port=args.widget_port if args.widget_port >= 0 else None,
        demo_port=args.demo_port if args.demo_port >= 0 and args.widget_port >= 0 else None,
        stripe_port=args.stripe_port if args.stripe_port >= 0 else None,
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        try:
            runtime.start()
        except OSError as exc:  # the usual one: the port is taken (another `make dev`?)
            raise SystemExit(f"cannot start: {exc}; pick another port with --port") from None
        except ValueError as exc:  # a bad --param or --env
            raise SystemExit(f"cannot start: {exc}") from None
        print(banner(runtime.summary()), file=sys.stderr, flush=True)
        stop.wait()
    finally:
        print("stopping...", file=sys.stderr, flush=True)
        runtime.stop()


if __name__ == "__main__":
    main()
