"""Resources, event types and bookings for scheduling's unit tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from scheduling.models import Booking, EventType, Resource, WeeklySchedule

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ALL_WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def as_sent[M: BaseModel](model: type[M], body: dict[str, Any]) -> M:
    """``body`` parsed as the API parses a request: JSON, strict types."""
    return model.model_validate_json(json.dumps(body))


def resource(
    zone: str = "Europe/Berlin", hours: tuple[str, str] = ("09:00", "17:00"), **fields: Any
) -> Resource:
    weekly = as_sent(WeeklySchedule, {d: [{"start": hours[0], "end": hours[1]}] for d in ALL_WEEK})
    return Resource(
        id="rs_1",
        tenant_id="t1",
        name="Dr. Who",
        time_zone=zone,
        weekly=weekly,
        created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-01T00:00:00Z",
        **fields,
    )


def event_type(**fields: Any) -> EventType:
    values: dict[str, Any] = {
        "id": "et_1",
        "tenant_id": "t1",
        "agent_id": "ag_1",
        "resource_id": "rs_1",
        "name": "Check-up",
        "duration_minutes": 30,
        "min_notice_minutes": 0,
        "horizon_days": 365,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    values.update(fields)
    return EventType(**values)


def booking(start: str, end: str, **fields: Any) -> Booking:
    values: dict[str, Any] = {
        "id": fields.pop("id", "bk_" + start.replace(":", "").replace("-", "")),
        "tenant_id": "t1",
        "agent_id": "ag_1",
        "event_type_id": "et_1",
        "resource_id": "rs_1",
        "status": "confirmed",
        "start": start,
        "end": end,
        "time_zone": "UTC",
        "visitor_name": "Ann",
        "visitor_email": "ann@example.com",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    values.update(fields)
    return Booking(**values)
