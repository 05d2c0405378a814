"""Usage warnings by email: UsageThresholdReached (published by the ledger) comes back
through the bus and is mailed through SES to the tenant's billing address, once per event
(an SES failure leaves the message for a retry; a crash after sending may send it twice,
never zero times)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

from agenthub.clients import client
from agenthub.events import DeliveredEvent
from agenthub.observability import logger
from billing.dal import repository
from billing.logic.accounts import get_account
from billing.logic.ledger import KEEP_EVENT_IDS
from billing.models import UsageThresholdReachedData

EMAIL_CONSUMER = "billing-email"


def warning_text(data: UsageThresholdReachedData) -> tuple[str, str]:
    """(subject, body) of a warning."""
    if data.percent >= 100:
        subject = f"AgentHub: your included messages for {data.period} are used up"
        then = (
            "Visitors' messages are now refused until the next period or a plan change."
            if data.enforcement == "hard_stop"
            else "Further messages are billed as overage, up to your spend cap."
        )
    else:
        subject = f"AgentHub: {data.percent}% of your included messages for {data.period} used"
        then = "Consider a larger plan or overage with a spend cap before you run out."
    body = (
        f"Your agents answered {data.used} of the {data.included} messages your plan "
        f"includes in {data.period}.\n\n{then}\n"
    )
    return subject, body


def mail_warning(event: DeliveredEvent, sender: str) -> bool:
    """Mail the warning to the tenant's billing address; True when an email was sent."""
    data = event.view(UsageThresholdReachedData)
    if repository.event_consumed(event.tenant_id, EMAIL_CONSUMER, event.event_id):
        return False
    address = get_account(event.tenant_id).billing_email
    if address:
        subject, body = warning_text(data)
        mail = EmailMessage()
        mail["Subject"], mail["From"], mail["To"] = subject, sender, address
        mail.set_content(body)
        client("ses").send_raw_email(
            Source=sender, Destinations=[address], RawMessage={"Data": mail.as_bytes()}
        )
    else:
        logger().info("no billing email; warning not mailed", extra={"percent": data.percent})
    repository.mark_consumed(
        event.tenant_id, EMAIL_CONSUMER, event.event_id, datetime.now(UTC) + KEEP_EVENT_IDS
    )
    return bool(address)
