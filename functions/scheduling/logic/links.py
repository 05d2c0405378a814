"""Signed, single-use links to manage a booking (cancel, reschedule) from an email.

A token names the tenant, the booking and the booking's current ``manage_nonce``, signed with
HMAC-SHA256 under a key derived from the platform's signing secret. Every cancel or
reschedule through a link is conditioned on that nonce and replaces it, so a used link is
dead (Cal.com #12922: reused reschedule links made several live bookings). A tampered or
unknown token is a 404, like a booking that does not exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

from agenthub.errors import NotFound

_PURPOSE = b"agenthub/booking-link/v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    def __init__(self, signing_key: bytes) -> None:
        if len(signing_key) < 16:
            raise ValueError("signing key too short")
        self._key = hmac.new(signing_key, _PURPOSE, hashlib.sha256).digest()

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._key, payload, hashlib.sha256).digest()[:24])

    def token(self, tenant_id: str, booking_id: str, nonce: str) -> str:
        payload = json.dumps([tenant_id, booking_id, nonce], separators=(",", ":")).encode()
        return f"{_b64(payload)}.{self._sign(payload)}"

    def read(self, token: str) -> tuple[str, str, str]:
        """(tenant, booking, nonce) of a genuine token, else NotFound."""
        unknown = NotFound("booking not found (or the link is not valid)")
        try:
            body, signature = token.split(".", 1)
            payload = _unb64(body)
        except ValueError:
            raise unknown from None
        if not hmac.compare_digest(self._sign(payload), signature):
            raise unknown
        try:
            tenant_id, booking_id, nonce = json.loads(payload)
        except ValueError:
            raise unknown from None
        return str(tenant_id), str(booking_id), str(nonce)
