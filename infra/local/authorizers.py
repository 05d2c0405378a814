"""Lambda authorizers as API Gateway runs them: events, verdicts and the result cache.

SAM CLI supplies the authorizer model (identity sources, policy validation). What sam local
leaves out and API Gateway does, we add:

- the policy is cached per authorizer and identity-source values for ``ReauthorizeEvery``
  seconds, and a cached policy is evaluated against each request's method ARN;
- an explicit Deny wins over an Allow;
- an authorizer failing with exactly "Unauthorized" is a 401; other failures are 500s;
- context values reach the function as strings, with ``principalId`` and
  ``integrationLatency``, under ``requestContext.authorizer``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from infra.local.workers import InvokeResult

Invoke = Callable[[str, dict[str, Any]], Awaitable[InvokeResult]]


@dataclass
class Verdict:
    """``response_type`` is None when the request may proceed with ``context``."""

    response_type: str | None
    context: dict[str, Any] | None = None
    message: str | None = None


@dataclass
class _Cached:
    expires: float
    policy: dict[str, Any]
    latency_ms: int
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # by method ARN


class AuthorizerCache:
    """Authorizer results by (authorizer, identity values), each for its TTL."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, tuple[str, ...]], _Cached] = {}
        self.invocations = 0

    def get(self, key: tuple[str, tuple[str, ...]]) -> _Cached | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= time.monotonic():
            del self._entries[key]
            return None
        return entry

    def put(self, key: tuple[str, tuple[str, ...]], entry: _Cached) -> None:
        self._entries[key] = entry

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def method_arn(stage: str | None, method: str, path: str) -> str:
    """The ARN API Gateway names the called method with (sam local's fake account and API id)."""
    return f"arn:aws:execute-api:us-east-1:123456789012:1234567890/{stage}/{method}{path}"


def identity_values(authorizer: Any, request: Any, event: dict[str, Any]) -> list[str] | None:
    """The identity-source values, or None when one is missing (→ 401, authorizer not called)."""
    kwargs = {
        "headers": request.headers,
        "querystring": request.query_string.decode("latin-1"),
        "context": event["requestContext"],
        "stageVariables": event.get("stageVariables") or {},
        "validation_expression": authorizer.validation_string,
    }
    values = []
    for source in authorizer.identity_sources:
        if not source.is_valid(**kwargs):
            return None
        values.append(str(source.find_identity_value(**kwargs)))
    return values


def authorizer_event(
    authorizer: Any, event: dict[str, Any], values: list[str], arn: str
) -> dict[str, Any]:
    """What API Gateway sends a TOKEN or REQUEST authorizer for the request ``event``."""
    if authorizer.type == "token":
        return {"type": "TOKEN", "authorizationToken": values[0], "methodArn": arn}
    return {**event, "type": "REQUEST", "methodArn": arn}


async def authorize(
    authorizer: Any,
    event: dict[str, Any],
    values: list[str],
    arn: str,
    *,
    ttl: int,
    cache: AuthorizerCache,
    invoke: Invoke,
) -> Verdict:
    """Run (or reuse) the authorizer for this request and judge ``arn`` by its policy."""
    key = (authorizer.authorizer_name, tuple(values))
    cached = cache.get(key) if ttl > 0 else None
    if cached is None:
        auth_event = authorizer_event(authorizer, event, values, arn)
        started = time.perf_counter()
        result = await invoke(authorizer.lambda_name, auth_event)
        cache.invocations += 1
        latency = int((time.perf_counter() - started) * 1000)
        if not result.ok:
            if json.loads(result.payload).get("errorMessage") == "Unauthorized":
                return Verdict("UNAUTHORIZED")
            return Verdict("AUTHORIZER_FAILURE")
        try:
            policy = _valid_policy(authorizer, result.payload)
        except ValueError as exc:
            return Verdict("AUTHORIZER_CONFIGURATION_ERROR", message=str(exc))
        cached = _Cached(time.monotonic() + ttl, policy, latency)
        if ttl > 0:
            cache.put(key, cached)
    verdict = cached.verdicts.get(arn)
    if verdict is None:
        verdict = cached.verdicts[arn] = _judge(authorizer, cached, arn)
    # A copy of the context: the event it goes into belongs to one request.
    context = dict(verdict.context) if verdict.context is not None else None
    return Verdict(verdict.response_type, context, verdict.message)


def _valid_policy(authorizer: Any, payload: str) -> dict[str, Any]:
    from samcli.local.apigw.authorizers.lambda_authorizer import LambdaAuthorizerIAMPolicyValidator
    from samcli.local.apigw.exceptions import InvalidLambdaAuthorizerResponse

    try:
        policy = json.loads(payload)
        LambdaAuthorizerIAMPolicyValidator.validate_policy_document(
            authorizer.authorizer_name, policy
        )
        LambdaAuthorizerIAMPolicyValidator.validate_statement(authorizer.authorizer_name, policy)
    except (ValueError, InvalidLambdaAuthorizerResponse, AttributeError) as exc:
        raise ValueError(f"invalid authorizer response: {exc}") from exc
    context = policy.get("context") or {}
    if not isinstance(context, dict) or any(isinstance(v, dict | list) for v in context.values()):
        raise ValueError("authorizer context values must be strings, numbers or booleans")
    return policy


def _judge(authorizer: Any, cached: _Cached, arn: str) -> Verdict:
    policy = cached.policy
    statements = policy["policyDocument"]["Statement"]
    if any(_matches(s, arn) for s in statements if s.get("Effect") == "Deny"):
        return Verdict("ACCESS_DENIED", message=_EXPLICIT_DENY)
    if not policy_allows(policy, arn):
        return Verdict("ACCESS_DENIED")
    return Verdict(None, request_context(policy, cached.latency_ms))


def policy_allows(policy: dict[str, Any], arn: str) -> bool:
    """IAM's verdict on invoking ``arn``: some Allow matches and no Deny does."""
    statements = policy["policyDocument"]["Statement"]
    if any(_matches(s, arn) for s in statements if s.get("Effect") == "Deny"):
        return False
    return any(_matches(s, arn) for s in statements if s.get("Effect") == "Allow")


def request_context(policy: dict[str, Any], latency_ms: int) -> dict[str, Any]:
    """What the integration gets as ``requestContext.authorizer`` for an allowing policy."""
    context: dict[str, Any] = {
        key: _string(value) for key, value in (policy.get("context") or {}).items()
    }
    context["principalId"] = policy["principalId"]
    return {**context, "integrationLatency": latency_ms}


_EXPLICIT_DENY = "User is not authorized to access this resource with an explicit deny"


def _matches(statement: dict[str, Any], arn: str) -> bool:
    actions = statement.get("Action", [])
    actions = actions if isinstance(actions, list) else [actions]
    if not any(a in ("execute-api:Invoke", "execute-api:*", "*") for a in actions):
        return False
    resources = statement.get("Resource", [])
    resources = resources if isinstance(resources, list) else [resources]
    for resource in resources:
        pattern = re.escape(resource).replace(r"\*", ".*").replace(r"\?", ".") + "$"
        if re.match(pattern, arn):
            return True
    return False


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)
