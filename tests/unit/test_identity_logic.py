from datetime import UTC, datetime, timedelta

from identity.logic import authentication as service
from identity.logic import key_format
from identity.models import KeyRecord

TENANT, KEY_ID = "0123456789abcdef", "abcdefabcdef"


def record_for(key: str, **overrides) -> KeyRecord:
    values = {
        "id": KEY_ID,
        "tenant_id": TENANT,
        "type": "secret",
        "name": "k",
        "role": "admin",
        "last4": key[-4:],
        "key_hash": key_format.hash_key(key),
        "created_at": "2026-01-01T00:00:00Z",
    }
    return KeyRecord(**{**values, **overrides})


def test_valid_key_gives_its_context():
    key = key_format.new_key("secret", TENANT, KEY_ID)
    verdict = service.verify_key(key, lambda t, k: record_for(key))
    assert verdict is not None
    assert (verdict.tenant_id, verdict.key_id, verdict.role) == (TENANT, KEY_ID, "admin")


def test_key_with_wrong_secret_is_refused():
    key = key_format.new_key("secret", TENANT, KEY_ID)
    other = key_format.new_key("secret", TENANT, KEY_ID)
    assert service.verify_key(other, lambda t, k: record_for(key)) is None


def test_revoked_unknown_or_retyped_keys_are_refused():
    key = key_format.new_key("secret", TENANT, KEY_ID)
    assert service.verify_key(key, lambda t, k: None) is None
    revoked = record_for(key, revoked_at="2026-01-02T00:00:00Z")
    assert service.verify_key(key, lambda t, k: revoked) is None
    retyped = record_for(key, type="publishable")
    assert service.verify_key(key, lambda t, k: retyped) is None


def test_loader_is_asked_for_the_ids_inside_the_key():
    key = key_format.new_key("secret", TENANT, KEY_ID)
    asked = []
    service.verify_key(key, lambda t, k: asked.append((t, k)))
    assert asked == [(TENANT, KEY_ID)]


def test_last_used_is_written_only_when_stale(monkeypatch):
    writes = []
    monkeypatch.setattr(service.repository, "touch_key", lambda *a: writes.append(a))
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    fresh = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stale = (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    key = key_format.new_key("secret", TENANT, KEY_ID)
    assert service.record_use(record_for(key, last_used_at=fresh), now) is False
    assert service.record_use(record_for(key, last_used_at=stale), now) is True
    assert service.record_use(record_for(key), now) is True
    assert len(writes) == 2
