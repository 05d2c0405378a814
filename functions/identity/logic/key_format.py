"""The format of API keys: ``sk_`` or ``pk_``, then the tenant id, the key id and a secret.

Embedding the tenant and key ids lets the authorizer find the key with one GetItem inside the
tenant's partition; the secret part carries 190 bits of entropy, so a plain SHA-256 is the
right hash (slow password hashes are for low-entropy secrets) and lookups stay cheap.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass

TENANT_ID_HEX = 16
KEY_ID_HEX = 12
SECRET_LEN = 32
_ALPHABET = string.ascii_letters + string.digits
PREFIXES = {"secret": "sk_", "publishable": "pk_"}
TYPES = {prefix: key_type for key_type, prefix in PREFIXES.items()}
_LENGTH = 3 + TENANT_ID_HEX + KEY_ID_HEX + SECRET_LEN
_HEX = set("0123456789abcdef")


@dataclass(frozen=True)
class ParsedKey:
    key_type: str
    tenant_id: str
    key_id: str


def new_tenant_id() -> str:
    return secrets.token_hex(TENANT_ID_HEX // 2)


def new_key_id() -> str:
    return secrets.token_hex(KEY_ID_HEX // 2)


def new_key(key_type: str, tenant_id: str, key_id: str) -> str:
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LEN))
    return f"{PREFIXES[key_type]}{tenant_id}{key_id}{secret}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_key(key: str) -> ParsedKey | None:
    """Split a presented key; None for anything not shaped like one of ours."""
    if len(key) != _LENGTH or key[:3] not in TYPES:
        return None
    tenant_id = key[3 : 3 + TENANT_ID_HEX]
    key_id = key[3 + TENANT_ID_HEX : 3 + TENANT_ID_HEX + KEY_ID_HEX]
    secret = key[3 + TENANT_ID_HEX + KEY_ID_HEX :]
    if not (set(tenant_id) <= _HEX and set(key_id) <= _HEX and secret.isalnum()):
        return None
    return ParsedKey(key_type=TYPES[key[:3]], tenant_id=tenant_id, key_id=key_id)


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
