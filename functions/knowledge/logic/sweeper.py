"""Documents whose last ingestion attempt never finished: a worker that times out (or is
killed) cannot mark its document failed, and the queue's last redelivery then ends in the
DLQ with the document still ``processing``. A scheduled sweep marks such documents failed
with the reason ``processing_timeout`` (and DocumentFailed), so a tenant sees why and may
retry.

"Stuck" means ``processing`` and not touched for ``older_than``: every attempt sets
``updated_at`` when it starts, and one attempt cannot outlive the function's timeout, so the
default (30 minutes, six times the 5-minute timeout) never catches live work. The write is
conditional on the status and version read, so a document that finished meanwhile is left as
it is.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agenthub.errors import Conflict
from agenthub.events import Actor, utc_now_iso
from knowledge.dal import repository
from knowledge.models import DocumentFailed, DocumentFailedData, Failure

REASON = "processing_timeout"
SWEEPER = Actor(kind="system")


def sweep_stuck(now: datetime, older_than: timedelta) -> int:
    """Mark every document stuck in ``processing`` since before ``now - older_than`` failed;
    the number marked."""
    cutoff = (now - older_than).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    minutes = int(older_than.total_seconds() // 60)
    message = f"processing did not finish within {minutes} minutes; retry the document"
    marked = 0
    for doc in repository.stuck_documents(cutoff):
        event = DocumentFailed(
            tenant_id=doc.tenant_id,
            actor=SWEEPER,
            subject=f"document/{doc.id}",
            data=DocumentFailedData(
                agent_id=doc.agent_id, document_id=doc.id, reason=REASON, message=message
            ),
        )
        try:
            repository.update_document(
                doc,
                expected_statuses=("processing",),
                expected_version=doc.version,
                events=[event],
                status="failed",
                failure=Failure(reason=REASON, message=message),
                updated_at=utc_now_iso(),
            )
        except Conflict:
            continue  # finished, retried or deleted meanwhile
        marked += 1
    return marked
