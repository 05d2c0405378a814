"""pynamodb items of the audit domain (stay inside dal/)."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute

from agenthub.table import TableItem


class AuditItem(TableItem, discriminator="audit"):
    tenant_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    source = UnicodeAttribute()
    occurred_at = UnicodeAttribute()
    actor = JSONAttribute(default=dict)
    subject = UnicodeAttribute(default="")
    data = JSONAttribute(default=dict)


class JobMarkerItem(TableItem, discriminator="job_marker"):
    """A finished unit of a scheduled job (e.g. one archived day), so re-runs skip it."""

    finished_at = UnicodeAttribute()
    detail = JSONAttribute(default=dict)
