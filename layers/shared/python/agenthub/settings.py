"""Validated settings, one pydantic model per function, read lazily and once.

Environment variables are read when a handler first asks for its settings, never at import
time, so importing a module never fails for lack of configuration and tests can set the
environment before the first call.
"""

from __future__ import annotations

import os
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from agenthub.environment import cached
from agenthub.errors import ConfigurationError

S = TypeVar("S", bound=BaseModel)


class BaseSettings(BaseModel):
    """Fields map to upper-case environment variables (``table_name`` ← ``TABLE_NAME``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    table_name: str = Field(min_length=3)
    event_bus_name: str = Field(min_length=1)
    stage: str = "dev"


class ApiSettings(BaseSettings):
    """What every API function needs on top of the base."""

    signing_secret_arn: str = Field(min_length=1)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)


@cached
def load_settings[S: BaseModel](model: type[S]) -> S:
    """Build ``model`` from the environment once per process; a missing or invalid variable is a
    ConfigurationError naming it (a deployment fault, never a client's)."""
    values = {
        name: os.environ[name.upper()] for name in model.model_fields if name.upper() in os.environ
    }
    try:
        return model.model_validate(values)
    except ValueError as exc:
        raise ConfigurationError(f"invalid settings for {model.__name__}: {exc}") from exc
