"""The runtime's own endpoints, under ``/__local__/`` (outside the API's namespace):

- ``GET  /__local__/health``                        → ``{"status": "ok"}``
- ``GET  /__local__/summary``                       → URLs, keys, seed (what runtime.json holds)
- ``GET  /__local__/functions``                     → functions, environments, event sources
- ``GET  /__local__/queues``                        → queues with visible / in-flight counts
- ``GET  /__local__/event-sources``                 → SQS and stream mappings, batches so far
- ``POST /__local__/schedules/<Function>/<Event>``  → fire a schedule now; the function's result
  (a JSON body, if any, is the event instead of the schedule's Input)
- ``POST /__local__/invoke/<Function>``             → invoke with the request body as event
- ``DELETE /__local__/authorizer-cache``            → forget cached authorizer verdicts

A function error answers 502 with Lambda's error document; a timeout 504.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from infra.local.server import HttpRequest, HttpResponse
from infra.local.workers import InvokeResult

if TYPE_CHECKING:
    from infra.local.runtime import LocalRuntime


def _json(status: int, data: Any) -> HttpResponse:
    body = json.dumps(data, indent=2, default=str).encode()
    return HttpResponse(status, [("Content-Type", "application/json")], body)


def _result(result: InvokeResult) -> HttpResponse:
    status = 200 if result.ok else (504 if result.timed_out else 502)
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", result.request_id)]
    return HttpResponse(status, headers, result.payload.encode())


class ControlApi:
    """Serves the control endpoints of one runtime."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime

    async def handle(self, request: HttpRequest) -> HttpResponse:
        name, *args = [p for p in request.path.split("/") if p][1:] or [""]
        endpoint = self._endpoints.get((request.method, name, len(args)))
        if endpoint is None:
            return _json(
                404, {"message": "unknown control endpoint", "see": "docs/local-runtime.md"}
            )
        return await endpoint(self, request, *args)

    async def _health(self, request: HttpRequest) -> HttpResponse:
        return _json(200, {"status": "ok"})

    async def _summary(self, request: HttpRequest) -> HttpResponse:
        return _json(200, self.runtime.summary())

    async def _functions(self, request: HttpRequest) -> HttpResponse:
        return _json(200, self.runtime.describe_functions())

    async def _event_sources(self, request: HttpRequest) -> HttpResponse:
        return _json(200, self.runtime.describe_event_sources())

    async def _queues(self, request: HttpRequest) -> HttpResponse:
        # boto3 calls block: keep them off the gateway's loop.
        loop = asyncio.get_running_loop()
        return _json(200, await loop.run_in_executor(None, self.runtime.describe_queues))

    async def _schedule(self, request: HttpRequest, function: str, event: str) -> HttpResponse:
        trigger = self.runtime.find_schedule(function, event)
        if trigger is None:
            return _json(404, {"message": f"no schedule {function}/{event}"})
        payload = None
        if request.body.strip():
            try:
                payload = json.loads(request.body)
            except ValueError:
                return _json(400, {"message": "the body must be a JSON event"})
        return _result(await self.runtime.fire_schedule_async(trigger, payload))

    async def _invoke(self, request: HttpRequest, function: str) -> HttpResponse:
        if function not in self.runtime.pools:
            return _json(404, {"message": f"no function {function}"})
        try:
            event = json.loads(request.body or b"{}")
        except ValueError:
            return _json(400, {"message": "the body must be a JSON event"})
        return _result(await self.runtime.invoke_async(function, event))

    async def _flush(self, request: HttpRequest) -> HttpResponse:
        return _json(200, {"flushed": self.runtime.flush_authorizer_cache()})

    # (method, first path segment, number of further segments) → endpoint
    _endpoints: dict[tuple[str, str, int], Any] = {
        ("GET", "health", 0): _health,
        ("GET", "summary", 0): _summary,
        ("GET", "functions", 0): _functions,
        ("GET", "queues", 0): _queues,
        ("GET", "event-sources", 0): _event_sources,
        ("POST", "schedules", 2): _schedule,
        ("POST", "invoke", 1): _invoke,
        ("DELETE", "authorizer-cache", 0): _flush,
    }
