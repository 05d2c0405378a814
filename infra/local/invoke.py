"""``make invoke FN=<LogicalId> EVENT=events/...json``: one invocation, like
``sam local invoke -e``. The result JSON goes to stdout, the function's logs to stderr.

If ``.local/runtime.json`` names a running runtime (``make dev``), the function talks to that
runtime's moto server and sees its data; otherwise an ephemeral moto server is started with the
template's resources, and stopped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from infra.local.environment import function_environment, parse_env_overrides, worker_config
from infra.local.moto_server import MotoProcess, start_moto
from infra.local.resources import Provisioner, StackState
from infra.local.runtime import DEFAULT_STATE_FILE, PROJECT_ROOT
from infra.local.template import TemplateModel, load_template
from infra.local.workers import FunctionPool, InvokeResult

LOG = logging.getLogger("infra.local")


def running_state(state_file: Path, template: Path) -> dict[str, Any] | None:
    """The state of a live runtime started from ``template``, or None."""
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None
    if Path(state.get("template", "")).resolve() != template.resolve():
        return None
    try:
        os.kill(int(state["pid"]), 0)
    except (OSError, KeyError, ValueError):
        return None
    moto = urlparse(state.get("moto_url", ""))
    try:
        with socket.create_connection((moto.hostname or "", moto.port or 0), timeout=1):
            return state
    except OSError:
        return None


async def _invoke(
    model: TemplateModel,
    stack: StackState,
    endpoint: str,
    name: str,
    event: Any,
    extra_env: dict[str, str] | None = None,
) -> InvokeResult:
    spec = model.functions[name]
    resolver = model.resolver(stack.refs, stack.attrs)
    env = function_environment(spec, resolver, endpoint, extra=extra_env)
    pool = FunctionPool(
        name,
        env,
        worker_config(spec, env),
        code_dir=str(spec.code_dir),
        timeout_s=spec.timeout_s,
        max_environments=1,
        log_file=None,  # the function's logs go to our stderr
    )
    try:
        return await pool.invoke(event)
    finally:
        pool.close()


def invoke_function(
    name: str,
    event: Any,
    *,
    template: Path = PROJECT_ROOT / "template.yaml",
    parameters: dict[str, str] | None = None,
    state_file: Path | None = DEFAULT_STATE_FILE,
    env_overrides: dict[str, dict[str, str]] | None = None,
) -> InvokeResult:
    """Invoke function ``name`` (logical id) once with ``event``; ``env_overrides`` as for
    LocalRuntime ({"<LogicalId>" or "*": {"NAME": "value"}})."""
    state = running_state(state_file, template) if state_file else None
    if state is not None:
        LOG.info("using the running runtime's moto at %s", state["moto_url"])
        parameters = {**state.get("parameters", {}), **(parameters or {})}
    model = load_template(template, parameters)
    if name not in model.functions:
        raise SystemExit(f"no function {name!r}; the template has: {', '.join(model.functions)}")
    moto: MotoProcess | None = None
    try:
        if state is not None:
            stack, endpoint = StackState.from_json(state["stack"]), state["moto_url"]
        else:
            moto = start_moto()
            endpoint = moto.url
            stack = Provisioner(model, endpoint).create_all()
            LOG.info("started an ephemeral moto at %s", endpoint)
        overrides = env_overrides or {}
        extra = {**overrides.get("*", {}), **overrides.get(name, {})}
        return asyncio.run(_invoke(model, stack, endpoint, name, event, extra))
    finally:
        if moto is not None:
            moto.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.invoke", description=__doc__.split("\n")[0]
    )
    parser.add_argument("function", help="logical id, e.g. IdentityApiFunction")
    parser.add_argument("event", nargs="?", help="event JSON file ('-' = stdin; default {})")
    parser.add_argument("--template", default=str(PROJECT_ROOT / "template.yaml"))
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--env", action="append", default=[], metavar="[FUNCTION.]NAME=VALUE")
    parser.add_argument("--state-file", default=str(DEFAULT_STATE_FILE))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)

    if not args.event:
        event: Any = {}
    elif args.event == "-":
        event = json.load(sys.stdin)
    else:
        event = json.loads(Path(args.event).read_text())
    parameters = dict(pair.split("=", 1) for pair in args.param)
    try:
        overrides = parse_env_overrides(args.env)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    result = invoke_function(
        args.function,
        event,
        template=Path(args.template),
        parameters=parameters,
        state_file=Path(args.state_file) if args.state_file else None,
        env_overrides=overrides,
    )
    sys.stdout.write(result.payload + "\n")
    sys.stdout.flush()
    raise SystemExit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
