"""``python -m infra.ops write|check``: regenerate template.yaml's generated operations block,
or fail when it is stale (see infra.ops.generate)."""

from __future__ import annotations

import argparse
import sys

from infra.ops import generate
from infra.ops.template_view import TEMPLATE


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.ops")
    parser.add_argument("command", choices=["write", "check"])
    args = parser.parse_args()
    current, wanted = generate.render(TEMPLATE)
    if args.command == "write":
        if current != wanted:
            TEMPLATE.write_text(wanted, encoding="utf-8")
            print(f"{TEMPLATE.name}: generated operations block rewritten")
        return 0
    if current != wanted:
        print(
            f"{TEMPLATE.name}: the generated operations block is stale; run `make ops-template`",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
