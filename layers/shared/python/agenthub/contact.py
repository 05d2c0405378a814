"""Email addresses as the platform accepts them: what a visitor leaves in a lead form and where
a tenant wants handoff transcripts sent. One check, so both say the same thing."""

from __future__ import annotations

import re

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,63}$"
)


def normalize_email(value: str) -> str:
    """The address with its domain in lower case; ValueError unless it looks like
    name@example.com (at most 254 characters)."""
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not an email address like name@example.com")
    local, domain = value.rsplit("@", 1)
    return f"{local}@{domain.lower()}"
