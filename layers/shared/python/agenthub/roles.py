"""The roles of secret keys, and the sets routes allow."""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["owner", "admin", "member", "viewer"]
ALL_ROLES = frozenset(get_args(Role))
WRITERS = frozenset({"owner", "admin", "member"})
MANAGERS = frozenset({"owner", "admin"})
