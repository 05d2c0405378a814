"""Who a visitor is: anonymous ids, identities signed by the tenant's server, and the visitor
tokens the widget carries between calls.

- Anonymous: a random id (``anon_`` + 128 bits) the API picks; nobody can claim it without
  the visitor token that came with it.
- Signed: the tenant's server computes ``hex(HMAC-SHA256(agent identity secret, user id))``
  and hands it to its page; the widget sends ``{"visitor": {"id", "signature"}}``. A visitor
  cannot claim to be another user without that user's signature. The secret is per agent,
  rotated by an owner or admin (shown once); the previous one keeps verifying for a grace
  period so a site can roll over without breaking its visitors.
- Visitor token: what a conversation start returns to the browser. It binds (tenant, agent,
  visitor, verified) under the platform's signing key and expires; every later widget call
  on a conversation presents it, and the conversation's visitor must be the token's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from agenthub import b64url
from agenthub.cache import TTLCache
from agenthub.environment import ttl_cache
from agenthub.errors import BadRequest, Unauthorized
from agenthub.events import Actor, utc_now_iso
from agents.logic import get_agent
from conversations.dal import repository
from conversations.models import (
    ANONYMOUS_PREFIX,
    IdentitySecret,
    IdentitySecretRotated,
    IdentitySecretRotatedData,
)

SECRET_PREFIX = "vsk_"
ROTATION_GRACE = timedelta(hours=24)
TOKEN_VERSION = "vt1"
TOKEN_LIFETIME_SECONDS = 30 * 24 * 3600
SECRET_CACHE_TTL = 60  # a rotation reaches other warm environments within a minute

_secrets: TTLCache[IdentitySecret | str] = ttl_cache(SECRET_CACHE_TTL, max_entries=2048)
_NONE = "none"


class InvalidVisitor(Unauthorized):
    code = "invalid_visitor"


@dataclass(frozen=True)
class Visitor:
    id: str
    verified: bool


def new_anonymous_id() -> str:
    return ANONYMOUS_PREFIX + secrets.token_hex(16)


def anonymous() -> Visitor:
    """A new visitor nobody has named."""
    return Visitor(new_anonymous_id(), verified=False)


def server_named(visitor_id: str | None) -> Visitor:
    """The visitor a server (secret key, trusted) names; none named is a new anonymous one."""
    return Visitor(visitor_id, verified=True) if visitor_id else anonymous()


def widget_visitor(
    tenant_id: str,
    agent_id: str,
    tokens: VisitorTokens,
    *,
    signed: tuple[str, str] | None = None,
    token: str | None = None,
) -> Visitor:
    """Who starts a conversation from the widget: the ``(id, signature)`` the tenant's server
    signed, the visitor of an earlier conversation's ``token``, or a new anonymous visitor.
    InvalidVisitor (401) when the signature or token does not verify."""
    if signed is not None:
        return verify_signed(tenant_id, agent_id, *signed)
    if token is not None:
        return tokens.verify(token, tenant_id, agent_id)
    return anonymous()


def sign(secret: str, visitor_id: str) -> str:
    """What the tenant's server sends with a visitor id: hex HMAC-SHA256(secret, id)."""
    return hmac.new(secret.encode(), visitor_id.encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------- identity secret


def rotate_identity_secret(tenant_id: str, agent_id: str, actor: Actor) -> IdentitySecret:
    """A new identity secret for the agent (returned once); the previous one verifies for
    ROTATION_GRACE more. Another tenant's (or a deleted) agent is a NotFound."""
    get_agent(tenant_id, agent_id, use_cache=False)
    current = _load_secret(tenant_id, agent_id, fresh=True)
    now = datetime.now(UTC)
    rotated = IdentitySecret(
        agent_id=agent_id,
        tenant_id=tenant_id,
        secret=SECRET_PREFIX + secrets.token_hex(32),
        created_at=utc_now_iso(),
        previous_secret=current.secret if current else None,
        previous_valid_until=(
            (now + ROTATION_GRACE).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if current else None
        ),
    )
    event = IdentitySecretRotated(
        tenant_id=tenant_id,
        actor=actor,
        subject=f"agent/{agent_id}",
        data=IdentitySecretRotatedData(agent_id=agent_id, had_previous=current is not None),
    )
    repository.put_identity_secret(rotated, [event])
    _secrets.set((tenant_id, agent_id), rotated)
    return rotated


def _load_secret(tenant_id: str, agent_id: str, *, fresh: bool = False) -> IdentitySecret | None:
    key = (tenant_id, agent_id)
    cached = None if fresh else _secrets.get(key)
    if cached is None:
        cached = repository.get_identity_secret(tenant_id, agent_id) or _NONE
        _secrets.set(key, cached)
    return None if cached == _NONE else cached  # type: ignore[return-value]


def verify_signed(tenant_id: str, agent_id: str, visitor_id: str, signature: str) -> Visitor:
    """The visitor, if ``signature`` is the agent's identity secret's HMAC of ``visitor_id``
    (the current secret, or the previous one within its grace period)."""
    given = signature.lower()
    # The cached secret first; on a mismatch once more from the table, in case another
    # environment rotated (or first created) it within the cache's minute.
    for fresh in (False, True):
        stored = _load_secret(tenant_id, agent_id, fresh=fresh)
        if stored is not None and any(
            hmac.compare_digest(sign(secret, visitor_id).encode(), given.encode())
            for secret in _valid(stored)
        ):
            return Visitor(visitor_id, verified=True)
    raise InvalidVisitor("visitor signature does not verify")


def _valid(stored: IdentitySecret) -> list[str]:
    """The secrets that verify now: the current one, and the previous within its grace."""
    candidates = [stored.secret]
    if stored.previous_secret and (stored.previous_valid_until or "") > utc_now_iso():
        candidates.append(stored.previous_secret)
    return candidates


# ---------------------------------------------------------------------------- visitor tokens


class VisitorTokens:
    """Issue and check visitor tokens with a key derived from the platform's signing key
    (domain-separated from its other uses, such as pagination cursors)."""

    def __init__(self, signing_key: bytes) -> None:
        if len(signing_key) < 16:
            raise ValueError("signing key too short")
        self._key = hmac.new(signing_key, b"agenthub/visitor-token/v1", hashlib.sha256).digest()

    def _mac(self, tenant_id: str, agent_id: str, kind: str, visitor_id: str, exp: int) -> str:
        message = f"{TOKEN_VERSION}|{tenant_id}|{agent_id}|{kind}|{visitor_id}|{exp}".encode()
        return b64url.encode(hmac.new(self._key, message, hashlib.sha256).digest()[:24])

    def issue(self, tenant_id: str, agent_id: str, visitor: Visitor) -> str:
        kind = "v" if visitor.verified else "a"
        exp = int(time.time()) + TOKEN_LIFETIME_SECONDS
        mac = self._mac(tenant_id, agent_id, kind, visitor.id, exp)
        return f"{TOKEN_VERSION}.{kind}.{b64url.encode(visitor.id.encode())}.{exp}.{mac}"

    def verify(self, token: str, tenant_id: str, agent_id: str) -> Visitor:
        """The token's visitor; InvalidVisitor (401) when it is malformed, forged, for
        another agent or expired; BadRequest (400) when it is not even ASCII (no token we
        issue is: malformed input, like a non-ASCII cursor)."""
        if not token.isascii():
            raise BadRequest("visitor_token must be the ASCII token a conversation start returned")
        invalid = InvalidVisitor("visitor token is invalid or expired; start a new conversation")
        parts = token.split(".")
        if len(parts) != 5 or parts[0] != TOKEN_VERSION or parts[1] not in ("a", "v"):
            raise invalid
        _, kind, encoded, exp_text, mac = parts
        try:
            visitor_id = b64url.decode(encoded).decode()
            exp = int(exp_text)
        except ValueError:
            raise invalid from None
        expected = self._mac(tenant_id, agent_id, kind, visitor_id, exp)
        # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
        if not hmac.compare_digest(expected.encode(), mac.encode()) or exp < time.time():
            raise invalid
        return Visitor(visitor_id, verified=kind == "v")
