"""Smoke test of a deployed API (CI runs it after each `sam deploy`; tests run it against the
local runtime):

    python -m infra.ops.smoke --api-url https://<id>.execute-api.<region>.amazonaws.com/dev
    python -m infra.ops.smoke --stack-name agenthub-dev      # the URL from the stack's outputs
        [--agent-id ag_... --publishable-key pk_... --origin https://www.example.com]

Checks, in order: the health route answers ok (through API Gateway, the docs function); the
OpenAPI document lists the routes; a tenant route without a key is refused 401 in our envelope
(the authorizer is wired); and, when a demo agent is given, its public config answers from the
allowed origin and is refused from another (the widget's path, publishable-key authorizer
included). A fresh deployment may answer 5xx for a few seconds: each check retries those,
never a wrong answer. Exit 0 when all pass, 1 otherwise; one line per check.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REFUSED_ORIGIN = "https://smoke-test.invalid"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 10) -> Answer:
    request = urllib.request.Request(url, headers=headers or {}, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers), error.read())


class SmokeFailure(AssertionError):
    pass


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def check_health(api: str) -> str:
    answer = get(f"{api}/v1/health")
    _expect(answer.status == 200, f"GET /v1/health answered {answer.status}")
    body = answer.json()
    _expect(body.get("status") == "ok", f"health says {body}")
    return f"version {body.get('version')} of stage {body.get('stage')}"


def check_openapi(api: str) -> str:
    answer = get(f"{api}/v1/openapi.json")
    _expect(answer.status == 200, f"GET /v1/openapi.json answered {answer.status}")
    paths = answer.json().get("paths", {})
    _expect("/v1/agents" in paths, "the OpenAPI document does not list /v1/agents")
    return f"{len(paths)} paths"


def check_authorizer(api: str) -> str:
    answer = get(f"{api}/v1/agents")
    _expect(answer.status == 401, f"GET /v1/agents without a key answered {answer.status}")
    code = answer.json().get("error", {}).get("code")
    _expect(code == "unauthorized", f"the 401 is not our envelope: {answer.body[:200]!r}")
    return "401 without a key"


def check_public_config(api: str, agent_id: str, key: str, origin: str) -> str:
    url = f"{api}/v1/public/agents/{agent_id}/config"
    allowed = get(url, {"Authorization": f"Bearer {key}", "Origin": origin})
    _expect(allowed.status == 200, f"public config from {origin} answered {allowed.status}")
    _expect(allowed.json().get("agent_id") == agent_id, "public config names another agent")
    _expect(
        allowed.headers.get("Access-Control-Allow-Origin") == origin,
        "public config does not allow the caller's origin",
    )
    refused = get(url, {"Authorization": f"Bearer {key}", "Origin": REFUSED_ORIGIN})
    _expect(refused.status == 403, f"a foreign origin got {refused.status}, not 403")
    return "200 from the allowed origin, 403 from another"


def with_retries(
    check: Callable[[], str], attempts: int, pause: float, sleep: Callable[[float], None]
) -> str:
    """Retry what a fresh deployment may still be settling: 5xx and connection errors."""
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            return check()
        except SmokeFailure as failure:
            if " answered 5" not in str(failure):
                raise
            last = failure
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            last = error
        if attempt + 1 < attempts:
            sleep(pause * (attempt + 1))
    raise SmokeFailure(f"still failing after {attempts} attempts: {last}")


def api_url_of(stack_name: str) -> str:
    import boto3

    stack = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return outputs["ApiUrl"]


def run(
    api: str,
    *,
    agent_id: str | None = None,
    publishable_key: str | None = None,
    origin: str | None = None,
    attempts: int = 5,
    pause: float = 3.0,
    sleep: Callable[[float], None] = time.sleep,
    print_fn: Callable[[str], None] = print,
) -> bool:
    api = api.rstrip("/")
    checks: list[tuple[str, Callable[[], str]]] = [
        ("health", lambda: check_health(api)),
        ("openapi", lambda: check_openapi(api)),
        ("authorizer", lambda: check_authorizer(api)),
    ]
    if agent_id and publishable_key and origin:
        checks.append(
            (
                "public config",
                lambda: check_public_config(api, agent_id, publishable_key, origin),
            )
        )
    else:
        print_fn("skip public config: no --agent-id/--publishable-key/--origin given")
    passed = True
    for name, check in checks:
        try:
            print_fn(f"ok   {name}: {with_retries(check, attempts, pause, sleep)}")
        except SmokeFailure as failure:
            print_fn(f"FAIL {name}: {failure}")
            passed = False
    return passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.ops.smoke")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--api-url")
    where.add_argument("--stack-name")
    parser.add_argument("--agent-id")
    parser.add_argument("--publishable-key")
    parser.add_argument("--origin")
    parser.add_argument("--attempts", type=int, default=5)
    args = parser.parse_args(argv)
    api = args.api_url or api_url_of(args.stack_name)
    print(f"smoke test of {api}")
    ok = run(
        api,
        agent_id=args.agent_id,
        publishable_key=args.publishable_key,
        origin=args.origin,
        attempts=args.attempts,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
