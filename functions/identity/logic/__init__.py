"""Identity's public logic functions: what other domains may call, in process."""

from typing import TYPE_CHECKING, Any

__all__ = ["active_publishable_keys", "revoke_agent_keys"]

if TYPE_CHECKING:
    from identity.logic.service import active_publishable_keys, revoke_agent_keys


def __getattr__(name: str) -> Any:
    # Imported on first use: the authorizer imports identity.logic.authentication and must not
    # pay at cold start for the rest of identity (and the agents domain it calls).
    if name in __all__:
        from identity.logic import service

        return getattr(service, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
