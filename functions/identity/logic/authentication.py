"""Key verification for the authorizer. Kept apart from the rest of identity's logic so the
authorizer's cold start imports nothing it does not need (no other domain, no events)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from identity.dal import repository
from identity.logic import key_format
from identity.models import AuthContext, KeyRecord

# A key's last use is written at most this often (the authorizer runs on every cache miss).
LAST_USED_RESOLUTION = timedelta(minutes=15)


def verify_key(presented: str, load: Callable[[str, str], KeyRecord | None]) -> AuthContext | None:
    """A well-formed key whose hash matches a live stored key, or None.

    ``load`` fetches the stored key (through the authorizer's cache). Comparison is constant
    time; every failure looks the same to the caller (None).
    """
    parsed = key_format.parse_key(presented)
    if parsed is None:
        return None
    record = load(parsed.tenant_id, parsed.key_id)
    if record is None or record.revoked_at or record.type != parsed.key_type:
        return None
    if not hmac.compare_digest(record.key_hash, key_format.hash_key(presented)):
        return None
    return AuthContext(
        tenant_id=record.tenant_id,
        key_id=record.id,
        key_type=record.type,
        role=record.role,
        agent_id=record.agent_id,
        allowed_origins=record.allowed_origins,
    )


def load_key(tenant_id: str, key_id: str) -> KeyRecord | None:
    return repository.get_key(tenant_id, key_id)


def record_use(record: KeyRecord, now: datetime | None = None) -> bool:
    """Write last_used_at when the stored value is older than the resolution; True if written."""
    now = now or datetime.now(UTC)
    if record.last_used_at:
        last = datetime.fromisoformat(record.last_used_at.replace("Z", "+00:00"))
        if now - last < LAST_USED_RESOLUTION:
            return False
    repository.touch_key(record.tenant_id, record.id, now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    return True


def verify_publishable(presented: str, agent_id: str, origin: str | None) -> AuthContext | None:
    """A live publishable key of ``agent_id`` used from one of its allowed origins, or None:
    the check a WebSocket connection makes (no authorizer stands in front of it). ``origin``
    None: a message on a connection whose handshake (and Origin) was already checked."""
    from agenthub.origins import origin_allowed

    verdict = verify_key(presented, load_key)
    if verdict is None or verdict.key_type != "publishable" or verdict.agent_id != agent_id:
        return None
    if origin is not None and not origin_allowed(origin, verdict.allowed_origins):
        return None
    return verdict
