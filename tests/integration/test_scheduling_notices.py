"""Booking notices and reminders through the real notifier handler under moto: SES emails
with an .ics attachment, one-time Scheduler schedules created with the booking and deleted
on cancel or move, reminders that never fire for a cancelled or moved booking or in the
past, their status on the booking, ReminderSent through the outbox; and the local runtime's
poller that fires due one-time schedules (moto stores them but never fires them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_string
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from infra.local import ACCOUNT_ID
from scheduling.logic import clock
from tests.integration import harness as h

S = h.SCHEDULING
NOTIFIER = "scheduling.handlers.on_notification"
# The template's notifier as provisioned: its sender (an SES identity of the stack), its
# queue and the prefix of its reminder schedules.
SENDER = h.template().parameters["NotificationSender"]
NOW = datetime(2031, 3, 1, 8, 0, tzinfo=UTC)
WEEKLY = {d: [{"start": "09:00", "end": "17:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture
def clinic(tenant: Callable[..., h.Tenant]) -> dict[str, Any]:
    clock.set_now(lambda: NOW)
    owner = tenant()
    agent = owner.agent()
    resource = h.api(
        S,
        "POST",
        "/v1/scheduling/resources",
        {"name": "Dr. Park", "time_zone": "UTC", "weekly": WEEKLY},
        caller=owner.owner,
    ).json
    event_type = h.api(
        S,
        "POST",
        "/v1/scheduling/event-types",
        {
            "agent_id": agent["id"],
            "resource_id": resource["id"],
            "name": "Check-up",
            "duration_minutes": 30,
            "min_notice_minutes": 0,
        },
        caller=owner.owner,
    ).json
    return {"tenant": owner, "event_type": event_type}


def _book(clinic: dict[str, Any], start: str) -> dict[str, Any]:
    body = {
        "event_type_id": clinic["event_type"]["id"],
        "start": start,
        "name": "Sam",
        "email": "sam@example.com",
    }
    response = h.api(
        S,
        "POST",
        "/v1/bookings",
        body,
        caller=clinic["tenant"].owner,
        headers={"Idempotency-Key": None},
    )
    assert response.status == 201, response
    return dict(response.json)


def _deliver(published: h.PublishedEvents, tenant_id: str, detail_type: str) -> Any:
    """What the notifications rule delivers: the event's EventBridge envelope, as SQS."""
    envelope = published.of(tenant_id, detail_type)[-1]
    return h.invoke(NOTIFIER, h.sqs_event([json.dumps(envelope)]))


def _sent() -> list[Any]:
    from moto.ses.models import ses_backends

    backend = ses_backends[ACCOUNT_ID][h.REGION]
    # raw messages only: other domains (handoff transcripts) send plain ones to the same SES
    raw = [m for m in backend.sent_messages if hasattr(m, "raw_data")]
    return [message_from_string(m.raw_data) for m in raw]


def _schedules() -> list[dict[str, Any]]:
    scheduler = h.aws_client("scheduler")
    return [
        scheduler.get_schedule(Name=s["Name"])
        for s in scheduler.list_schedules().get("Schedules", [])
        if s["Name"].startswith(h.world().environment["REMINDER_SCHEDULE_PREFIX"])
    ]


def _booking(clinic: dict[str, Any], booking_id: str) -> dict[str, Any]:
    return dict(h.api(S, "GET", f"/v1/bookings/{booking_id}", caller=clinic["tenant"].owner).json)


def _ics(mail: Any) -> str:
    parts = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert parts, "no .ics attachment"
    return str(parts[0].get_payload(decode=True).decode())


def test_a_confirmed_booking_gets_an_invitation_and_a_reminder_that_is_sent_once(
    clinic: dict[str, Any], published: h.PublishedEvents
) -> None:
    before = len(_sent())
    booking = _book(clinic, "2031-03-04T10:00:00Z")
    assert _deliver(published, clinic["tenant"].id, "BookingConfirmed") == {"batchItemFailures": []}
    mail = _sent()[before]
    assert mail["To"] == "sam@example.com" and mail["From"] == SENDER
    ics = _ics(mail)
    assert "METHOD:REQUEST" in ics and "DTSTART:20310304T100000Z" in ics
    (schedule,) = [s for s in _schedules() if booking["id"] in s["Name"]]
    assert schedule["ScheduleExpression"] == "at(2031-03-03T10:00:00)"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert _booking(clinic, booking["id"])["reminder"]["status"] == "scheduled"
    # When the schedule fires, its input arrives on the queue
    result = h.invoke(NOTIFIER, h.sqs_event([schedule["Target"]["Input"]]))
    assert result == {"batchItemFailures": []}
    reminder = _booking(clinic, booking["id"])["reminder"]
    assert reminder["status"] == "sent" and reminder["sent_at"]
    assert _sent()[-1]["Subject"].startswith("Reminder")
    assert published.of(clinic["tenant"].id, "ReminderSent")
    count = len(_sent())
    h.invoke(NOTIFIER, h.sqs_event([schedule["Target"]["Input"]]))  # redelivered
    assert len(_sent()) == count


def test_cancel_and_move_delete_the_reminder_and_an_old_one_never_fires(
    clinic: dict[str, Any], published: h.PublishedEvents
) -> None:
    tenant_id, owner = clinic["tenant"].id, clinic["tenant"].owner
    booking = _book(clinic, "2031-03-04T11:00:00Z")
    _deliver(published, tenant_id, "BookingConfirmed")
    (old,) = [s for s in _schedules() if booking["id"] in s["Name"]]
    moved = h.api(
        S,
        "POST",
        f"/v1/bookings/{booking['id']}/reschedule",
        {"start": "2031-03-05T11:00:00Z"},
        caller=owner,
        headers={"Idempotency-Key": None},
    )
    assert moved.status == 200, moved
    _deliver(published, tenant_id, "BookingRescheduled")
    (new,) = [s for s in _schedules() if booking["id"] in s["Name"]]
    assert new["ScheduleExpression"] == "at(2031-03-04T11:00:00)"
    before = len(_sent())
    h.invoke(NOTIFIER, h.sqs_event([old["Target"]["Input"]]))  # the old one, had it fired
    assert len(_sent()) == before
    h.api(S, "POST", f"/v1/bookings/{booking['id']}/cancel", {"reason": "x"}, caller=owner)
    _deliver(published, tenant_id, "BookingCancelled")
    assert not [s for s in _schedules() if booking["id"] in s["Name"]]
    assert "METHOD:CANCEL" in _ics(_sent()[-1])
    h.invoke(NOTIFIER, h.sqs_event([new["Target"]["Input"]]))  # cancelled: never reminded
    assert _sent()[-1]["Subject"].startswith("Booking cancelled")


def test_a_reminder_that_would_be_due_in_the_past_is_not_scheduled(
    clinic: dict[str, Any], published: h.PublishedEvents
) -> None:
    booking = _book(clinic, "2031-03-03T09:00:00Z")  # 25 h ahead... minus a day's lead
    clock.set_now(lambda: datetime(2031, 3, 2, 9, 30, tzinfo=UTC))
    _deliver(published, clinic["tenant"].id, "BookingConfirmed")
    assert not [s for s in _schedules() if booking["id"] in s["Name"]]
    assert _booking(clinic, booking["id"])["reminder"]["status"] == "skipped"


def test_the_local_poller_fires_due_one_time_schedules_once(aws: h.World) -> None:
    import threading

    from infra.local.scheduler_poller import OneTimeSchedules

    queue_arn = aws.environment["NOTIFICATIONS_QUEUE_ARN"]
    scheduler = h.aws_client("scheduler")
    for name, when in (("due-now", "2030-01-01T00:00:00"), ("later", "2039-01-01T00:00:00")):
        scheduler.create_schedule(
            Name=name,
            ScheduleExpression=f"at({when})",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={"Arn": queue_arn, "RoleArn": "arn:aws:iam::1:role/r", "Input": f'"{name}"'},
        )
    delivered: list[tuple[str, str]] = []
    poller = OneTimeSchedules(
        scheduler, lambda arn, body: delivered.append((arn, body)), threading.Event()
    )
    assert poller.tick(datetime(2031, 1, 1, tzinfo=UTC)) == 1
    assert poller.tick(datetime(2031, 1, 1, tzinfo=UTC)) == 0
    assert delivered == [(queue_arn, '"due-now"')]
    names = [s["Name"] for s in scheduler.list_schedules()["Schedules"]]
    assert "due-now" not in names and "later" in names
    scheduler.delete_schedule(Name="later")


def test_a_redelivered_booking_event_sends_its_email_once(
    clinic: dict[str, Any], published: h.PublishedEvents
) -> None:
    # Given a confirmed booking whose event was delivered and its email sent
    booking = _book(clinic, "2031-03-05T10:00:00Z")
    assert _deliver(published, clinic["tenant"].id, "BookingConfirmed") == {"batchItemFailures": []}
    count = len(_sent())
    # When the queue delivers the same event again (at least once)
    assert _deliver(published, clinic["tenant"].id, "BookingConfirmed") == {"batchItemFailures": []}
    # Then no second invitation goes out, and the reminder is still the one schedule
    assert len(_sent()) == count
    assert len([s for s in _schedules() if booking["id"] in s["Name"]]) == 1


def test_a_failed_send_is_retried_and_then_sent_once(
    clinic: dict[str, Any], published: h.PublishedEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scheduling.logic import notices

    _book(clinic, "2031-03-06T10:00:00Z")
    real_send = notices._send

    def ses_down(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("SES unavailable")

    # Given SES failing on the first delivery: the batch fails, the message goes back
    monkeypatch.setattr(notices, "_send", ses_down)
    with pytest.raises(BatchProcessingError):
        _deliver(published, clinic["tenant"].id, "BookingConfirmed")
    count = len(_sent())
    # When the retry finds SES back, the email goes out (the claim was given back)
    monkeypatch.setattr(notices, "_send", real_send)
    assert _deliver(published, clinic["tenant"].id, "BookingConfirmed") == {"batchItemFailures": []}
    assert len(_sent()) == count + 1
    # And a third delivery sends nothing
    assert _deliver(published, clinic["tenant"].id, "BookingConfirmed") == {"batchItemFailures": []}
    assert len(_sent()) == count + 1


def test_a_claim_whose_sender_died_is_taken_over_so_the_email_is_not_lost(
    clinic: dict[str, Any], published: h.PublishedEvents
) -> None:
    import time

    from scheduling.dal import repository
    from scheduling.logic import notices

    booking = _book(clinic, "2031-03-07T10:00:00Z")
    envelope = published.of(clinic["tenant"].id, "BookingConfirmed")[-1]
    event_id = envelope["detail"]["event_id"]
    tenant_id = clinic["tenant"].id
    # Given a delivery that claimed the notice and died before sending (a fresh claim holds)
    assert repository.claim_notice(
        tenant_id, booking["id"], event_id, now=time.time(), stale_after=60
    )
    count = len(_sent())
    assert _deliver(published, tenant_id, "BookingConfirmed") == {"batchItemFailures": []}
    assert len(_sent()) == count
    # When the claim is older than the stale bound, the next delivery takes it over and sends
    stale = time.time() - notices.CLAIM_STALE_SECONDS - 5
    assert not repository.claim_notice(
        tenant_id, booking["id"], event_id, now=time.time(), stale_after=60
    )
    repository.release_notice(tenant_id, booking["id"], event_id)
    assert repository.claim_notice(tenant_id, booking["id"], event_id, now=stale, stale_after=60)
    assert _deliver(published, tenant_id, "BookingConfirmed") == {"batchItemFailures": []}
    assert len(_sent()) == count + 1
