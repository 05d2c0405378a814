"""``python -m infra.local.fakestripe [--port 12111]``: run the fake Stripe until Ctrl+C."""

from __future__ import annotations

import argparse
import threading

from infra.local.fakestripe.server import FakeStripe


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.local.fakestripe")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    args = parser.parse_args()
    fake = FakeStripe().start(args.host, args.port)  # --port 0: a free port (printed)
    print(f"fake Stripe on {fake.url} (controls under {fake.url}/_fake/)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
