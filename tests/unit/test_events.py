import json

import pytest

from agenthub.events import Actor, DomainEvent, EventData, EventPublisher, EventPublishError


class ThingData(EventData):
    size: int


class Thing(DomainEvent):
    detail_type = "ThingHappened"
    source = "agenthub.test"
    data: ThingData


def make(n: int) -> list[DomainEvent]:
    return [
        Thing(
            tenant_id="t1", actor=Actor(kind="system"), subject=f"thing/{i}", data=ThingData(size=i)
        )
        for i in range(n)
    ]


class FakeBus:
    """PutEvents double: fails the listed entry positions on the first N calls."""

    def __init__(self, fail_positions_per_call: list[set[int]] | None = None, raises: int = 0):
        self.calls: list[list[dict]] = []
        self.fail = fail_positions_per_call or []
        self.raises = raises

    def put_events(self, Entries):
        self.calls.append(Entries)
        if self.raises:
            self.raises -= 1
            raise ConnectionError("boom")
        failing = self.fail.pop(0) if self.fail else set()
        results = [
            {"ErrorCode": "InternalFailure"} if i in failing else {"EventId": str(i)}
            for i in range(len(Entries))
        ]
        return {"FailedEntryCount": len(failing), "Entries": results}


def test_events_are_sent_in_batches_of_ten():
    bus = FakeBus()
    EventPublisher("bus", put_events=bus.put_events, sleep=lambda s: None).publish(make(23))
    assert [len(c) for c in bus.calls] == [10, 10, 3]


def test_entry_carries_a_versioned_contract():
    bus = FakeBus()
    EventPublisher("bus", put_events=bus.put_events).publish(make(1))
    entry = bus.calls[0][0]
    detail = json.loads(entry["Detail"])
    assert entry["Source"] == "agenthub.test"
    assert entry["DetailType"] == "ThingHappened"
    assert entry["EventBusName"] == "bus"
    assert detail["type"] == "ThingHappened"
    assert detail["schema_version"] == 1
    assert detail["tenant_id"] == "t1"
    assert len(detail["event_id"]) == 32
    assert detail["data"] == {"size": 0}


def test_an_event_without_its_own_payload_model_is_refused_at_definition():
    with pytest.raises(TypeError, match="must declare its payload"):

        class Untyped(DomainEvent):
            detail_type = "Untyped"
            source = "agenthub.test"


def test_a_payload_refuses_fields_it_does_not_declare():
    with pytest.raises(ValueError, match="extra"):
        ThingData.model_validate({"size": 1, "secret": "x"})


def test_only_failed_entries_are_retried():
    bus = FakeBus(fail_positions_per_call=[{1, 3}])
    EventPublisher("bus", put_events=bus.put_events, sleep=lambda s: None).publish(make(5))
    assert [len(c) for c in bus.calls] == [5, 2]
    assert bus.calls[1] == [bus.calls[0][1], bus.calls[0][3]]


def test_persistent_failure_raises_with_what_failed():
    bus = FakeBus(fail_positions_per_call=[{0}, {0}, {0}])
    publisher = EventPublisher("bus", put_events=bus.put_events, sleep=lambda s: None)
    with pytest.raises(EventPublishError) as caught:
        publisher.publish(make(2))
    assert len(bus.calls) == 3
    assert caught.value.status == 503
    assert caught.value.details == {"failed": 1, "errors": ["InternalFailure"]}


def test_transport_errors_are_retried_then_succeed():
    bus = FakeBus(raises=2)
    sleeps: list[float] = []
    EventPublisher("bus", put_events=bus.put_events, sleep=sleeps.append).publish(make(1))
    assert len(bus.calls) == 3
    assert sleeps == [0.05, 0.1]
