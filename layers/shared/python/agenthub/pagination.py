"""Opaque, signed pagination cursors bound to one query of one tenant.

A cursor carries DynamoDB's LastEvaluatedKey, the query's scope and an HMAC. Decoding checks
the signature, that the cursor was issued for the same scope, and that every partition key
in it lies in the caller's tenant: a forged or swapped cursor is a 400, never another
tenant's data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from agenthub import b64url
from agenthub.errors import BadRequest
from agenthub.keys import belongs_to_tenant


class CursorCodec:
    def __init__(self, signing_key: bytes) -> None:
        if len(signing_key) < 16:
            raise ValueError("signing key too short")
        self._key = signing_key

    def _sign(self, payload: bytes) -> str:
        return b64url.encode(hmac.new(self._key, payload, hashlib.sha256).digest()[:18])

    def encode(self, last_key: dict[str, Any] | None, *, scope: str) -> str | None:
        if not last_key:
            return None
        payload = json.dumps({"k": last_key, "s": scope}, separators=(",", ":"), sort_keys=True)
        raw = payload.encode()
        return f"{b64url.encode(raw)}.{self._sign(raw)}"

    def decode(self, cursor: str | None, *, scope: str, tenant_id: str) -> dict[str, Any] | None:
        if not cursor:
            return None
        invalid = BadRequest("invalid cursor")
        try:
            body, signature = cursor.split(".", 1)
            raw = b64url.decode(body)
        except ValueError:
            raise invalid from None
        # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
        if not hmac.compare_digest(self._sign(raw).encode(), signature.encode()):
            raise invalid
        try:
            payload = json.loads(raw)
        except ValueError:
            raise invalid from None
        last_key = payload.get("k")
        if payload.get("s") != scope or not isinstance(last_key, dict):
            raise invalid
        for name, value in last_key.items():
            # pynamodb keeps keys in DynamoDB's wire form: {"pk": {"S": "TENANT#..."}}
            text = value.get("S") if isinstance(value, dict) else value
            if name.endswith("pk") and not (
                isinstance(text, str) and belongs_to_tenant(text, tenant_id)
            ):
                raise invalid
        return last_key


def codec_from_secret(secret_arn: str) -> CursorCodec:
    """The codec keyed by the ``key`` field of the signing secret (cached by Parameters)."""
    from agenthub.clients import secret_json

    return CursorCodec(str(secret_json(secret_arn)["key"]).encode())
