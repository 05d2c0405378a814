"""Domain events: versioned pydantic contracts and a batched EventBridge publisher.

Every mutating call publishes an event; the audit log, billing and analytics consume them
through rules → SQS. ``PutEvents`` takes 10 entries per call; entries EventBridge reports as
failed are retried with backoff, and if any still fail the publisher raises, so a caller never
believes an event left when it did not.
"""

from __future__ import annotations

import builtins
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from agenthub.clients import client
from agenthub.environment import cached
from agenthub.errors import DependencyUnavailable

SOURCE_PREFIX = "agenthub."
MAX_ENTRIES_PER_CALL = 10


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Actor(BaseModel):
    """Who did it: an API key (with its role) or the platform itself."""

    model_config = ConfigDict(frozen=True)

    kind: str = "api_key"  # api_key | publishable_key | platform_admin | system
    key_id: str | None = None
    role: str | None = None


class EventData(BaseModel):
    """The payload of a domain event. Each event narrows ``DomainEvent.data`` to a model of
    its own; a change to that model that is not additive bumps the event's
    ``schema_version``."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DomainEvent(BaseModel):
    """Envelope carried in EventBridge ``detail``. Subclasses set ``detail_type`` and
    ``source`` and declare their payload as ``data: <EventData subclass>``; ``schema_version``
    lets consumers evolve with it."""

    model_config = ConfigDict(frozen=True)

    detail_type: ClassVar[str]
    source: ClassVar[str]
    schema_version: ClassVar[int] = 1

    event_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: str = Field(default_factory=utc_now_iso)
    tenant_id: str
    actor: Actor
    subject: str  # what it is about, e.g. "agent/ag_123"
    data: EventData

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        declared = cls.model_fields["data"].annotation
        if "detail_type" in cls.__dict__ and declared is EventData:
            raise TypeError(f"{cls.__name__} must declare its payload: data: <EventData model>")

    def to_entry(self, bus_name: str) -> dict[str, Any]:
        detail = self.model_dump(mode="json")
        detail["type"] = self.detail_type
        detail["schema_version"] = self.schema_version
        return {
            "Source": self.source,
            "DetailType": self.detail_type,
            "Detail": _dumps(detail),
            "EventBusName": bus_name,
        }


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class EventPublishError(DependencyUnavailable):
    code = "event_publish_failed"


class EventPublisher:
    def __init__(
        self,
        bus_name: str,
        *,
        put_events: Callable[..., dict[str, Any]] | None = None,
        max_attempts: int = 3,
        backoff_seconds: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.bus_name = bus_name
        self._put_events = put_events
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep

    def _call(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        put = self._put_events or client("events").put_events
        return put(Entries=entries)

    def publish(self, events: Sequence[DomainEvent]) -> None:
        """Publish all ``events``; raise EventPublishError naming what could not be sent."""
        self.publish_entries([event.to_entry(self.bus_name) for event in events])

    def publish_entries(self, entries: list[dict[str, Any]]) -> None:
        """Publish ready PutEvents entries (the outbox relay's path)."""
        for start in range(0, len(entries), MAX_ENTRIES_PER_CALL):
            self._publish_batch(entries[start : start + MAX_ENTRIES_PER_CALL])

    def _publish_batch(self, pending: list[dict[str, Any]]) -> None:
        last_errors: list[str] = []
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self._call(pending)
            except Exception as exc:  # botocore ClientError, connection errors
                last_errors = [type(exc).__name__]
            else:
                if not response.get("FailedEntryCount"):
                    return
                results = response.get("Entries", [])
                failed = [
                    (entry, result)
                    for entry, result in zip(pending, results, strict=False)
                    if result.get("ErrorCode")
                ]
                last_errors = sorted({str(result.get("ErrorCode")) for _, result in failed})
                pending = [entry for entry, _ in failed]
                if not pending:
                    return
            if attempt < self.max_attempts:
                self._sleep(self.backoff_seconds * 2 ** (attempt - 1))
        raise EventPublishError(
            "events could not be published",
            details={"failed": len(pending), "errors": last_errors},
        )


@cached
def publisher(bus_name: str) -> EventPublisher:
    """The environment's publisher for ``bus_name`` (one client, reused)."""
    return EventPublisher(bus_name)


class UndeliverableEvent(ValueError):
    """A queue message no consumer can ever process (not an event, or an unknown schema
    version): redelivery will not help, so it fails alone and ends in the queue's DLQ."""


class DeliveredEvent(BaseModel):
    """A domain event as a consumer reads it from an SQS message (the EventBridge envelope
    a rule delivered): a tolerant reader, unknown fields ignored; each consumer validates
    ``data`` with a view model of the fields it uses."""

    model_config = ConfigDict(extra="ignore")

    event_id: str = Field(min_length=1, max_length=64)
    tenant_id: str = Field(min_length=1, max_length=64)
    type: str
    occurred_at: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T")
    schema_version: int = 1
    data: dict[str, object] = Field(default_factory=dict)

    def view[M: BaseModel](self, model: builtins.type[M]) -> M:
        """``data`` as ``model``; a payload that does not fit is an UndeliverableEvent."""
        from pydantic import ValidationError

        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            raise UndeliverableEvent(f"{self.type} payload: {exc.error_count()} errors") from exc


def read_delivery(body: str, *, known_schema_version: int = 1) -> DeliveredEvent:
    """An SQS message body (an EventBridge envelope) → the event; an UndeliverableEvent when
    it is none, or of a schema version the consumer does not know."""
    import json

    from pydantic import ValidationError

    try:
        envelope = json.loads(body)
        detail = envelope["detail"]
        event = DeliveredEvent.model_validate(
            {**detail, "type": detail.get("type") or envelope.get("detail-type")}
        )
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise UndeliverableEvent(f"not an AgentHub domain event: {type(exc).__name__}") from exc
    if event.schema_version != known_schema_version:
        raise UndeliverableEvent(f"{event.type} schema_version {event.schema_version} is unknown")
    return event
