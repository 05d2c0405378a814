from datetime import date

import pytest

from audit.logic import service


def eventbridge(detail, **overrides):
    envelope = {
        "version": "0",
        "id": "e1",
        "detail-type": "AgentCreated",
        "source": "agenthub.agents",
        "time": "2026-01-01T00:00:00Z",
        "detail": detail,
    }
    return {**envelope, **overrides}


DETAIL = {
    "event_id": "abc123",
    "tenant_id": "t1",
    "occurred_at": "2026-01-01T10:00:00.000000Z",
    "actor": {"kind": "api_key", "key_id": "k1", "role": "owner"},
    "subject": "agent/ag_1",
    "data": {"name": "Bot"},
    "type": "AgentCreated",
    "schema_version": 1,
}


def test_domain_event_becomes_an_entry():
    entry = service.entry_from_event(eventbridge(DETAIL))
    assert (entry.tenant_id, entry.type, entry.source) == ("t1", "AgentCreated", "agenthub.agents")
    assert entry.day == "2026-01-01"


@pytest.mark.parametrize(
    "event",
    [
        eventbridge(None),
        eventbridge("text"),
        eventbridge({**DETAIL, "tenant_id": ""}),
        eventbridge({k: v for k, v in DETAIL.items() if k != "tenant_id"}),
        eventbridge({**DETAIL, "occurred_at": "yesterday"}),
    ],
)
def test_events_that_can_never_be_entries_are_poison(event):
    with pytest.raises(service.PoisonEvent):
        service.entry_from_event(event)


def test_days_to_archive_are_past_retention_and_before_ttl():
    days = service.days_to_archive(date(2026, 4, 10), retention_days=90)
    # retention 90 days: 2026-01-09 is the newest day past it; a week of days back from there
    assert days[0] == "2026-01-09"
    assert days[-1] == "2026-01-03"
    assert len(days) == service.TTL_GRACE_DAYS


def test_archive_key_partitions_by_tenant_and_day():
    assert service.archive_key("t1", "2026-01-01") == "audit/tenant=t1/day=2026-01-01.jsonl"
