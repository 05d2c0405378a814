"""pynamodb items of the agents domain (stay inside dal/)."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, ListAttribute, NumberAttribute, UnicodeAttribute

from agenthub.table import TableItem


class AgentItem(TableItem, discriminator="agent"):
    tenant_id = UnicodeAttribute()
    agent_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    instructions = UnicodeAttribute(default="")
    model = UnicodeAttribute()
    temperature = NumberAttribute()
    greeting = UnicodeAttribute(default="")
    suggested_questions = ListAttribute(of=UnicodeAttribute, default=list)
    theme = JSONAttribute(default=dict)
    allowed_origins = ListAttribute(of=UnicodeAttribute, default=list)
    enabled_tools = ListAttribute(of=UnicodeAttribute, default=list)
    locale = UnicodeAttribute(default="en")
    handoff = JSONAttribute(default=dict)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
