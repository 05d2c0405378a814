"""The template's functions run in the calling process: what the integration tests use (with
moto's in-process mock) where the runtime uses worker processes. Handlers are loaded, given a
Lambda context and their results serialized as a worker does (infra.local.worker), and the
gateway emulation serves them through ``invoke``."""

from __future__ import annotations

import importlib
import json
import time
import uuid
from typing import Any

from infra.local import worker
from infra.local.environment import function_environment, template_variables, worker_config
from infra.local.resources import StackState
from infra.local.template import TemplateModel
from infra.local.workers import InvokeResult


def shared_environment(model: TemplateModel, stack: StackState) -> dict[str, str]:
    """The template variables of every function, for one process that hosts them all. A
    variable the functions set differently (each one's POWERTOOLS_SERVICE_NAME) is left out."""
    resolver = model.resolver(stack.refs, stack.attrs)
    values: dict[str, set[str]] = {}
    for spec in model.functions.values():
        for name, value in template_variables(spec, resolver).items():
            values.setdefault(name, set()).add(value)
    return {name: found.pop() for name, found in values.items() if len(found) == 1}


class InProcessFunctions:
    """Invoke the template's functions (by logical id) in this process, warm after the first
    call of each."""

    def __init__(self, model: TemplateModel, stack: StackState) -> None:
        resolver = model.resolver(stack.refs, stack.attrs)
        self.configs = {
            name: worker_config(spec, function_environment(spec, resolver, ""))
            for name, spec in model.functions.items()
        }

    def handler(self, function: str) -> Any:
        module, _, name = self.configs[function]["handler"].rpartition(".")
        return getattr(importlib.import_module(module), name)

    def context(self, function: str) -> worker.LambdaContext:
        deadline_ms = int(time.time() * 1000) + 10_000
        return worker.LambdaContext(self.configs[function], str(uuid.uuid4()), deadline_ms)

    async def invoke(self, function: str, event: Any) -> InvokeResult:
        """One invocation, its result (or Lambda's error document) as JSON text."""
        context = self.context(function)
        started = time.perf_counter()
        try:
            result = self.handler(function)(event, context)
            ok, payload = True, json.dumps(result, default=worker._decimal_default)
        except Exception as exc:
            ok, payload = False, worker._error(exc)
        elapsed = (time.perf_counter() - started) * 1000
        return InvokeResult(ok, payload, context.aws_request_id, elapsed)
