"""API Gateway Lambda REQUEST authorizer for secret (``sk_``) and publishable (``pk_``) keys.

Two authorizers in the template share this function. ``KeyAuthorizer`` caches its verdict per
Authorization header; ``PublicKeyAuthorizer`` (the widget's public routes) caches per
Authorization + Origin, which is what makes denying a publishable key from a wrong origin
safe: a request from another origin cannot poison the cached verdict of an allowed one.

Revocation bound: API Gateway may reuse a verdict for ``AuthorizerCacheTtl`` seconds, and this
function's own key cache holds a lookup for ``KEY_CACHE_TTL`` seconds, so a revoked key stops
working within the sum of the two (90 s with the template's defaults).

Deliberately light: no event_handler, no Tracer; one GetItem on a cache miss.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from agenthub.cache import TTLCache
from agenthub.environment import cached
from agenthub.observability import logger
from agenthub.origins import origin_allowed
from agenthub.runtime import entry
from agenthub.settings import BaseSettings
from identity.logic import authentication, key_format
from identity.models import AuthContext, KeyRecord

PUBLIC_PREFIX = "/v1/public/"
# What a publishable key's (cached) verdict opens: the public routes' methods only — the
# widget reads its config and conversations (GET) and starts, asks, rates, leaves a lead or
# asks for a human (POST). Nothing else, and never a secret-key route.
PUBLIC_RESOURCES = (f"GET{PUBLIC_PREFIX}*", f"POST{PUBLIC_PREFIX}*")
_MISSING = "missing"


class AuthorizerSettings(BaseSettings):
    key_cache_ttl: int = Field(default=30, ge=1, le=300)


@cached
def _key_cache(ttl_seconds: int) -> TTLCache[KeyRecord | str]:
    """Key lookups of this environment (a record, or _MISSING for an unknown key)."""
    return TTLCache(ttl_seconds, max_entries=4096)


def _cached_load(settings: AuthorizerSettings) -> Any:
    cache = _key_cache(settings.key_cache_ttl)

    def load(tenant_id: str, key_id: str) -> KeyRecord | None:
        cached = cache.get((tenant_id, key_id))
        if cached is None:
            record = authentication.load_key(tenant_id, key_id)
            cache.set((tenant_id, key_id), record or _MISSING)
            if record is not None and not record.revoked_at:
                authentication.record_use(record)
            return record
        return None if cached == _MISSING else cached  # type: ignore[return-value]

    return load


@entry(AuthorizerSettings)
def handler(event: dict[str, Any], context: Any, settings: AuthorizerSettings) -> dict[str, Any]:
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    token = key_format.bearer_token(headers.get("authorization"))
    verdict = authentication.verify_key(token, _cached_load(settings)) if token else None
    if verdict is None:
        # API Gateway turns exactly this message into a 401 (the UNAUTHORIZED gateway response).
        raise Exception("Unauthorized")

    method_arn = event.get("methodArn", "")
    if verdict.key_type == "publishable":
        origin = headers.get("origin") or ""
        path = _path_of(method_arn)
        if not path.startswith(PUBLIC_PREFIX) or not origin_allowed(
            origin, verdict.allowed_origins
        ):
            logger().info("publishable key refused", extra={"key_id": verdict.key_id})
            return _policy("Deny", method_arn, verdict)
        return _policy("Allow", method_arn, verdict, resource_paths=PUBLIC_RESOURCES)
    return _policy("Allow", method_arn, verdict)


def _path_of(method_arn: str) -> str:
    # arn:aws:execute-api:region:account:apiId/stage/METHOD/path...
    parts = method_arn.split(":", 5)[-1].split("/", 3)
    return "/" + parts[3] if len(parts) > 3 else "/"


def _policy(
    effect: str,
    method_arn: str,
    verdict: AuthContext,
    resource_paths: tuple[str, ...] = ("*/*",),
) -> dict[str, Any]:
    # The verdict is cached and reused for other routes, so it names the whole stage (secret
    # keys) or the public routes (publishable keys), not only the method that was called.
    base = "/".join(method_arn.split("/", 2)[:2]) if method_arn else "*"
    resources = [f"{base}/{path}" for path in resource_paths]
    return {
        "principalId": f"{verdict.tenant_id}/{verdict.key_id}",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": effect,
                    # One ARN stays a string (as before); the public verdict names two.
                    "Resource": resources[0] if len(resources) == 1 else resources,
                }
            ],
        },
        "context": {
            "tenantId": verdict.tenant_id,
            "keyId": verdict.key_id,
            "keyType": verdict.key_type,
            "role": verdict.role or "",
            "agentId": verdict.agent_id or "",
            "allowedOrigins": " ".join(verdict.allowed_origins),
        },
    }
