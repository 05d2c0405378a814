"""Notices and reminders, after the fact (never on the booking's request path).

Booking events reach the notifications queue through an EventBridge rule; one-time
EventBridge Scheduler schedules (``at(...)``, deleted after they fire) put reminder messages
on the same queue. For each message:

- BookingConfirmed / BookingRescheduled: an email to the visitor with the booking as an .ics
  invitation (METHOD:REQUEST; a move keeps the UID and raises SEQUENCE, so calendars update
  the entry), and the reminder schedule (re)created ``lead`` before the start. A reminder
  that would be due in the past is not created (status ``skipped``).
- BookingCancelled: a cancellation email (METHOD:CANCEL) for a booking that had been
  confirmed, and the reminder schedule deleted.
- A reminder: sent only if the booking is still confirmed and still starts when the
  reminder was made for; then ``reminder.status=sent`` and ReminderSent through the outbox.
  On the queue's last receive a failing send is recorded as ``failed`` (visible on the
  booking) instead of going around again.

Delivery is at least once, each email at most once per event: before sending, a notice is
claimed beside the booking (its domain event's id, or the reminder's start) with a conditional
write, and recorded as sent after SES took it. A redelivered message finds it sent and sends
nothing; a failed send gives the claim back for the retry; a claim whose sender died (older
than CLAIM_STALE_SECONDS, twice the function's timeout) is taken over, so a crash never loses
the email (it may then go twice, the one window left). Schedules are named per booking, so
they are never duplicated.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

from agenthub.clients import client
from agenthub.errors import NotFound
from agenthub.events import Actor, utc_now_iso
from scheduling.dal import repository
from scheduling.logic import clock, feeds
from scheduling.logic.availability import iso_z
from scheduling.models import Booking, Reminder, ReminderSent, ReminderSentPayload

SYSTEM = Actor(kind="system", key_id="notifier")
EARLIEST = timedelta(minutes=1)  # a reminder due sooner than this is not worth scheduling
CLAIM_STALE_SECONDS = 60  # twice the notifier's timeout: a claim this old lost its sender


@dataclass(frozen=True)
class NoticeSettings:
    sender: str
    queue_arn: str  # where reminders are delivered (this same queue)
    role_arn: str  # the role EventBridge Scheduler assumes to send to it
    lead: timedelta  # how long before the start a reminder goes out
    name_prefix: str  # schedule names: <prefix>-<booking id>
    max_receives: int


def handle(body: str, receive_count: int, settings: NoticeSettings) -> str:
    """Process one queue message; returns what was done (for logs and tests)."""
    message = json.loads(body)
    if message.get("kind") == "reminder":
        return _remind(message, receive_count, settings)
    detail = message.get("detail") or {}
    data = detail.get("data") or {}
    tenant_id, booking_id = detail.get("tenant_id"), data.get("booking_id")
    if not tenant_id or not booking_id:
        return "ignored"
    try:
        booking = repository.get_booking(tenant_id, booking_id)
    except NotFound:
        return "gone"
    notice_id = str(detail.get("event_id") or message.get("id") or "")
    return _on_booking_event(message.get("detail-type"), data, booking, notice_id, settings)


def _on_booking_event(
    kind: str | None,
    data: dict[str, Any],
    booking: Booking,
    notice_id: str,
    settings: NoticeSettings,
) -> str:
    if kind in ("BookingConfirmed", "BookingRescheduled"):
        if booking.status != "confirmed":
            return "not confirmed"
        subject = "Your booking is moved" if kind == "BookingRescheduled" else "Booking confirmed"
        sent = _send_once(settings, booking, notice_id, subject, method="REQUEST")
        return (
            ("notified" if sent else "already notified")
            + ", reminder "
            + _schedule_reminder(booking, settings)
        )
    if kind == "BookingCancelled":
        _delete_schedule(booking, settings)
        if data.get("by") in ("hold_expired", "hold_released"):
            return "hold ended"
        sent = _send_once(settings, booking, notice_id, "Booking cancelled", method="CANCEL")
        return "cancelled" if sent else "already notified"
    return "ignored"


def _send_once(
    settings: NoticeSettings, booking: Booking, notice_id: str, subject: str, *, method: str
) -> bool:
    """``_send`` unless this notice was sent (or is being sent) already; whether it sent."""
    tenant_id, booking_id = booking.tenant_id, booking.id
    now = time.time()
    if not repository.claim_notice(
        tenant_id, booking_id, notice_id, now=now, stale_after=CLAIM_STALE_SECONDS
    ):
        return False
    try:
        _send(settings, booking, subject, method=method)
    except Exception:
        repository.release_notice(tenant_id, booking_id, notice_id)
        raise
    repository.notice_sent(tenant_id, booking_id, notice_id, now=time.time())
    return True


def _send(settings: NoticeSettings, booking: Booking, subject: str, *, method: str) -> None:
    """One email with a text part and the booking as an .ics attachment (SES raw email)."""
    title = feeds.booking_title(booking)
    text = (
        f"{subject}: {title}\nWhen: {booking.start} to {booking.end} (UTC)\nBooking: {booking.id}\n"
    )
    mail = MIMEMultipart("mixed")
    mail["Subject"] = f"{subject}: {title}"
    mail["From"] = settings.sender
    mail["To"] = booking.visitor_email
    mail.attach(MIMEText(text, "plain", "utf-8"))
    ics = feeds.booking_ics(booking, method=method, title=title)
    part = MIMEApplication(ics.encode(), "ics")
    part.replace_header("Content-Type", f'text/calendar; method={method}; charset="utf-8"')
    part.add_header("Content-Disposition", "attachment", filename="booking.ics")
    mail.attach(part)
    client("ses").send_raw_email(
        Source=settings.sender,
        Destinations=[booking.visitor_email],
        RawMessage={"Data": mail.as_bytes()},
    )


def _schedule_name(booking: Booking, settings: NoticeSettings) -> str:
    return f"{settings.name_prefix}-{booking.id}"[:64]


def _delete_schedule(booking: Booking, settings: NoticeSettings) -> None:
    try:
        client("scheduler").delete_schedule(Name=_schedule_name(booking, settings))
    except Exception as exc:
        if type(exc).__name__ != "ResourceNotFoundException" and "NotFound" not in str(exc):
            raise


def _schedule_reminder(booking: Booking, settings: NoticeSettings) -> str:
    """(Re)create the booking's one reminder schedule; record it on the booking."""
    _delete_schedule(booking, settings)
    due = booking.start_at - settings.lead
    if due < clock.now() + EARLIEST:
        _record(booking, Reminder(status="skipped", due_at=iso_z(due), for_start=booking.start))
        return "skipped (would be in the past)"
    name = _schedule_name(booking, settings)
    message = {
        "kind": "reminder",
        "tenant_id": booking.tenant_id,
        "booking_id": booking.id,
        "for_start": booking.start,
    }
    client("scheduler").create_schedule(
        Name=name,
        ScheduleExpression=f"at({due.strftime('%Y-%m-%dT%H:%M:%S')})",
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={
            "Arn": settings.queue_arn,
            "RoleArn": settings.role_arn,
            "Input": json.dumps(message),
            "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600},
        },
    )
    reminder = Reminder(
        status="scheduled", due_at=iso_z(due), for_start=booking.start, schedule_name=name
    )
    _record(booking, reminder)
    return "scheduled"


def _record(booking: Booking, reminder: Reminder, events: list[Any] | None = None) -> None:
    """Store the reminder's state on the booking (a newer change of the booking wins)."""
    updated = booking.model_copy(
        update={"reminder": reminder, "version": booking.version + 1, "updated_at": utc_now_iso()}
    )
    # If the booking changed meanwhile, that change's own message records its state.
    with contextlib.suppress(repository.WriteRejected):
        repository.commit(
            repository.BookingWrite(
                booking=updated, expect=(booking.version,), events=list(events or [])
            )
        )


def _remind(message: dict[str, Any], receive_count: int, settings: NoticeSettings) -> str:
    try:
        booking = repository.get_booking(message["tenant_id"], message["booking_id"])
    except NotFound:
        return "gone"
    if booking.status != "confirmed" or booking.start != message.get("for_start"):
        return "stale reminder dropped"  # cancelled or moved: never remind
    if booking.reminder.status == "sent" and booking.reminder.for_start == booking.start:
        return "already sent"
    try:
        notice_id = f"reminder-{booking.start}"
        if not _send_once(settings, booking, notice_id, "Reminder", method="REQUEST"):
            return "already sent"
    except Exception as exc:
        if receive_count < settings.max_receives:
            raise  # the queue retries it
        failed = booking.reminder.model_copy(
            update={"status": "failed", "error": type(exc).__name__}
        )
        _record(booking, failed)
        return "failed"
    sent = booking.reminder.model_copy(
        update={"status": "sent", "sent_at": utc_now_iso(), "for_start": booking.start}
    )
    event = ReminderSent(
        tenant_id=booking.tenant_id,
        actor=SYSTEM,
        subject=f"booking/{booking.id}",
        data=ReminderSentPayload(booking_id=booking.id, start=booking.start),
    )
    _record(booking, sent, [event])
    return "reminded"
