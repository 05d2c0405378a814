"""URL-safe base64 without padding, for tokens and cursors that travel in URLs."""

from __future__ import annotations

import base64


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode(text: str) -> bytes:
    """Raises ValueError (binascii.Error) for text that is not base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
