"""Web origins: validation of configured origins and matching of a request's Origin."""

from __future__ import annotations

import re
from collections.abc import Iterable

_HOST = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
_ORIGIN = re.compile(rf"^(https?)://(\*\.)?({_HOST})(?::(\d{{1,5}}))?$")


def normalize_origin(value: str) -> str:
    """Lower-case, no trailing slash; raise ValueError unless it is ``scheme://host[:port]``
    with scheme http(s), or a wildcard subdomain pattern ``https://*.example.com``."""
    origin = value.strip().rstrip("/").lower()
    match = _ORIGIN.match(origin)
    if not match:
        raise ValueError(f"'{value}' is not an origin like https://www.example.com")
    scheme, wildcard, host, port = match.groups()
    if port is not None and not 0 < int(port) < 65536:
        raise ValueError(f"'{value}' has an invalid port")
    if wildcard and "." not in host:
        raise ValueError(f"'{value}': a wildcard needs a domain with a dot (*.example.com)")
    if wildcard and scheme != "https":
        raise ValueError(f"'{value}': wildcard origins must use https")
    return origin


def origin_allowed(origin: str, allowed: Iterable[str]) -> bool:
    """Exact match, or a wildcard subdomain pattern ``https://*.example.com`` (which matches
    ``https://a.example.com`` and ``https://a.b.example.com`` but not ``https://example.com``)."""
    origin = origin.strip().rstrip("/").lower()
    for candidate in allowed:
        pattern = candidate.lower()
        if pattern == origin:
            return True
        if "://*." in pattern:
            scheme, rest = pattern.split("://*.", 1)
            prefix = scheme + "://"
            if origin.startswith(prefix) and origin.endswith("." + rest):
                host = origin[len(prefix) : -len(rest) - 1]
                if host and "/" not in host and ":" not in host:
                    return True
    return False
