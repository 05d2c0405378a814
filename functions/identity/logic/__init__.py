"""Identity's public logic functions: what other domains may call, in process."""

from typing import TYPE_CHECKING, Any

__all__ = ["active_publishable_keys", "revoke_agent_keys", "verify_publishable"]

if TYPE_CHECKING:
    from identity.logic.authentication import verify_publishable
    from identity.logic.service import active_publishable_keys, revoke_agent_keys

_HOMES = {
    "active_publishable_keys": "service",
    "revoke_agent_keys": "service",
    "verify_publishable": "authentication",
}


def __getattr__(name: str) -> Any:
    # Imported on first use: the authorizer imports identity.logic.authentication and must not
    # pay at cold start for the rest of identity (and the agents domain it calls).
    if name in __all__:
        import importlib

        return getattr(importlib.import_module(f"identity.logic.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
