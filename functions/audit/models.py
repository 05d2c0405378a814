"""Audit log models: an entry per domain event."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class AuditEntry(BaseModel):
    """One thing that happened, who did it and to what. Built from a domain event."""

    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(min_length=1, max_length=64)
    tenant_id: str = Field(min_length=1, max_length=64)
    type: str = Field(min_length=1, max_length=80)
    source: str = Field(min_length=1, max_length=80)
    occurred_at: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
    actor: dict[str, Any] = Field(default_factory=dict)
    subject: str = Field(default="", max_length=200)
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def day(self) -> str:
        return self.occurred_at[:10]
